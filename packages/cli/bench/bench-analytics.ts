/**
 * The stream-analytics benchmark of issue #14: a 1-minute tumbling COUNT(*) per key over 10,000
 * keys (`SELECT k, COUNT(*) … GROUP BY TUMBLE(approximate_arrival_time, INTERVAL '1' MINUTE), k`).
 * Three measurements, so the limit shows where it is:
 *   1. engine: the query engine alone in this process over generated records (CPU ceiling of
 *      parsing JSON and folding, no I/O);
 *   2. preloaded: a real three-node cluster (sync on) holding `--preload` records before the
 *      application is created; records/s the application processes from creation until its
 *      records-in counter reaches them all (read, fold, snapshots — no producer competing);
 *   3. live: `--callers` closed-loop PutRecords callers (500 records each) write for `--seconds`
 *      while the application runs; prints the input rate the cluster took and the rate the
 *      application kept up with (records processed over the same time, and its lag at the end).
 * Prints a table and writes JSON to bench-results/. Issue #14's target: 50,000 records/s.
 *
 *   scripts/bench-analytics [--seconds 15] [--preload 200000] [--callers 8] [--record-bytes 100] [--base-port 21120]
 *
 * Run with Node's type stripping after `pnpm tsc -b` (scripts/bench-analytics does).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ApplicationStore, planQuery, QueryEngine, rowOf } from "@sluice/analytics";
import { SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster } from "@sluice/harness";
import { streams } from "@sluice/proto";

const KEYS = 10_000;
const BATCH_RECORDS = 500;
const SHARDS = 8;
const ENGINE_RECORDS = 500_000;
const TARGET_RECORDS_PER_SECOND = 50_000;

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    preload: { type: "string", default: "200000" },
    callers: { type: "string", default: "8" },
    "record-bytes": { type: "string", default: "100" },
    "base-port": { type: "string", default: "21120" },
  },
});
const seconds = Number(values.seconds);
const preload = Number(values.preload);
const callers = Number(values.callers);
const recordBytes = Number(values["record-bytes"]);
const basePort = Number(values["base-port"]);
if (!(seconds > 0) || !(preload >= 0) || !(callers >= 1))
  throw new Error("--seconds, --preload and --callers must be positive");

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Record i: a JSON object with its key, padded to about --record-bytes. */
function record(i: number): { partitionKey: string; data: Buffer } {
  const k = `key-${i % KEYS}`;
  const base = JSON.stringify({ k, i, pad: "" });
  const pad = "x".repeat(Math.max(0, recordBytes - base.length));
  return { partitionKey: k, data: Buffer.from(JSON.stringify({ k, i, pad })) };
}

const SQL = (stream: string) =>
  `SELECT k, COUNT(*) AS n FROM "${stream}" GROUP BY TUMBLE(approximate_arrival_time, INTERVAL '1' MINUTE), k`;

function engineRate(): number {
  const engine = new QueryEngine(planQuery(SQL("s")));
  const rows = Array.from({ length: 10_000 }, (_, i) => record(i));
  const started = performance.now();
  for (let i = 0; i < ENGINE_RECORDS; i++) {
    const r = rows[i % rows.length] as { partitionKey: string; data: Buffer };
    engine.add(rowOf({ ...r, sequenceNumber: String(i), approximateArrivalTimestampMs: i }));
  }
  return ENGINE_RECORDS / ((performance.now() - started) / 1_000);
}

/**
 * Records made once and sent again in turn (RECORD_POOL_SIZE of them, every key twice), so the
 * producers' own CPU goes to sending, not to building JSON: on this 2-core machine the benchmark
 * process shares the cores with the cluster it measures.
 */
const RECORD_POOL_SIZE = 2 * KEYS;
let recordPool: streams.PutRecordsRequestEntry[] | undefined;

/** Record i, from the pool. */
function pooledRecord(i: number): streams.PutRecordsRequestEntry {
  recordPool ??= Array.from({ length: RECORD_POOL_SIZE }, (_, j) =>
    streams.PutRecordsRequestEntry.fromPartial(record(j)),
  );
  return recordPool[i % RECORD_POOL_SIZE] as streams.PutRecordsRequestEntry;
}

/** Writes records [from, from + count), re-sending the failed ones (leaders still being elected, throttling); returns how many were acknowledged. */
async function put(client: SluiceClient, streamName: string, from: number, count: number): Promise<number> {
  let records = Array.from({ length: count }, (_, j) => pooledRecord(from + j));
  let written = 0;
  for (let attempt = 0; attempt < 20 && records.length > 0; attempt++) {
    const response = await client
      .putRecords({ ...streams.PutRecordsRequest.fromPartial({ streamName }), records })
      .catch(() => undefined);
    if (response === undefined) continue;
    const failed = records.filter((_, j) => (response.records[j]?.errorCode ?? "x") !== "");
    written += records.length - failed.length;
    records = failed;
    if (failed.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return written;
}

async function recordsIn(cluster: TestCluster, name: string): Promise<{ records: number; lagMs: number }> {
  let records = 0;
  let lagMs = 0;
  for (const nodeId of cluster.runningNodeIds()) {
    const status = await cluster
      .admin(nodeId)
      .nodeStatus()
      .catch(() => undefined);
    records = Math.max(records, status?.metrics[`analytics_${name}_records_in`] ?? 0);
    lagMs = Math.max(lagMs, status?.metrics[`analytics_${name}_input_lag_ms`] ?? 0);
  }
  return { records, lagMs };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

const rows: Record<string, unknown>[] = [];
log(`engine alone: ${ENGINE_RECORDS} records`);
const engine = engineRate();
rows.push({
  measurement: "engine alone (in process)",
  recordsPerSecond: Math.round(engine),
  note: "JSON.parse + fold, no I/O",
});

const cluster = await startCluster({ basePort, env: { ...process.env, SLUICE_DELIVERY: "off" } });
const endpoints = cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`);
const client = new SluiceClient({ endpoints });
try {
  const store = new ApplicationStore({ client });
  // 2. Preloaded stream.
  const preloaded = "bench-analytics-preloaded";
  await client.createStream({
    streamName: preloaded,
    shardCount: SHARDS,
    streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
  });
  await client.waitForStreamStatus(preloaded, { timeoutMs: 30_000 });
  log(`preloading ${preload} records of ~${recordBytes} B`);
  let next = 0;
  let loaded = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < preload) {
        const from = next;
        const count = Math.min(BATCH_RECORDS, preload - from);
        next += count;
        // Not `loaded += await …`: that reads `loaded` before the await and loses the other callers' adds.
        const acknowledged = await put(client, preloaded, from, count);
        loaded += acknowledged;
      }
      // Records reported failed may still have been written (an answer lost): the app counts what the stream holds.
    }),
  );
  log(`preloaded ${loaded}; creating the application`);
  await store.create({ name: "bench-pre", sql: SQL(preloaded), outputStream: "bench-analytics-out-pre" });
  // Timed from the first record processed (start-up — lease, snapshot load — is not the rate).
  let firstIn = 0;
  await until(async () => {
    firstIn = (await recordsIn(cluster, "bench-pre")).records;
    return firstIn > 0;
  }, 60_000);
  const firstAt = performance.now();
  let lastIn = firstIn;
  const done = await until(async () => {
    lastIn = (await recordsIn(cluster, "bench-pre")).records;
    return lastIn >= loaded;
  }, 300_000);
  const preElapsed = (performance.now() - firstAt) / 1_000;
  rows.push({
    measurement: "application over a preloaded stream",
    recordsPerSecond: Math.round((lastIn - firstIn) / preElapsed),
    note: `${lastIn - firstIn} records in ${preElapsed.toFixed(1)} s after the first${done ? "" : " — DID NOT FINISH"}`,
  });
  await store.delete("bench-pre");

  // 3. Live: producers and the application at once.
  const live = "bench-analytics-live";
  await client.createStream({
    streamName: live,
    shardCount: SHARDS,
    streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
  });
  await client.waitForStreamStatus(live, { timeoutMs: 30_000 });
  await store.create({ name: "bench-live", sql: SQL(live), outputStream: "bench-analytics-out-live" });
  await until(async () => {
    const status = await cluster
      .admin(cluster.nodeIds[0] as number)
      .nodeStatus()
      .catch(() => undefined);
    return status !== undefined && `analytics_bench-live_running` in status.metrics;
  }, 30_000);
  log(`live: ${callers} callers for ${seconds} s`);
  const before = (await recordsIn(cluster, "bench-live")).records;
  const benchCpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  let written = 0;
  let cursor = 0;
  const stopAt = Date.now() + seconds * 1_000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < stopAt) {
        const from = cursor;
        cursor += BATCH_RECORDS;
        const acknowledged = await put(client, live, from, BATCH_RECORDS).catch(() => 0);
        written += acknowledged;
      }
    }),
  );
  const elapsed = (performance.now() - startedAt) / 1_000;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const benchCpuPercent = Math.round((benchCpu.user + benchCpu.system) / 1_000 / 10 / elapsed);
  const atEnd = await recordsIn(cluster, "bench-live");
  const processed = atEnd.records - before;
  const caughtUpStarted = performance.now();
  await until(async () => (await recordsIn(cluster, "bench-live")).records - before >= written, 120_000);
  const catchUpSeconds = (performance.now() - caughtUpStarted) / 1_000;
  rows.push({
    measurement: "live: input the cluster took",
    recordsPerSecond: Math.round(written / elapsed),
    note: `${callers} callers × 500 × ~${recordBytes} B; the producers used ${benchCpuPercent}% of a core`,
  });
  rows.push({
    measurement: "live: application kept up with",
    recordsPerSecond: Math.round(processed / elapsed),
    note: `lag at the end ${atEnd.lagMs} ms; caught up ${catchUpSeconds.toFixed(1)} s after the producers stopped`,
  });
} finally {
  client.close();
  await cluster.stop();
}
console.table(rows);
const output = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  seconds,
  preload,
  callers,
  recordBytes,
  keys: KEYS,
  targetRecordsPerSecond: TARGET_RECORDS_PER_SECOND,
  rows,
};
mkdirSync("bench-results", { recursive: true });
const file = join("bench-results", `bench-analytics-${Date.now()}.json`);
writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
log(`wrote ${file}`);
