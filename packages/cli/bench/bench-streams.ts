/**
 * The streams benchmark of issue #5: a real three-node cluster (started by @sluice/harness on
 * loopback, data in a temporary folder, sync on) driven through the public API
 * (sluice.v1.StreamsService), as a Kinesis user would drive it.
 *
 *   scripts/bench-streams [--seconds 10] [--only put-records,put-record,subscribe] [--encrypted]
 *                         [--base-port 19900] [--producers 8] [--callers 1,32]
 *                         [--delivery-rate 1000] [--warm-up 20] [--cpu-prof DIR]
 *
 * 1. put-records: closed-loop PutRecords of 500 × 1 KiB records with random partition keys into
 *    a 16-shard ON_DEMAND stream from 8 concurrent producers, spread over the three nodes'
 *    gateways: records/s, MiB/s, per-request latency p50/p99/p999, failed records.
 * 2. put-record: closed-loop PutRecord (1 KiB, random keys, through node 1) with 1 caller and
 *    with 32 callers: p50/p99/p999 and records/s; also split by whether node 1 leads the record's
 *    shard (local append) or forwards it to the leader (one more hop).
 * 3. subscribe: a registered consumer subscribes (SubscribeToShard, LATEST) to every shard of a
 *    4-shard stream; records carrying their send time are put at a paced rate (open loop,
 *    default 1,000 records/s: every 5 ms one PutRecords with the records due, as a batching
 *    producer with a 5 ms linger sends, rotating over the nodes); delivery latency = receive time
 *    − send time (one clock: the same process sends and receives), p50/p99/p999.
 *
 * Each phase first runs its own load unmeasured for --warm-up seconds (20 by default; see
 * WARM_UP_SECONDS_DEFAULT). Every phase also reports each node's CPU (% of one core, from
 * /proc/<pid>/stat), how long its main thread waited for a CPU (/proc/<pid>/schedstat: other load
 * on a shared machine), resident memory, and the benchmark process's own CPU, since on a 2-core
 * machine the client competes with the nodes. The targets of issue #5 are printed next to the
 * figures. Prints tables and writes JSON to bench-results/ (git-ignored). Run after `pnpm tsc -b`
 * (scripts/bench-streams does). Run with Node's type stripping:
 * node packages/cli/bench/bench-streams.ts
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  LatencyRecorder,
  type LatencySummary,
  readProcessStat,
  readSchedulerStat,
  StreamsCallError,
  shardGroupIds,
  startCluster,
  summarizeCpuProfiles,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";

const BATCH_RECORDS = 500;
const RECORD_BYTES = 1_024;
/** Distinct random partition keys the producers draw from (a fresh MD5 spread, no hot shard). */
const KEY_POOL_SIZE = 65_536;
const CLOCK_TICKS_PER_SECOND = 100;
/**
 * Load before each measured put phase, in seconds (`--warm-up`). A fresh node runs its first tens
 * of seconds well below its steady speed (V8 still compiling the hot paths, the heap still
 * sizing itself): measured here, a fresh cluster's 16-shard PutRecords ran ~15,000 records/s in
 * its first 3 s and 32,000-48,000 after 15 s, and a single PutRecord's node CPU fell by half. A
 * broker runs for days, so the figures are taken warm; `--warm-up 2` gives the cold ones.
 */
const WARM_UP_SECONDS_DEFAULT = 20;
/** Bytes of a delivery-latency record: 8 for the send time, the rest padding. */
const DELIVERY_RECORD_BYTES = 128;
/** The open-loop sender of the delivery phase wakes this often and sends what is due in one PutRecords. */
const DELIVERY_PACE_INTERVAL_MS = 5;
/** Issue #5's targets on this machine (three nodes, fsync on). */
const TARGET_BATCHED_RECORDS_PER_SECOND = 50_000;
const TARGET_PUT_RECORD_P99_MS = 5;
const TARGET_DELIVERY_P99_MS = 10;

const { values } = parseArgs({
  options: {
    only: { type: "string", default: "put-records,put-record,subscribe" },
    seconds: { type: "string", default: "10" },
    "base-port": { type: "string", default: "19900" },
    producers: { type: "string", default: "8" },
    callers: { type: "string", default: "1,32" },
    "delivery-rate": { type: "string", default: "1000" },
    "warm-up": { type: "string", default: String(WARM_UP_SECONDS_DEFAULT) },
    "cpu-prof": { type: "string" },
    // Every stream encrypted at rest (StartStreamEncryption right after it is created).
    encrypted: { type: "boolean", default: false },
  },
});
const encrypted = values.encrypted === true;
const phases = new Set(String(values.only).split(","));
const seconds = Number(values.seconds);
const basePort = Number(values["base-port"]);
const producerCount = Number(values.producers);
const deliveryRate = Number(values["delivery-rate"]);
const cpuProfDir = values["cpu-prof"];
const warmUpSeconds = Number(values["warm-up"]);
for (const phase of phases) {
  if (!["put-records", "put-record", "subscribe"].includes(phase)) {
    throw new Error(`--only: unknown phase "${phase}"; use put-records, put-record, subscribe`);
  }
}
if (!(seconds > 0)) throw new Error("--seconds must be a positive number");
if (!(warmUpSeconds >= 0)) throw new Error("--warm-up must be a number of seconds ≥ 0");

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  seconds,
  warmUpSeconds,
};
const summaryRows: Record<string, unknown>[] = [];

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Milliseconds on a clock shared by sender and receiver (this process), with sub-ms precision. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const keyPool = Array.from({ length: KEY_POOL_SIZE }, () => randomBytes(12).toString("base64url"));
function randomKey(): string {
  return keyPool[Math.floor(Math.random() * KEY_POOL_SIZE)] ?? "key";
}

const payload = randomBytes(RECORD_BYTES);

function round(value: number, digits = 2): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

function latencyColumns(summary: LatencySummary): {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
} {
  return {
    p50Ms: round(summary.p50),
    p99Ms: round(summary.p99),
    p999Ms: round(summary.p999),
    maxMs: round(summary.max),
  };
}

interface Resources {
  readonly nodes: Record<string, unknown>[];
  /** CPU (user + system) of the three node processes together over the phase. */
  readonly nodeCpuSeconds: number;
  readonly benchCpuPercentOfOneCore: number;
}

/** CPU µs the three nodes together spent per record: unlike records/s, other load on the machine does not move it. */
function cpuMicrosPerRecord(resources: Resources, records: number): number {
  return records === 0 ? Number.NaN : Math.round((resources.nodeCpuSeconds * 1e6) / records);
}

/** CPU and memory of the node processes (and of this process) over a phase. */
class ResourceMeter {
  readonly #cluster: TestCluster;
  readonly #startedAt = performance.now();
  readonly #nodeTicks: Map<number, number>;
  readonly #nodeWaitNs: Map<number, number>;
  readonly #selfCpu = process.cpuUsage();

  constructor(cluster: TestCluster) {
    this.#cluster = cluster;
    this.#nodeTicks = new Map(cluster.nodeIds.map((nodeId) => [nodeId, ticksOf(cluster, nodeId)]));
    this.#nodeWaitNs = new Map(cluster.nodeIds.map((nodeId) => [nodeId, waitNsOf(cluster, nodeId)]));
  }

  finish(): Resources {
    const elapsedSeconds = (performance.now() - this.#startedAt) / 1_000;
    let nodeCpuSeconds = 0;
    const nodes = this.#cluster.nodeIds.map((nodeId) => {
      const pid = this.#cluster.process(nodeId).pid ?? 0;
      const ticks = ticksOf(this.#cluster, nodeId) - (this.#nodeTicks.get(nodeId) ?? 0);
      nodeCpuSeconds += ticks / CLOCK_TICKS_PER_SECOND;
      return {
        node: nodeId,
        cpuPercentOfOneCore: round((100 * ticks) / CLOCK_TICKS_PER_SECOND / elapsedSeconds, 1),
        // Share of the phase the node's event loop was runnable but waited for a CPU: latency
        // that other load on the machine adds, not the node's own work.
        runQueueWaitPercent: round(
          (100 * (waitNsOf(this.#cluster, nodeId) - (this.#nodeWaitNs.get(nodeId) ?? 0))) /
            1e9 /
            elapsedSeconds,
          1,
        ),
        rssMiB: round(readProcessStat(pid).rssBytes / 1_048_576, 1),
      };
    });
    const self = process.cpuUsage(this.#selfCpu);
    return {
      nodes,
      nodeCpuSeconds: round(nodeCpuSeconds, 2),
      benchCpuPercentOfOneCore: round((100 * (self.user + self.system)) / 1e6 / elapsedSeconds, 1),
    };
  }
}

function waitNsOf(cluster: TestCluster, nodeId: number): number {
  return readSchedulerStat(cluster.process(nodeId).pid ?? 0).waitNs;
}

function ticksOf(cluster: TestCluster, nodeId: number): number {
  const stat = readProcessStat(cluster.process(nodeId).pid ?? 0);
  return stat.userTicks + stat.systemTicks;
}

function nodeOf(cluster: TestCluster, position: number): number {
  return cluster.nodeIds[position % cluster.nodeIds.length] ?? 1;
}

/** Creates an ON_DEMAND stream and waits until every node's gateway sees it ACTIVE. */
async function createStream(cluster: TestCluster, streamName: string, shardCount: number): Promise<string> {
  await cluster.streams(1).createActiveStream(
    {
      streamName,
      shardCount,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    },
    120_000,
  );
  let arn = "";
  for (const nodeId of cluster.nodeIds) {
    const summary = await cluster
      .streams(nodeId)
      .waitStreamStatus(streamName, streams.StreamStatus.STREAM_STATUS_ACTIVE, 60_000);
    arn = summary.streamArn;
  }
  if (encrypted) await encryptStream(cluster, streamName);
  return arn;
}

/** StartStreamEncryption with the key file's default key; waits until every node reports KMS. */
async function encryptStream(cluster: TestCluster, streamName: string): Promise<void> {
  const raw = cluster.streams(1).raw;
  await new Promise<void>((resolve, reject) => {
    raw.startStreamEncryption(
      streams.StartStreamEncryptionRequest.fromPartial({
        streamName,
        encryptionType: "KMS",
        keyId: "alias/aws/kinesis",
      }),
      (error) => (error === null ? resolve() : reject(error)),
    );
  });
  for (const nodeId of cluster.nodeIds) {
    await waitFor(
      async () =>
        (await cluster.streams(nodeId).describeStreamSummary({ streamName })).streamDescriptionSummary
          ?.encryptionType === "KMS",
      { timeoutMs: 30_000, what: `node ${nodeId} to see ${streamName} encrypted` },
    );
  }
}

interface PutRecordsTotals {
  requests: number;
  records: number;
  failedRecords: number;
  failedRequests: number;
  readonly latency: LatencyRecorder;
}

/** Closed-loop PutRecords from `producerCount` producers for `durationSeconds`. */
async function putRecordsLoad(
  cluster: TestCluster,
  streamName: string,
  durationSeconds: number,
): Promise<PutRecordsTotals & { elapsedSeconds: number }> {
  const totals: PutRecordsTotals = {
    requests: 0,
    records: 0,
    failedRecords: 0,
    failedRequests: 0,
    latency: new LatencyRecorder(),
  };
  const startedAt = performance.now();
  const endAt = startedAt + durationSeconds * 1_000;
  await Promise.all(
    Array.from({ length: producerCount }, async (_, producer) => {
      const client = cluster.streams(nodeOf(cluster, producer));
      while (performance.now() < endAt) {
        const records = Array.from({ length: BATCH_RECORDS }, () => ({
          partitionKey: randomKey(),
          data: payload,
          explicitHashKey: "",
        }));
        const begun = performance.now();
        try {
          const response = await client.putRecords({ streamName, records }, 30_000);
          totals.latency.record(performance.now() - begun);
          totals.requests += 1;
          totals.records += BATCH_RECORDS - response.failedRecordCount;
          totals.failedRecords += response.failedRecordCount;
        } catch (error) {
          if (!(error instanceof StreamsCallError)) throw error;
          totals.failedRequests += 1;
          totals.failedRecords += BATCH_RECORDS;
        }
      }
    }),
  );
  return { ...totals, elapsedSeconds: (performance.now() - startedAt) / 1_000 };
}

async function putRecordsPhase(cluster: TestCluster): Promise<void> {
  const streamName = "bench-put-records";
  await createStream(cluster, streamName, 16);
  log(`put-records: warm-up ${warmUpSeconds} s`);
  if (warmUpSeconds > 0) await putRecordsLoad(cluster, streamName, warmUpSeconds);
  log(
    `put-records: ${producerCount} producers × ${BATCH_RECORDS} × ${RECORD_BYTES} B records, 16 shards ON_DEMAND, ${seconds} s`,
  );
  const meter = new ResourceMeter(cluster);
  const run = await putRecordsLoad(cluster, streamName, seconds);
  const resources = meter.finish();
  const recordsPerSecond = run.records / run.elapsedSeconds;
  const result = {
    producers: producerCount,
    requests: run.requests,
    recordsPerSecond: Math.round(recordsPerSecond),
    mibPerSecond: round((run.records * RECORD_BYTES) / 1_048_576 / run.elapsedSeconds, 1),
    ...latencyColumns(run.latency.summary()),
    failedRecords: run.failedRecords,
    failedRequests: run.failedRequests,
    nodeCpuMicrosPerRecord: cpuMicrosPerRecord(resources, run.records),
    ...resources,
  };
  results.putRecords = result;
  printTable("PutRecords, 500 × 1 KiB, random keys, 16-shard ON_DEMAND stream, closed loop", [
    {
      producers: result.producers,
      requests: result.requests,
      "records/s": result.recordsPerSecond,
      "MiB/s": result.mibPerSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      p999Ms: result.p999Ms,
      failedRecords: result.failedRecords,
      failedRequests: result.failedRequests,
      nodeCpuUsPerRecord: result.nodeCpuMicrosPerRecord,
    },
  ]);
  printResources(resources);
  summaryRows.push({
    figure: "PutRecords records/s (8 producers)",
    measured: result.recordsPerSecond,
    target: `≥ ${TARGET_BATCHED_RECORDS_PER_SECOND}`,
  });
}

async function putRecordPhase(cluster: TestCluster): Promise<void> {
  const streamName = "bench-put-record";
  const groupsBefore = new Set(await shardGroupIds(cluster));
  await createStream(cluster, streamName, 4);
  const client = cluster.streams(1);
  // Shard i of a new stream is the i-th new group (the controller allocates them in order); a
  // record whose shard node 1 leads is appended locally, the others cost a forwarding hop.
  const newGroups = (await shardGroupIds(cluster)).filter((groupId) => !groupsBefore.has(groupId));
  const ledByNodeOne = new Set<string>();
  for (const [position, groupId] of newGroups.entries()) {
    if ((await cluster.leaderOf(groupId)) === 1)
      ledByNodeOne.add(`shardId-${String(position).padStart(12, "0")}`);
  }
  log(
    `put-record: node 1 leads ${ledByNodeOne.size} of the 4 shards (${[...ledByNodeOne].join(", ") || "none"})`,
  );
  const rows: Record<string, unknown>[] = [];
  const run = async (callers: number, durationSeconds: number) => {
    const latency = new LatencyRecorder();
    const local = new LatencyRecorder();
    const forwarded = new LatencyRecorder();
    let failed = 0;
    const startedAt = performance.now();
    const endAt = startedAt + durationSeconds * 1_000;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < endAt) {
          const begun = performance.now();
          try {
            const response = await client.putRecord(
              { streamName, partitionKey: randomKey(), data: payload },
              30_000,
            );
            const elapsed = performance.now() - begun;
            latency.record(elapsed);
            (ledByNodeOne.has(response.shardId) ? local : forwarded).record(elapsed);
          } catch (error) {
            if (!(error instanceof StreamsCallError)) throw error;
            failed += 1;
          }
        }
      }),
    );
    return { latency, local, forwarded, failed, elapsedSeconds: (performance.now() - startedAt) / 1_000 };
  };
  const all: Record<string, unknown>[] = [];
  for (const callers of String(values.callers).split(",").map(Number)) {
    if (warmUpSeconds > 0) await run(callers, warmUpSeconds);
    log(`put-record: ${callers} callers through node 1, ${seconds} s`);
    const meter = new ResourceMeter(cluster);
    const measured = await run(callers, seconds);
    const resources = meter.finish();
    const summary = measured.latency.summary();
    const row = {
      callers,
      "records/s": Math.round(summary.count / measured.elapsedSeconds),
      ...latencyColumns(summary),
      failed: measured.failed,
      localP50Ms: round(measured.local.quantile(0.5)),
      localP99Ms: round(measured.local.quantile(0.99)),
      forwardedP50Ms: round(measured.forwarded.quantile(0.5)),
      forwardedP99Ms: round(measured.forwarded.quantile(0.99)),
      nodeCpuUsPerRecord: cpuMicrosPerRecord(resources, summary.count),
    };
    rows.push(row);
    all.push({ ...row, ...resources });
    printResources(resources, `PutRecord with ${callers} callers`);
    if (callers === 1) {
      summaryRows.push({
        figure: "PutRecord p99 ms (1 caller)",
        measured: row.p99Ms,
        target: `≤ ${TARGET_PUT_RECORD_P99_MS}`,
      });
    }
  }
  results.putRecord = all;
  printTable("PutRecord, 1 KiB, random keys, 4-shard stream, closed loop through node 1", rows);
}

async function subscribePhase(cluster: TestCluster): Promise<void> {
  const streamName = "bench-subscribe";
  const shardCount = 4;
  const streamArn = await createStream(cluster, streamName, shardCount);
  const consumer = (
    await cluster.streams(1).registerStreamConsumer({ streamArn, consumerName: "bench-delivery" })
  ).consumer;
  if (consumer === undefined) throw new Error("RegisterStreamConsumer returned no consumer");
  await waitFor(
    async () =>
      (await cluster.streams(1).describeStreamConsumer({ consumerArn: consumer.consumerArn }))
        .consumerDescription?.consumerStatus === streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
    { timeoutMs: 60_000, what: "the consumer to become ACTIVE" },
  );
  const shards = (await cluster.streams(1).listShards({ streamName })).shards;
  const latency = new LatencyRecorder();
  let measuring = false;
  let received = 0;
  const receivedPerShard = new Map<string, number>();
  const subscriptions = shards.map((shard, position) => {
    const call = cluster.streams(nodeOf(cluster, position)).subscribeToShard({
      consumerArn: consumer.consumerArn,
      shardId: shard.shardId,
      startingPosition: { type: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    });
    call.on("data", (message: streams.SubscribeToShardResponse) => {
      const at = nowMs();
      for (const record of message.subscribeToShardEvent?.records ?? []) {
        const data = Buffer.from(record.data);
        if (data.length < 8) continue;
        receivedPerShard.set(shard.shardId, (receivedPerShard.get(shard.shardId) ?? 0) + 1);
        // Byte 8: 1 for a record of the measured run, 0 for warm-up records.
        if (data[8] !== 1) continue;
        received += 1;
        latency.record(at - data.readDoubleLE(0));
      }
    });
    call.on("error", (error: Error) => {
      if (!/CANCELLED|Cancelled/.test(error.message)) log(`subscribe ${shard.shardId}: ${error.message}`);
    });
    return call;
  });
  const failures = new Map<string, number>();
  /** PutRecords round trips of the measured phase: the part of the delivery latency that is the commit. */
  const putLatency = new LatencyRecorder();
  /** Puts `count` records stamped with the send time in one PutRecords; returns how many failed. */
  const send = async (nodeId: number, count: number): Promise<number> => {
    const sentAt = nowMs();
    const phase = measuring ? 1 : 0;
    const records = Array.from({ length: count }, () => {
      const data = Buffer.alloc(DELIVERY_RECORD_BYTES);
      data.writeDoubleLE(sentAt, 0);
      data[8] = phase;
      return { partitionKey: randomKey(), data, explicitHashKey: "" };
    });
    try {
      const response = await cluster.streams(nodeId).putRecords({ streamName, records }, 30_000);
      if (measuring) putLatency.record(nowMs() - sentAt);
      for (const result of response.records) {
        if (result.errorCode !== "")
          failures.set(result.errorCode, (failures.get(result.errorCode) ?? 0) + 1);
      }
      return response.failedRecordCount;
    } catch (error) {
      if (!(error instanceof StreamsCallError)) throw error;
      failures.set(error.code, (failures.get(error.code) ?? 0) + count);
      return count;
    }
  };
  try {
    // The subscriptions are live once each shard has delivered a record sent after they opened.
    let warmUp = 0;
    await waitFor(
      async () => {
        await send(nodeOf(cluster, warmUp++), 20);
        return shards.every((shard) => (receivedPerShard.get(shard.shardId) ?? 0) > 0);
      },
      { timeoutMs: 60_000, what: "every shard's subscription to deliver a record", intervalMs: 100 },
    );
    let sent = 0;
    let failed = 0;
    let batches = 0;
    const inFlight = new Set<Promise<void>>();
    /** Sends at the paced rate for `durationSeconds`, counting into sent/failed/batches. */
    const pace = async (durationSeconds: number): Promise<void> => {
      sent = 0;
      failed = 0;
      batches = 0;
      const startedAt = performance.now();
      const endAt = startedAt + durationSeconds * 1_000;
      while (performance.now() < endAt) {
        // Open loop: every tick, one PutRecords with the records due since the last one (what a
        // batching producer with a 5 ms linger sends); the send time is stamped as the call starts.
        const due = Math.floor(((performance.now() - startedAt) / 1_000) * deliveryRate);
        if (due > sent) {
          const count = Math.min(due - sent, BATCH_RECORDS);
          const promise = send(nodeOf(cluster, batches), count).then((failedHere) => {
            failed += failedHere;
          });
          sent += count;
          batches += 1;
          inFlight.add(promise);
          void promise.finally(() => inFlight.delete(promise));
        }
        await new Promise((resolve) => setTimeout(resolve, DELIVERY_PACE_INTERVAL_MS));
      }
      await Promise.all(inFlight);
    };
    if (warmUpSeconds > 0) {
      log(`subscribe: warm-up ${warmUpSeconds} s`);
      await pace(warmUpSeconds);
    }
    log(`subscribe: ${deliveryRate} records/s paced over ${shardCount} shards, ${seconds} s`);
    const meter = new ResourceMeter(cluster);
    measuring = true;
    await pace(seconds);
    const expected = sent - failed;
    await waitFor(() => received >= expected, {
      timeoutMs: 30_000,
      what: `all ${expected} acknowledged records to be delivered (${received} so far)`,
    }).catch((error: unknown) => log(`subscribe: ${(error as Error).message}`));
    const resources = meter.finish();
    const summary = latency.summary();
    const row = {
      "rate/s": deliveryRate,
      sent,
      putRecordsCalls: batches,
      failedRecords: failed,
      delivered: received,
      ...latencyColumns(summary),
      putAckP50Ms: round(putLatency.quantile(0.5)),
      putAckP99Ms: round(putLatency.quantile(0.99)),
      nodeCpuUsPerRecord: cpuMicrosPerRecord(resources, sent - failed),
    };
    results.subscribe = { ...row, failures: Object.fromEntries(failures), ...resources };
    if (failures.size > 0) log(`subscribe: failed puts: ${JSON.stringify(Object.fromEntries(failures))}`);
    printTable(
      "put → SubscribeToShard delivery latency (4 shards, paced open loop, one PutRecords per 5 ms tick)",
      [row],
    );
    printResources(resources);
    summaryRows.push({
      figure: `delivery p99 ms at ${deliveryRate}/s`,
      measured: row.p99Ms,
      target: `≤ ${TARGET_DELIVERY_P99_MS}`,
    });
  } finally {
    for (const call of subscriptions) call.cancel();
  }
}

function printResources(resources: Resources, title = ""): void {
  printTable(
    `${title === "" ? "" : `${title}: `}node CPU (% of one core) and memory; the benchmark process itself used ${resources.benchCpuPercentOfOneCore}% of a core`,
    resources.nodes,
  );
}

function printTable(title: string, rows: readonly Record<string, unknown>[]): void {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first);
  const cells = rows.map((row) => columns.map((column) => String(row[column])));
  const widths = columns.map((column, position) =>
    Math.max(column.length, ...cells.map((row) => (row[position] ?? "").length)),
  );
  console.log(`\n${title}`);
  console.log(columns.map((column, position) => column.padStart(widths[position] ?? 0)).join("  "));
  for (const row of cells)
    console.log(row.map((cell, position) => cell.padStart(widths[position] ?? 0)).join("  "));
}

const keyFile = join(tmpdir(), `sluice-bench-kms-${process.pid}`);
if (encrypted) writeFileSync(keyFile, `bench: ${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
results.encrypted = encrypted;
const cluster = await startCluster({
  basePort,
  startTimeoutMs: 120_000,
  ...(encrypted ? { extraArgs: ["--kms-key-file", keyFile] } : {}),
  ...(cpuProfDir === undefined ? {} : { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${cpuProfDir}` } }),
});
try {
  log(`cluster up on ports ${basePort}-${basePort + 11}, data in ${cluster.dataDir}`);
  if (phases.has("put-records")) await putRecordsPhase(cluster);
  if (phases.has("put-record")) await putRecordPhase(cluster);
  if (phases.has("subscribe")) await subscribePhase(cluster);
} finally {
  await cluster.stop();
}

if (cpuProfDir !== undefined) {
  // The nodes write their profiles as they exit (cluster.stop() above); they cover the whole
  // run, start-up included.
  const profile = summarizeCpuProfiles(cpuProfDir);
  results.cpuProfile = profile;
  printTable(
    `node CPU profile (${profile.files} profiles in ${cpuProfDir}, ${profile.busyMs} ms busy, ${profile.idleMs} ms idle): self time by package`,
    profile.byPackage.map((entry) => ({ ...entry })),
  );
  printTable(
    "node CPU profile: self time by function",
    profile.byFunction.map((entry) => ({ ...entry })),
  );
}

printTable("issue #5 targets (2-core machine, three nodes, fsync on)", summaryRows);
results.targets = summaryRows;
const outDir = join(process.cwd(), "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `streams-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${outFile}`);
