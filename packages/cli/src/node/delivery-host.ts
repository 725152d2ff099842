/**
 * Delivery streams inside a node: the Firehose operations on the Kinesis HTTP port
 * (X-Amz-Target Firehose_20150804.*) and the delivery runner, both clients of this node's own
 * public gRPC port. The runner starts once the public API is ready. Off when SLUICE_DELIVERY=off.
 *
 * On a secure node the in-node clients speak as any client must: over TLS, trusting the node's
 * configured CA (--tls-ca, else the peer CA) and checking the node's certificate by a name it
 * carries (the loopback address when the certificate names it, as `sluice certs init`'s do,
 * else its first DNS name); and with authentication on, as the internal principal
 * `sluice:internal` (auth.ts `internalCredentialsOf`), whose key never leaves this process.
 * The Firehose operations are authorized for their caller by the HTTP layer; creating a delivery
 * stream that reads a Kinesis stream also needs the caller's kinesis:GetRecords on it.
 *
 * Environment: SLUICE_DELIVERY_S3_ENDPOINT, _S3_REGION, _S3_ACCESS_KEY_ID, _S3_SECRET_ACCESS_KEY
 * (where Firehose `arn:aws:s3:::` buckets live); SLUICE_DELIVERY_SESSION_TIMEOUT_MS (the
 * delivery groups' session timeout: how soon a dead node's shards move).
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { grpcGroupTransport, SluiceClient, type SluiceClientTls } from "@sluice/client";
import { DeliveryRunner, FIREHOSE_TARGET_PREFIX, FirehoseApi } from "@sluice/delivery";
import { registerTargetHandler } from "@sluice/gateway";
import { internalCredentialsOf } from "./auth.js";
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
  const { endpoint, tls } = inNodeEndpoint(config);
  const credentials = internalCredentialsOf(config.auth);
  const security = {
    ...(tls === undefined ? {} : { tls }),
    ...(credentials === undefined ? {} : { credentials }),
  };
  const client = new SluiceClient({ endpoints: [endpoint], ...security });
  const transport = grpcGroupTransport([endpoint], security);
  if (tls !== undefined || credentials !== undefined) {
    log.info("delivery streams: in-node clients", {
      endpoint,
      tls: tls === undefined ? "off" : (tls.serverName ?? "by address"),
      principal: credentials === undefined ? "anonymous" : "sluice:internal",
    });
  }
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
      api.handle(request.operation, request.document, { authorize: request.authorize }),
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

/**
 * Where the in-node clients dial this node's public gRPC port, and their TLS options when the
 * node serves TLS: the CA is --tls-ca, else the peer CA, else the system's; the certificate is
 * checked against the address dialed when it names it, else against its first DNS name. The CA
 * is read once: after replacing the CA itself (not a node certificate), restart the node.
 */
export function inNodeEndpoint(config: NodeConfig): { endpoint: string; tls: SluiceClientTls | undefined } {
  const { host, port } = config.grpcListen;
  const dialHost = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  const endpoint = formatHostPort({ host: dialHost, port });
  if (config.tls === undefined) return { endpoint, tls: undefined };
  const caFile = config.tls.caFile ?? config.peerTls?.caFile;
  const ca = caFile === undefined ? undefined : readFileSync(caFile);
  const serverName = certificateNameFor(readFileSync(config.tls.certFile), dialHost);
  return {
    endpoint,
    tls: {
      ...(ca === undefined ? {} : { ca }),
      ...(serverName === undefined ? {} : { serverName }),
    },
  };
}

/**
 * The name to check the node's certificate (PEM chain, leaf first) against when dialed at
 * `dialHost`: undefined when the certificate names `dialHost` itself, else its first DNS name (a
 * wildcard's `*` made a label), else its common name.
 */
export function certificateNameFor(chain: Buffer, dialHost: string): string | undefined {
  const certificate = new X509Certificate(chain);
  const covered = isIP(dialHost) === 0 ? certificate.checkHost(dialHost) : certificate.checkIP(dialHost);
  if (covered !== undefined) return undefined;
  const dns = (certificate.subjectAltName ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .find((entry) => entry.startsWith("DNS:"));
  if (dns !== undefined) return dns.slice("DNS:".length).replace(/^\*\./, "node.");
  return /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
}
