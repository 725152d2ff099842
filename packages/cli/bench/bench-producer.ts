/**
 * The producer benchmark of issue #7: on one real three-node cluster (started by @sluice/harness
 * on loopback, sync on), the raw PutRecords load of the streams benchmark (bench-streams.ts:
 * 8 closed-loop callers × 500 × 1 KiB records, random keys, 16-shard ON_DEMAND stream, callers
 * spread over the three nodes) and then @sluice/client's Producer with its default settings
 * (one SluiceClient over the three endpoints; the caller keeps the producer's buffer full with
 * `await waitForSpace(); send(…)`), on the same stream, for the same time. Prints records/s of
 * each and the ratio (issue #7's target: ≥ 90%), writes JSON to bench-results/. With
 * `--idempotent`, each round also runs the Producer with `idempotent: true` (otherwise default
 * settings) and prints its rate and ratio to the raw load.
 *
 *   scripts/bench-producer [--seconds 10] [--base-port 19940] [--producers 8] [--rounds 1] [--idempotent]
 *
 * Run with Node's type stripping after `pnpm tsc -b` (scripts/bench-producer does).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SluiceClient } from "@sluice/client";
import { StreamsCallError, startCluster, type TestCluster } from "@sluice/harness";
import { streams } from "@sluice/proto";

const BATCH_RECORDS = 500;
const RECORD_BYTES = 1_024;
const KEY_POOL_SIZE = 65_536;
const SHARDS = 16;
const WARM_UP_SECONDS = 2;
const TARGET_RATIO = 0.9;

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    "base-port": { type: "string", default: "19940" },
    producers: { type: "string", default: "8" },
    rounds: { type: "string", default: "1" },
    idempotent: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const basePort = Number(values["base-port"]);
const callerCount = Number(values.producers);
const rounds = Number(values.rounds);
const alsoIdempotent = values.idempotent === true;
if (!(seconds > 0) || !(rounds >= 1)) throw new Error("--seconds and --rounds must be positive");

const keyPool = Array.from({ length: KEY_POOL_SIZE }, () => randomBytes(12).toString("base64url"));
const randomKey = (): string => keyPool[Math.floor(Math.random() * KEY_POOL_SIZE)] ?? "key";
const payload = randomBytes(RECORD_BYTES);

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** The raw load of bench-streams.ts: closed-loop PutRecords of 500 records from `callerCount` callers. */
async function rawPutRecords(
  cluster: TestCluster,
  streamName: string,
  durationSeconds: number,
): Promise<{ records: number; failed: number; elapsedSeconds: number }> {
  let records = 0;
  let failed = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationSeconds * 1_000;
  await Promise.all(
    Array.from({ length: callerCount }, async (_, caller) => {
      const client = cluster.streams(cluster.nodeIds[caller % cluster.nodeIds.length] ?? 1);
      while (performance.now() < endAt) {
        const batch = Array.from({ length: BATCH_RECORDS }, () => ({
          partitionKey: randomKey(),
          data: payload,
          explicitHashKey: "",
        }));
        try {
          const response = await client.putRecords({ streamName, records: batch }, 30_000);
          records += BATCH_RECORDS - response.failedRecordCount;
          failed += response.failedRecordCount;
        } catch (error) {
          if (!(error instanceof StreamsCallError)) throw error;
          failed += BATCH_RECORDS;
        }
      }
    }),
  );
  return { records, failed, elapsedSeconds: (performance.now() - startedAt) / 1_000 };
}

/**
 * The SDK's producer with default settings (`idempotent` aside), kept busy for `durationSeconds`;
 * counts acknowledged records.
 */
async function producerLoad(
  client: SluiceClient,
  streamName: string,
  durationSeconds: number,
  idempotent = false,
): Promise<{ records: number; failed: number; elapsedSeconds: number; requests: number; retried: number }> {
  const producer = client.producer({ streamName, idempotent });
  let records = 0;
  let failed = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationSeconds * 1_000;
  const onAck = () => {
    if (performance.now() <= endAt) records++;
  };
  const onFail = () => {
    failed++;
  };
  while (performance.now() < endAt) {
    await producer.waitForSpace();
    for (let index = 0; index < 64; index++)
      producer.send({ partitionKey: randomKey(), data: payload }).then(onAck, onFail);
  }
  const elapsedSeconds = (performance.now() - startedAt) / 1_000;
  await producer.close();
  const stats = producer.stats();
  return { records, failed, elapsedSeconds, requests: stats.requests, retried: stats.retried };
}

const cluster = await startCluster({ basePort, startTimeoutMs: 60_000 });
const client = new SluiceClient({
  endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
});
const rows: Record<string, unknown>[] = [];
try {
  const streamName = "bench-producer";
  await client.createStream({
    streamName,
    shardCount: SHARDS,
    streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
  });
  await client.waitForStreamStatus(streamName, { timeoutMs: 120_000 });
  for (const nodeId of cluster.nodeIds)
    await cluster
      .streams(nodeId)
      .waitStreamStatus(streamName, streams.StreamStatus.STREAM_STATUS_ACTIVE, 60_000);
  log(`warm-up ${WARM_UP_SECONDS} s each`);
  await rawPutRecords(cluster, streamName, WARM_UP_SECONDS);
  await producerLoad(client, streamName, WARM_UP_SECONDS);
  for (let round = 1; round <= rounds; round++) {
    log(
      `round ${round}: raw PutRecords ${callerCount} callers × ${BATCH_RECORDS} × ${RECORD_BYTES} B, ${seconds} s`,
    );
    const raw = await rawPutRecords(cluster, streamName, seconds);
    log(`round ${round}: producer (defaults), ${seconds} s`);
    const sdk = await producerLoad(client, streamName, seconds);
    let idempotent: Awaited<ReturnType<typeof producerLoad>> | undefined;
    if (alsoIdempotent) {
      log(`round ${round}: producer (idempotent), ${seconds} s`);
      idempotent = await producerLoad(client, streamName, seconds, true);
    }
    const rawRate = raw.records / raw.elapsedSeconds;
    const sdkRate = sdk.records / sdk.elapsedSeconds;
    const idempotentRate =
      idempotent === undefined ? undefined : idempotent.records / idempotent.elapsedSeconds;
    rows.push({
      round,
      rawRecordsPerSecond: Math.round(rawRate),
      producerRecordsPerSecond: Math.round(sdkRate),
      ratio: Number((sdkRate / rawRate).toFixed(3)),
      target: `≥ ${TARGET_RATIO}`,
      rawFailed: raw.failed,
      producerFailed: sdk.failed,
      producerRequests: sdk.requests,
      producerRetried: sdk.retried,
      ...(idempotent === undefined || idempotentRate === undefined
        ? {}
        : {
            idempotentRecordsPerSecond: Math.round(idempotentRate),
            idempotentRatio: Number((idempotentRate / rawRate).toFixed(3)),
            idempotentFailed: idempotent.failed,
            idempotentRequests: idempotent.requests,
          }),
    });
  }
} finally {
  client.close();
  await cluster.stop();
}
console.table(rows);
const output = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  seconds,
  callers: callerCount,
  idempotent: alsoIdempotent,
  rows,
};
mkdirSync("bench-results", { recursive: true });
const file = join("bench-results", `bench-producer-${Date.now()}.json`);
writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
log(`wrote ${file}`);
