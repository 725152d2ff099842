/**
 * The resharding benchmark of issue #6: a real three-node cluster (started by @sluice/harness on
 * loopback, data in a temporary folder, sync on) driven through the public API while producers
 * keep writing.
 *
 *   scripts/bench-reshard [--only split,scale] [--base-port 19460] [--producers 6]
 *                         [--batch 100] [--split-shards 16] [--scale-from 64] [--scale-to 128]
 *                         [--warm-up-seconds 3] [--rate 0]
 *
 * Load: KeyedLoad producers (2 per node with the default 6), closed loop — each sends its next
 * PutRecords of `--batch` records (keyed, numbered) as soon as the previous one returns, failed
 * records sent again — over 10,000 keys; or, with `--rate N`, paced at N records/s in total. A
 * closed loop saturates the write path, so its PutRecords latency (printed, before and during the
 * reshard) is the floor under every stall; a paced load below saturation shows the reshard's own
 * cost.
 *
 * 1. split: on a `--split-shards` PROVISIONED stream under load, SplitShard of shard 0 at the
 *    middle of its range. Children writable = time from the call until a PutRecord with an
 *    ExplicitHashKey in each child's range (its first key) is acknowledged by a shard other
 *    than the parent, both children (two probes polling back to back from the call on). Longest
 *    stall = the longest time between two successive acknowledgements of any producer, from the
 *    call until the stream is ACTIVE, both children are writable, and every producer has been
 *    acknowledged again. Also: time to ACTIVE (DescribeStreamSummary polled every 50 ms).
 * 2. scale: UpdateShardCount `--scale-from` → `--scale-to` (64 → 128: one round of 64 splits) on
 *    a loaded stream: time to ACTIVE, longest stall as above, acknowledged rate during it.
 *
 * Targets (issue #6): children writable within 1 s of the call; no producer stalls longer than
 * 500 ms. Prints tables and writes JSON to bench-results/ (git-ignored). Run after `pnpm tsc -b`
 * (scripts/bench-reshard does), with Node's type stripping: node packages/cli/bench/bench-reshard.ts
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  KeyedLoad,
  listAllShards,
  readProcessStat,
  type StreamsClient,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";

const KEYS = 10_000;
/** Closed loop: a rate the producers never reach, so each sends as soon as its last call returns. */
const CLOSED_LOOP_RECORDS_PER_SECOND = 1e9;
const ACTIVE_TIMEOUT_MS = 300_000;
const STATUS_POLL_INTERVAL_MS = 50;
const TARGET_CHILDREN_WRITABLE_MS = 1_000;
const TARGET_STALL_MS = 500;
const CLOCK_TICKS_PER_SECOND = 100;
const ACTIVE = streams.StreamStatus.STREAM_STATUS_ACTIVE;
const UNIFORM = streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING;

const { values } = parseArgs({
  options: {
    only: { type: "string", default: "split,scale" },
    "base-port": { type: "string", default: "19460" },
    producers: { type: "string", default: "6" },
    batch: { type: "string", default: "100" },
    "split-shards": { type: "string", default: "16" },
    "scale-from": { type: "string", default: "64" },
    "scale-to": { type: "string", default: "128" },
    "warm-up-seconds": { type: "string", default: "3" },
    rate: { type: "string", default: "0" },
  },
});
const phases = new Set(String(values.only).split(","));
for (const phase of phases) {
  if (!["split", "scale"].includes(phase))
    throw new Error(`--only: unknown phase "${phase}"; use split, scale`);
}
const basePort = Number(values["base-port"]);
const producers = Number(values.producers);
const batch = Number(values.batch);
const splitShards = Number(values["split-shards"]);
const scaleFrom = Number(values["scale-from"]);
const scaleTo = Number(values["scale-to"]);
const warmUpMs = Number(values["warm-up-seconds"]) * 1_000;
/** 0: closed loop; else the producers' paced rate in records/s (open loop, KeyedLoad's pacing). */
const rate = Number(values.rate);
if (!(rate >= 0)) throw new Error("--rate must be 0 (closed loop) or a rate in records/s");
const loadName = rate === 0 ? "closed-loop" : `paced (${rate} records/s)`;
for (const [name, value] of Object.entries({ producers, batch, splitShards, scaleFrom, scaleTo })) {
  if (!(Number.isInteger(value) && value >= 1)) throw new Error(`--${name} must be a positive integer`);
}
if (!(batch <= 500)) throw new Error("--batch must be at most 500 (the PutRecords limit)");

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  options: { producers, batch, splitShards, scaleFrom, scaleTo, warmUpMs, rate },
};
const summaryRows: Record<string, unknown>[] = [];

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function round(value: number, digits = 0): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
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

/** CPU seconds (user + system) the node processes have used so far, per node id. */
function nodeCpuSeconds(cluster: TestCluster): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const nodeId of cluster.runningNodeIds()) {
    const pid = cluster.process(nodeId).pid;
    if (pid === undefined) continue;
    const stat = readProcessStat(pid);
    cpu.set(nodeId, (stat.userTicks + stat.systemTicks) / CLOCK_TICKS_PER_SECOND);
  }
  return cpu;
}

/** % of one core each node used between two `nodeCpuSeconds` readings `elapsedMs` apart. */
function cpuPercent(before: Map<number, number>, after: Map<number, number>, elapsedMs: number): string {
  return [...after]
    .map(([nodeId, seconds]) => `${Math.round(((seconds - (before.get(nodeId) ?? 0)) * 1e5) / elapsedMs)}%`)
    .join("/");
}

async function createLoadedStream(
  cluster: TestCluster,
  streamName: string,
  shardCount: number,
): Promise<KeyedLoad> {
  const client = cluster.streams(1);
  await client.createActiveStream({ streamName, shardCount }, ACTIVE_TIMEOUT_MS);
  for (const nodeId of cluster.nodeIds) {
    await cluster.streams(nodeId).waitStreamStatus(streamName, ACTIVE, ACTIVE_TIMEOUT_MS);
  }
  const load = new KeyedLoad({
    streamName,
    clients: cluster.nodeIds.map((nodeId) => cluster.streams(nodeId)),
    producers,
    keys: KEYS,
    recordsPerSecond: rate === 0 ? CLOSED_LOOP_RECORDS_PER_SECOND : rate,
    batchRecordsMax: batch,
  });
  load.start();
  const startedAt = performance.now();
  await waitFor(() => performance.now() - startedAt >= warmUpMs && load.acknowledged > 0, {
    timeoutMs: warmUpMs + 30_000,
    intervalMs: 100,
    what: `the load on ${streamName} to warm up`,
  });
  return load;
}

/** Resolves with the time (ms since `startedAt`) when the stream is ACTIVE. */
async function timeToActive(client: StreamsClient, streamName: string, startedAt: number): Promise<number> {
  await waitFor(
    async () =>
      (await client.describeStreamSummary({ streamName })).streamDescriptionSummary?.streamStatus === ACTIVE,
    { timeoutMs: ACTIVE_TIMEOUT_MS, intervalMs: STATUS_POLL_INTERVAL_MS, what: `${streamName} to be ACTIVE` },
  );
  return performance.now() - startedAt;
}

/**
 * PutRecord probes with `explicitHashKey` back to back from now until one is acknowledged by a
 * shard other than `parentShardId`; resolves with that time (ms since `startedAt`) and the shard.
 */
async function probeUntilChild(
  client: StreamsClient,
  streamName: string,
  parentShardId: string,
  explicitHashKey: string,
  startedAt: number,
): Promise<{ ms: number; shardId: string; probes: number }> {
  let probes = 0;
  for (;;) {
    probes += 1;
    const response = await client
      .putRecord({ streamName, partitionKey: "probe", explicitHashKey, data: Buffer.from("probe") }, 30_000)
      .catch(() => undefined);
    if (response !== undefined && response.shardId !== parentShardId) {
      return { ms: performance.now() - startedAt, shardId: response.shardId, probes };
    }
    if (performance.now() - startedAt > ACTIVE_TIMEOUT_MS) {
      throw new Error(
        `no child of ${parentShardId} took a write at ${explicitHashKey} within ${ACTIVE_TIMEOUT_MS} ms`,
      );
    }
  }
}

/** Waits until every producer has been acknowledged after `since` (so a stall still running is measured). */
async function everyProducerAcknowledgedAgain(load: KeyedLoad): Promise<number[]> {
  const acknowledgedAt = load.acknowledged;
  await waitFor(() => load.acknowledged > acknowledgedAt + producers * batch, {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: "the producers to be acknowledged again",
  });
  return load.ackGapsMs();
}

function printLoad(
  baseline: Record<string, number>,
  during: { p50: number; p99: number; max: number },
): void {
  printTable(`the ${loadName} load's PutRecords latency (ms) before and during the reshard`, [
    {
      when: "before (warm-up)",
      p50: baseline.putRecordsP50Ms,
      p99: baseline.putRecordsP99Ms,
      longestAckGap: baseline.longestGapMs,
    },
    { when: "during", p50: round(during.p50), p99: round(during.p99), longestAckGap: "(above)" },
  ]);
}

async function splitPhase(cluster: TestCluster): Promise<void> {
  const streamName = "bench-reshard-split";
  log(`split: ${splitShards}-shard stream, ${producers} ${loadName} producers of ${batch} records`);
  const load = await createLoadedStream(cluster, streamName, splitShards);
  const client = cluster.streams(1);
  const parent = (await listAllShards(client, streamName))[0] as streams.Shard;
  const start = BigInt(parent.hashKeyRange?.startingHashKey ?? "");
  const end = BigInt(parent.hashKeyRange?.endingHashKey ?? "");
  const middle = (start + end + 1n) / 2n;
  const acknowledgedBefore = load.acknowledged;
  const cpuBefore = nodeCpuSeconds(cluster);
  const baseline = baselineOf(load);
  const startedAt = performance.now();
  const call = client.splitShard({
    streamName,
    shardToSplit: parent.shardId,
    newStartingHashKey: middle.toString(),
  });
  // The probes go through nodes 2 and 3 so that node 1 serves the call alone.
  const [low, high] = await Promise.all([
    probeUntilChild(cluster.streams(2), streamName, parent.shardId, start.toString(), startedAt),
    probeUntilChild(cluster.streams(3), streamName, parent.shardId, middle.toString(), startedAt),
    call,
  ]);
  const callMs = performance.now() - startedAt;
  const activeMs = await timeToActive(client, streamName, startedAt);
  const gaps = await everyProducerAcknowledgedAgain(load);
  const elapsedMs = performance.now() - startedAt;
  const stats = await load.stop();
  const row = {
    phase: "SplitShard",
    childrenWritableMs: round(Math.max(low.ms, high.ms)),
    lowChildMs: round(low.ms),
    highChildMs: round(high.ms),
    probes: low.probes + high.probes,
    activeMs: round(activeMs),
    longestStallMs: round(Math.max(...gaps)),
    stallsMsPerProducer: gaps.map((gap) => round(gap)).join("/"),
    recordsPerSecond: round(((load.acknowledged - acknowledgedBefore) * 1_000) / elapsedMs),
    throttled: stats.errors.get("ProvisionedThroughputExceededException") ?? 0,
    otherFailures:
      stats.failedRecords +
      stats.failedCalls -
      (stats.errors.get("ProvisionedThroughputExceededException") ?? 0),
    nodeCpu: cpuPercent(cpuBefore, nodeCpuSeconds(cluster), elapsedMs),
  };
  log(`split: call returned after ${round(callMs)} ms; children ${low.shardId}, ${high.shardId}`);
  const during = load.takeCallLatency();
  printTable("SplitShard under load (ms from the call)", [row]);
  printLoad(baseline, during);
  results.split = {
    ...row,
    baseline,
    putRecordsDuring: during,
    callMs: round(callMs),
    children: [low.shardId, high.shardId],
    load: summary(stats),
  };
  summaryRows.push(
    {
      metric: "SplitShard → both children accept writes",
      value: `${row.childrenWritableMs} ms`,
      target: `≤ ${TARGET_CHILDREN_WRITABLE_MS} ms`,
      met: row.childrenWritableMs <= TARGET_CHILDREN_WRITABLE_MS ? "yes" : "NO",
    },
    {
      metric: "longest producer stall during the split",
      value: `${row.longestStallMs} ms`,
      target: `≤ ${TARGET_STALL_MS} ms`,
      met: row.longestStallMs <= TARGET_STALL_MS ? "yes" : "NO",
    },
  );
  await client.deleteStream({ streamName });
}

async function scalePhase(cluster: TestCluster): Promise<void> {
  const streamName = "bench-reshard-scale";
  log(`scale: ${scaleFrom}-shard stream, ${producers} ${loadName} producers of ${batch} records`);
  const createdAt = performance.now();
  const load = await createLoadedStream(cluster, streamName, scaleFrom);
  log(`scale: stream created and warmed up in ${round(performance.now() - createdAt)} ms`);
  const client = cluster.streams(1);
  const acknowledgedBefore = load.acknowledged;
  const cpuBefore = nodeCpuSeconds(cluster);
  const children = new Map<string, number>();
  const before = new Set((await listAllShards(client, streamName)).map((shard) => shard.shardId));
  const baseline = baselineOf(load);
  const startedAt = performance.now();
  const stopWatching = load.onAck((shardId, atMs) => {
    if (!before.has(shardId) && !children.has(shardId)) children.set(shardId, atMs - startedAt);
  });
  const response = await client.updateShardCount({
    streamName,
    targetShardCount: scaleTo,
    scalingType: UNIFORM,
  });
  const callMs = performance.now() - startedAt;
  const activeMs = await timeToActive(client, streamName, startedAt);
  const gaps = await everyProducerAcknowledgedAgain(load);
  const elapsedMs = performance.now() - startedAt;
  stopWatching();
  const stats = await load.stop();
  const shards = await listAllShards(client, streamName);
  const open = shards.filter((shard) => (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "");
  const firstAcks = [...children.values()].sort((a, b) => a - b);
  const row = {
    phase: `UpdateShardCount ${response.currentShardCount} → ${response.targetShardCount}`,
    openShardsAfter: open.length,
    callMs: round(callMs),
    activeMs: round(activeMs),
    childrenAcknowledged: children.size,
    lastChildFirstAckMs: round(firstAcks[firstAcks.length - 1] ?? Number.NaN),
    longestStallMs: round(Math.max(...gaps)),
    stallsMsPerProducer: gaps.map((gap) => round(gap)).join("/"),
    recordsPerSecond: round(((load.acknowledged - acknowledgedBefore) * 1_000) / elapsedMs),
    throttled: stats.errors.get("ProvisionedThroughputExceededException") ?? 0,
    otherFailures:
      stats.failedRecords +
      stats.failedCalls -
      (stats.errors.get("ProvisionedThroughputExceededException") ?? 0),
    nodeCpu: cpuPercent(cpuBefore, nodeCpuSeconds(cluster), elapsedMs),
  };
  const during = load.takeCallLatency();
  printTable("UpdateShardCount under load (ms from the call)", [row]);
  printLoad(baseline, during);
  results.scale = { ...row, baseline, putRecordsDuring: during, load: summary(stats) };
  summaryRows.push(
    {
      metric: `UpdateShardCount ${scaleFrom} → ${scaleTo}: time to ACTIVE`,
      value: `${row.activeMs} ms`,
      target: "(none)",
      met: "-",
    },
    {
      metric: `longest producer stall during UpdateShardCount ${scaleFrom} → ${scaleTo}`,
      value: `${row.longestStallMs} ms`,
      target: `≤ ${TARGET_STALL_MS} ms`,
      met: row.longestStallMs <= TARGET_STALL_MS ? "yes" : "NO",
    },
  );
}

/**
 * What the load looked like before the reshard (warm-up): its PutRecords latency and the longest
 * gap between acknowledgements, the floor under any stall; then resets both for the reshard.
 */
function baselineOf(load: KeyedLoad): Record<string, number> {
  const latency = load.takeCallLatency();
  const longestGapMs = Math.max(...load.ackGapsMs());
  load.resetAckGaps();
  return {
    putRecordsP50Ms: round(latency.p50),
    putRecordsP99Ms: round(latency.p99),
    longestGapMs: round(longestGapMs),
  };
}

function summary(stats: Awaited<ReturnType<KeyedLoad["stop"]>>): Record<string, unknown> {
  return {
    acknowledged: stats.acknowledged,
    recordsPerSecond: round(stats.recordsPerSecond),
    failedRecords: stats.failedRecords,
    failedCalls: stats.failedCalls,
    errors: Object.fromEntries(stats.errors),
    longestAckGapMsPerProducer: stats.producers.map((p) => round(p.longestAckGapMs)),
  };
}

const cluster = await startCluster({ basePort, startTimeoutMs: 120_000 });
try {
  log(`cluster up on ports ${basePort}-${basePort + 11}, data in ${cluster.dataDir}`);
  if (phases.has("split")) await splitPhase(cluster);
  if (phases.has("scale")) await scalePhase(cluster);
} finally {
  await cluster.stop();
}

printTable("issue #6 targets (2-core machine, three nodes, fsync on)", summaryRows);
results.targets = summaryRows;
const outDir = join(process.cwd(), "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `reshard-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${outFile}`);
