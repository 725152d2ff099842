/**
 * Delivery streams inside a node: the Firehose operations on the Kinesis HTTP port
 * (X-Amz-Target Firehose_20150804.*) and the delivery runner, both clients of this node's own
 * public gRPC port. The runner starts once the public API is ready. Off when SLUICE_DELIVERY=off.
 *
 * On a secure node the in-node clients speak over TLS and, with authentication on, as the
 * internal principal `sluice:internal` (in-node-clients.ts).
 * The Firehose operations are authorized for their caller by the HTTP layer; creating a delivery
 * stream that reads a Kinesis stream also needs the caller's kinesis:GetRecords on it.
 *
 * Environment: SLUICE_DELIVERY_S3_ENDPOINT, _S3_REGION, _S3_ACCESS_KEY_ID, _S3_SECRET_ACCESS_KEY
 * (where Firehose `arn:aws:s3:::` buckets live); SLUICE_DELIVERY_SESSION_TIMEOUT_MS (the
 * delivery groups' session timeout: how soon a dead node's shards move).
 */
import {
  type DeliveryMetricsSnapshot,
  DeliveryRunner,
  FIREHOSE_TARGET_PREFIX,
  FirehoseApi,
} from "@sluice/delivery";
import { registerTargetHandler } from "@sluice/gateway";
import type { NodeConfig } from "./config.js";
import { openInNodeClients } from "./in-node-clients.js";
import type { Logger } from "./logger.js";
import { type PrometheusFamily, type RunnerHost, runnerHost, sessionTimeoutOf } from "./runner-host.js";

// Kept importable from here, where they were first.
export { certificateNameFor, inNodeEndpoint } from "./in-node-clients.js";

/** How long a stopping node waits for its delivery workers to flush and leave their groups. */
const DELIVERY_STOP_TIMEOUT_MS = 5_000;

/**
 * Flat metrics `delivery_<name>_<metric>`; in the Prometheus text format
 * `sluice_delivery_<metric>{delivery="<name>"}`.
 */
export type DeliveryHost = RunnerHost;

/** Prometheus families of the delivery metrics: field, name, type, help. */
const PROMETHEUS_FAMILIES: readonly PrometheusFamily<DeliveryMetricsSnapshot>[] = [
  ["recordsDelivered", "records_delivered_total", "counter", "Records written to the destination"],
  [
    "bytesDelivered",
    "bytes_delivered_total",
    "counter",
    "Bytes (before compression) written to the destination",
  ],
  [
    "batchesDelivered",
    "batches_delivered_total",
    "counter",
    "Batches written (files, objects, transactions)",
  ],
  ["failures", "failures_total", "counter", "Refused destination writes (each retried)"],
  ["recordsFailed", "records_failed_total", "counter", "Records sent to the error output"],
  ["deliveryLatencyMsP50", "delivery_latency_ms_p50", "gauge", "Median time from buffered to acknowledged"],
  ["deliveryLatencyMsP99", "delivery_latency_ms_p99", "gauge", "p99 time from buffered to acknowledged"],
  ["freshnessMs", "freshness_ms", "gauge", "Age of the oldest record read and not yet delivered"],
  ["bufferedRecords", "buffered_records", "gauge", "Records buffered on this node"],
] as const;

export function openDeliveryHost(config: NodeConfig, log: Logger): DeliveryHost | undefined {
  const env = process.env;
  if (env.SLUICE_DELIVERY === "off") return undefined;
  const clients = openInNodeClients(config);
  const { client, transport, endpoint, tls, credentials } = clients;
  if (tls !== undefined || credentials !== undefined) {
    log.info("delivery streams: in-node clients", {
      endpoint,
      tls: tls === undefined ? "off" : (tls.serverName ?? "by address"),
      principal: credentials === undefined ? "anonymous" : "sluice:internal",
    });
  }
  const runner = new DeliveryRunner({
    client,
    transport,
    memberIdPrefix: `node-${config.nodeId}`,
    ...sessionTimeoutOf(env.SLUICE_DELIVERY_SESSION_TIMEOUT_MS),
    onError: (error, context) => log.warn("delivery", { ...context, error: String(error) }),
  });
  const api = new FirehoseApi({
    client,
    store: runner.store,
    s3: {
      ...(env.SLUICE_DELIVERY_S3_ENDPOINT ? { endpoint: env.SLUICE_DELIVERY_S3_ENDPOINT } : {}),
      ...(env.SLUICE_DELIVERY_S3_REGION ? { region: env.SLUICE_DELIVERY_S3_REGION } : {}),
      ...(env.SLUICE_DELIVERY_S3_ACCESS_KEY_ID ? { accessKeyId: env.SLUICE_DELIVERY_S3_ACCESS_KEY_ID } : {}),
      ...(env.SLUICE_DELIVERY_S3_SECRET_ACCESS_KEY
        ? { secretAccessKey: env.SLUICE_DELIVERY_S3_SECRET_ACCESS_KEY }
        : {}),
    },
  });
  let unregister: () => void = () => {};
  try {
    unregister = registerTargetHandler(FIREHOSE_TARGET_PREFIX, (request) =>
      api.handle(request.operation, request.document, { authorize: request.authorize }),
    );
  } catch (error) {
    // Another node in this process serves it already (in-process tests); its API works for the cluster too.
    log.warn("Firehose API registered already in this process", { error: String(error) });
  }
  return runnerHost({
    runner,
    clients,
    metricPrefix: "delivery",
    label: "delivery",
    families: PROMETHEUS_FAMILIES,
    stopTimeoutMs: DELIVERY_STOP_TIMEOUT_MS,
    beforeStop: () => unregister(),
  });
}
