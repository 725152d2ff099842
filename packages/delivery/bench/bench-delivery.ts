/// <reference path="../test/s3rver.d.ts" />
/**
 * The delivery-stream benchmark of issue #13: a three-node cluster on loopback, an ON_DEMAND
 * source stream loaded by `--callers` PutRecords callers (500 × `--record-bytes` each) for
 * `--seconds`, delivered to each destination in turn (files in a temporary folder, then S3 on an
 * s3rver started here). Prints, per destination: records/s and MB/s delivered (from the start of
 * the load until the last record landed), the input rate, and freshness p50/p99 (the age of the
 * oldest undelivered record, sampled from every node's metrics every 250 ms).
 *   ./scripts/bench-delivery [--seconds 10] [--base-port 20300] [--callers 8] [--record-bytes 1024] [--shards 8]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { SluiceClient } from "@sluice/client";
import { DefinitionStore, type DeliveryDestination } from "@sluice/delivery";
import { startCluster, type TestCluster } from "@sluice/harness";
import { streams } from "@sluice/proto";
import S3rver from "s3rver";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    "base-port": { type: "string", default: "20300" },
    callers: { type: "string", default: "8" },
    "record-bytes": { type: "string", default: "1024" },
    shards: { type: "string", default: "8" },
  },
});
const SECONDS = Number(values.seconds);
const BASE_PORT = Number(values["base-port"]);
const CALLERS = Number(values.callers);
const RECORD_BYTES = Number(values["record-bytes"]);
const SHARDS = Number(values.shards);
const S3_PORT = BASE_PORT + 90;
const MB = 1_000_000;

function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function metricSum(
  cluster: TestCluster,
  name: string,
  metric: string,
  reduce: "sum" | "max",
): Promise<number> {
  let total = 0;
  for (const nodeId of cluster.runningNodeIds()) {
    const status = await cluster
      .admin(nodeId)
      .nodeStatus()
      .catch(() => undefined);
    const value = status?.metrics[`delivery_${name}_${metric}`] ?? 0;
    total = reduce === "sum" ? total + value : Math.max(total, value);
  }
  return total;
}

async function run(
  cluster: TestCluster,
  client: SluiceClient,
  label: string,
  destination: DeliveryDestination,
): Promise<void> {
  const streamName = `bench-${label}`;
  await client.createStream({
    streamName,
    shardCount: SHARDS,
    streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
  });
  await client.waitForStreamStatus(streamName, { timeoutMs: 60_000 });
  const name = `bench-${label}`;
  await new DefinitionStore({ client }).create({
    name,
    source: { kind: "stream", streamName },
    destination,
    bufferSizeBytes: 8 * 1_048_576,
    bufferIntervalMs: 1_000,
  });
  const data = Buffer.alloc(RECORD_BYTES, 120);
  let put = 0;
  let putting = true;
  const startedAt = Date.now();
  const loaders = Array.from({ length: CALLERS }, async (_, caller) => {
    let n = 0;
    while (putting) {
      const records = Array.from({ length: 500 }, () => ({
        partitionKey: `${caller}-${n++}`,
        data,
        explicitHashKey: "",
      }));
      const response = await client.putRecords(
        streams.PutRecordsRequest.fromPartial({ streamName, records }),
      );
      put += response.records.filter((entry) => entry.errorCode === "").length;
    }
  });
  const freshness: number[] = [];
  const sampler = setInterval(() => {
    void metricSum(cluster, name, "freshness_ms", "max").then((value) => freshness.push(value));
  }, 250);
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
  putting = false;
  await Promise.all(loaders);
  const loadSeconds = (Date.now() - startedAt) / 1_000;
  let delivered = await metricSum(cluster, name, "records_delivered", "sum");
  while (delivered < put && Date.now() - startedAt < (SECONDS + 120) * 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    delivered = await metricSum(cluster, name, "records_delivered", "sum");
  }
  clearInterval(sampler);
  const seconds = (Date.now() - startedAt) / 1_000;
  const bytes = await metricSum(cluster, name, "bytes_delivered", "sum");
  console.log(
    `${label.padEnd(6)} input ${(put / loadSeconds).toFixed(0)} rec/s ${((put * RECORD_BYTES) / loadSeconds / MB).toFixed(1)} MB/s | ` +
      `delivered ${delivered}/${put} in ${seconds.toFixed(1)} s: ${(delivered / seconds).toFixed(0)} rec/s ${(bytes / seconds / MB).toFixed(1)} MB/s | ` +
      `freshness p50 ${percentile(freshness, 0.5)} ms p99 ${percentile(freshness, 0.99)} ms`,
  );
}

const cluster = await startCluster({ basePort: BASE_PORT });
const client = new SluiceClient({
  endpoints: cluster.nodeIds.map((n) => `127.0.0.1:${cluster.ports(n).grpc}`),
});
const directory = mkdtempSync(join(tmpdir(), "sluice-bench-delivery-"));
const s3Directory = mkdtempSync(join(tmpdir(), "sluice-bench-s3-"));
const s3Server = new S3rver({ port: S3_PORT, address: "127.0.0.1", silent: true, directory: s3Directory });
try {
  console.log(
    `bench-delivery: 3 nodes, ${SHARDS} shards, ${CALLERS} callers × 500 × ${RECORD_BYTES} B for ${SECONDS} s`,
  );
  await run(cluster, client, "files", { kind: "files", directory, prefix: "", errorPrefix: "errors/" });
  await s3Server.run();
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${S3_PORT}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  s3.destroy();
  await run(cluster, client, "s3", {
    kind: "s3",
    bucket: "bench",
    prefix: "",
    errorPrefix: "errors/",
    endpoint: `http://127.0.0.1:${S3_PORT}`,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
  });
} finally {
  client.close();
  await cluster.stop();
  await s3Server.close().catch(() => {});
  rmSync(directory, { recursive: true, force: true });
  rmSync(s3Directory, { recursive: true, force: true });
}
