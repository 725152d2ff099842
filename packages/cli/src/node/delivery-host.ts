/**
 * Delivery streams inside a node: the Firehose operations on the Kinesis HTTP port
 * (X-Amz-Target Firehose_20150804.*) and the delivery runner, both clients of this node's own
 * public gRPC port. The runner starts once the public API is ready. Off when the node serves
 * its public ports with TLS or authentication (the in-node client does not carry credentials
 * yet) or when SLUICE_DELIVERY=off.
 *
 * Environment: SLUICE_DELIVERY_S3_ENDPOINT, _S3_REGION, _S3_ACCESS_KEY_ID, _S3_SECRET_ACCESS_KEY
 * (where Firehose `arn:aws:s3:::` buckets live); SLUICE_DELIVERY_SESSION_TIMEOUT_MS (the
 * delivery groups' session timeout: how soon a dead node's shards move).
 */
import { grpcGroupTransport, SluiceClient } from "@sluice/client";
import { DeliveryRunner, FIREHOSE_TARGET_PREFIX, FirehoseApi } from "@sluice/delivery";
import { registerTargetHandler } from "@sluice/gateway";
import { formatHostPort, type NodeConfig } from "./config.js";
import type { Logger } from "./logger.js";

/** How long a stopping node waits for its delivery workers to flush and leave their groups. */
const DELIVERY_STOP_TIMEOUT_MS = 5_000;

export interface DeliveryHost {
  /** Starts the runner (call when the public API is ready). */
  start(): void;
  stop(): Promise<void>;
  /** Flat metrics: delivery_<name>_<metric>. */
  metrics(): Record<string, number>;
  /** The same in the Prometheus text format, `sluice_delivery_<metric>{delivery="<name>"}`. */
  prometheusText(): string;
}

/** Prometheus families of the delivery metrics: name, type, help. */
const PROMETHEUS_FAMILIES = [
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
  if (config.tls !== undefined || config.auth.keysFile !== undefined || config.auth.keysText !== undefined) {
    log.info(
      "delivery streams are off: the node serves TLS or authentication, which the in-node client does not carry yet",
    );
    return undefined;
  }
  const endpoint = formatHostPort(config.grpcListen)
    .replace(/^0\.0\.0\.0:/, "127.0.0.1:")
    .replace(/^\[::\]:/, "127.0.0.1:");
  const client = new SluiceClient({ endpoints: [endpoint] });
  const transport = grpcGroupTransport([endpoint]);
  const sessionTimeoutMs = Number(env.SLUICE_DELIVERY_SESSION_TIMEOUT_MS ?? "");
  const runner = new DeliveryRunner({
    client,
    transport,
    memberIdPrefix: `node-${config.nodeId}`,
    ...(Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0 ? { sessionTimeoutMs } : {}),
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
      api.handle(request.operation, request.document),
    );
  } catch (error) {
    // Another node in this process serves it already (in-process tests); its API works for the cluster too.
    log.warn("Firehose API registered already in this process", { error: String(error) });
  }
  return {
    start: () => runner.start(),
    stop: async () => {
      unregister();
      // Bounded: with the cluster stopping too, leaving the groups may wait for a quorum that is gone.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        runner.stop(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, DELIVERY_STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      transport.close();
      client.close();
    },
    prometheusText: () => {
      const snapshots = Object.entries(runner.metrics());
      if (snapshots.length === 0) return "";
      const lines: string[] = [];
      for (const [field, name, type, help] of PROMETHEUS_FAMILIES) {
        lines.push(`# HELP sluice_delivery_${name} ${help}`, `# TYPE sluice_delivery_${name} ${type}`);
        for (const [delivery, snapshot] of snapshots) {
          lines.push(`sluice_delivery_${name}{delivery="${delivery}"} ${snapshot[field]}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
    metrics: () => {
      const out: Record<string, number> = {};
      for (const [name, snapshot] of Object.entries(runner.metrics())) {
        for (const [metric, value] of Object.entries(snapshot)) {
          out[`delivery_${name}_${metric.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`] = value;
        }
      }
      return out;
    },
  };
}
