/**
 * The broker benchmark: a real three-node cluster (started by @sluice/harness on loopback, data
 * in a temporary folder, sync on) measured from outside, as an operator would see it.
 *
 *   scripts/bench-broker [--only throughput,idle,restart] [--seconds 10] [--idle-seconds 60]
 *                        [--idle-groups 1000] [--restart-mib 1024] [--base-port 18900]
 *                        [--in-flight 64] [--cpu-prof DIR]
 *
 * 1. throughput: closed-loop appends of 64 KiB batches (16 records of 4 KiB) to 1, 4 and 64
 *    groups; committed MB/s and entries/s, client-side commit latency p50/p99/p999, syncs/s and
 *    entries per sync from the nodes' counters (summed over the three nodes), and write
 *    amplification: bytes the three node processes wrote to disk (/proc/<pid>/io write_bytes)
 *    per byte committed, in total and per replica; then the same at half the measured rate (open
 *    loop) for the latency target; and the CPU the three node processes used per MiB committed
 *    (/proc/<pid>/stat), which other load on the machine does not skew as it does MB/s.
 * 2. idle: 1,000 groups, idle and quiesced: CPU % of one core per node over a minute
 *    (/proc/<pid>/stat), resident memory per group, then the time to wake all with one write each.
 * 3. restart: a node whose log holds 1 GiB is SIGKILLed and restarted: time until it serves
 *    (gRPC health) and until it serves the group's last committed entry.
 *
 * Prints a table and writes JSON to bench-results/ (git-ignored). Run after `pnpm tsc -b`.
 * Run with Node's type stripping: node packages/cli/bench/bench-broker.ts
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readProcessIo, readProcessStat, startCluster, type TestCluster, waitFor } from "@sluice/harness";

const BATCH_RECORDS = 16;
const RECORD_BYTES = 4_096;
const BATCH_BYTES = BATCH_RECORDS * RECORD_BYTES;
const CLOCK_TICKS_PER_SECOND = 100;

const { values } = parseArgs({
  options: {
    only: { type: "string", default: "throughput,idle,restart" },
    seconds: { type: "string", default: "10" },
    "idle-seconds": { type: "string", default: "60" },
    "idle-groups": { type: "string", default: "1000" },
    "restart-mib": { type: "string", default: "1024" },
    "base-port": { type: "string", default: "18900" },
    groups: { type: "string", default: "1,4,64" },
    "cpu-prof": { type: "string" },
    "in-flight": { type: "string", default: "64" },
  },
});
const phases = new Set(String(values.only).split(","));
const seconds = Number(values.seconds);
const basePort = Number(values["base-port"]);
const cpuProfDir = values["cpu-prof"];

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  batchBytes: BATCH_BYTES,
};

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function batch(seed: number): { partitionKey: string; data: Buffer }[] {
  return Array.from({ length: BATCH_RECORDS }, (_, position) => ({
    partitionKey: `key-${(seed + position) % 97}`,
    data: Buffer.alloc(RECORD_BYTES, (seed + position) % 251),
  }));
}

async function newCluster(portOffset: number): Promise<TestCluster> {
  return startCluster({
    basePort: basePort + portOffset,
    startTimeoutMs: 120_000,
    ...(cpuProfDir === undefined
      ? {}
      : { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(cpuProfDir, String(portOffset))}` } }),
  });
}

function pids(cluster: TestCluster): number[] {
  return cluster.nodeIds.map((id) => cluster.process(id).pid ?? 0);
}

/** CPU seconds (user + system) the three node processes have used so far. */
function nodeCpuSeconds(cluster: TestCluster): number {
  return pids(cluster).reduce((sum, pid) => {
    const stat = readProcessStat(pid);
    return sum + (stat.userTicks + stat.systemTicks) / CLOCK_TICKS_PER_SECOND;
  }, 0);
}

function diskWrites(cluster: TestCluster): number {
  return pids(cluster).reduce((sum, pid) => sum + readProcessIo(pid).writeBytes, 0);
}

async function counters(cluster: TestCluster): Promise<Record<string, number>> {
  const total: Record<string, number> = {};
  for (const nodeId of cluster.nodeIds) {
    const status = await cluster.admin(nodeId).nodeStatus();
    for (const [name, value] of Object.entries(status.metrics)) total[name] = (total[name] ?? 0) + value;
  }
  return total;
}

/** A counter of the host (summed over the nodes), by its flattened name; NaN when absent. */
function counter(metrics: Record<string, number>, name: string): number {
  return metrics[name] ?? Number.NaN;
}

async function createGroups(cluster: TestCluster, first: number, count: number): Promise<number[]> {
  const ids = Array.from({ length: count }, (_, position) => first + position);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < ids.length) {
        const id = ids[next] ?? 0;
        next += 1;
        await cluster.ensureGroup(id);
      }
    }),
  );
  for (const id of ids) await cluster.leaderOf(id, 60_000);
  return ids;
}

interface LoadResult {
  groups: number;
  mode: string;
  seconds: number;
  appends: number;
  mbPerSecond: number;
  entriesPerSecond: number;
  latencyMsP50: number;
  latencyMsP99: number;
  latencyMsP999: number;
  syncsPerSecond: number;
  entriesPerSync: number;
  writeAmplificationTotal: number;
  writeAmplificationPerReplica: number;
  /** CPU ms of the three node processes (all replicas) per MiB committed: the figure that does
   * not move with other load on the machine, unlike MB/s. */
  nodeCpuMsPerMiB: number;
  /** The largest resident set of any node process seen during the run (sampled), in MiB. */
  nodeRssMiBMax: number;
}

/** How often the node processes' resident memory is sampled during a load run. */
const RSS_SAMPLE_INTERVAL_MS = 100;

/**
 * Appends for `durationSeconds`: closed loop with `workersPerGroup` outstanding appends per group,
 * or open loop at `ratePerSecond` appends per second spread over the groups.
 */
async function load(
  cluster: TestCluster,
  groupIds: readonly number[],
  durationSeconds: number,
  mode: { workersPerGroup: number } | { ratePerSecond: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let appends = 0;
  let failures = 0;
  const metricsBefore = await counters(cluster);
  const writesBefore = diskWrites(cluster);
  const cpuBefore = nodeCpuSeconds(cluster);
  let rssBytesMax = 0;
  const rssSampler = setInterval(() => {
    for (const pid of pids(cluster)) rssBytesMax = Math.max(rssBytesMax, readProcessStat(pid).rssBytes);
  }, RSS_SAMPLE_INTERVAL_MS);
  const startedAt = performance.now();
  const endAt = startedAt + durationSeconds * 1_000;
  const one = async (groupId: number, seed: number): Promise<void> => {
    const begun = performance.now();
    try {
      await cluster.append(groupId, batch(seed), { timeoutMs: 30_000 });
      latencies.push(performance.now() - begun);
      appends += 1;
    } catch {
      failures += 1;
    }
  };
  if ("workersPerGroup" in mode) {
    await Promise.all(
      groupIds.flatMap((groupId) =>
        Array.from({ length: mode.workersPerGroup }, async (_, worker) => {
          let seed = worker;
          while (performance.now() < endAt) await one(groupId, seed++);
        }),
      ),
    );
  } else {
    const inFlight = new Set<Promise<void>>();
    const intervalMs = 1_000 / mode.ratePerSecond;
    let sent = 0;
    while (performance.now() < endAt) {
      const due = startedAt + sent * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const promise = one(groupIds[sent % groupIds.length] ?? 1, sent);
      inFlight.add(promise);
      void promise.finally(() => inFlight.delete(promise));
      sent += 1;
    }
    await Promise.all(inFlight);
  }
  const elapsedSeconds = (performance.now() - startedAt) / 1_000;
  clearInterval(rssSampler);
  const metricsAfter = await counters(cluster);
  const written = diskWrites(cluster) - writesBefore;
  const cpuSeconds = nodeCpuSeconds(cluster) - cpuBefore;
  const committedBytes = appends * BATCH_BYTES;
  // Synced flushes of the persist loops (one fdatasync of the journal each) and the entries they
  // carried, summed over the three nodes.
  const syncs = counter(metricsAfter, "syncs") - counter(metricsBefore, "syncs");
  const entriesPersisted =
    counter(metricsAfter, "entries_persisted") - counter(metricsBefore, "entries_persisted");
  latencies.sort((a, b) => a - b);
  if (failures > 0) log(`${failures} appends failed`);
  return {
    groups: groupIds.length,
    mode:
      "workersPerGroup" in mode
        ? `closed loop, ${mode.workersPerGroup}/group`
        : `open loop, ${mode.ratePerSecond}/s`,
    seconds: Number(elapsedSeconds.toFixed(1)),
    appends,
    mbPerSecond: Number((committedBytes / 1_048_576 / elapsedSeconds).toFixed(1)),
    entriesPerSecond: Math.round(appends / elapsedSeconds),
    latencyMsP50: Number(percentile(latencies, 0.5).toFixed(2)),
    latencyMsP99: Number(percentile(latencies, 0.99).toFixed(2)),
    latencyMsP999: Number(percentile(latencies, 0.999).toFixed(2)),
    syncsPerSecond: Math.round(syncs / elapsedSeconds),
    entriesPerSync: Number((entriesPersisted / syncs).toFixed(2)),
    writeAmplificationTotal: Number((written / committedBytes).toFixed(2)),
    writeAmplificationPerReplica: Number((written / committedBytes / 3).toFixed(2)),
    nodeCpuMsPerMiB: Number(((cpuSeconds * 1_000) / (committedBytes / 1_048_576)).toFixed(1)),
    nodeRssMiBMax: Math.round(rssBytesMax / 1_048_576),
  };
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

async function throughputPhase(): Promise<void> {
  const cluster = await newCluster(0);
  try {
    const rows: LoadResult[] = [];
    let nextGroup = 1;
    for (const count of String(values.groups).split(",").map(Number)) {
      const groupIds = await createGroups(cluster, nextGroup, count);
      nextGroup += count;
      // Appends in flight, in total (at least one per group): a closed loop's throughput is
      // in-flight / latency, and each sync batches what arrived during the previous one.
      const workersPerGroup = Math.max(1, Math.ceil(Number(values["in-flight"]) / count));
      await load(cluster, groupIds, Math.min(2, seconds), { workersPerGroup }); // warm-up
      log(`throughput: ${count} groups, ${workersPerGroup} appends in flight per group, ${seconds} s`);
      const full = await load(cluster, groupIds, seconds, { workersPerGroup });
      rows.push(full);
      const half = Math.max(1, Math.round(full.entriesPerSecond / 2));
      log(`throughput: ${count} groups at half load, ${half} appends/s`);
      rows.push(await load(cluster, groupIds, seconds, { ratePerSecond: half }));
    }
    results.throughput = rows;
    printTable(
      "throughput (64 KiB batches, sync on, 3 replicas)",
      rows as unknown as Record<string, unknown>[],
    );
  } finally {
    await cluster.stop();
  }
}

async function idlePhase(): Promise<void> {
  const groups = Number(values["idle-groups"]);
  const idleSeconds = Number(values["idle-seconds"]);
  const cluster = await newCluster(20);
  try {
    const rssBefore = pids(cluster).map((pid) => readProcessStat(pid).rssBytes);
    log(`idle: creating ${groups} groups`);
    const createdAt = performance.now();
    await createGroups(cluster, 1, groups);
    const createSeconds = (performance.now() - createdAt) / 1_000;
    await waitFor(
      async () => {
        let quiesced = 0;
        for (const nodeId of cluster.nodeIds)
          quiesced += (await cluster.admin(nodeId).nodeStatus()).quiescedGroups;
        return quiesced === 3 * groups;
      },
      { timeoutMs: 120_000, what: `all ${3 * groups} replicas to quiesce`, intervalMs: 500 },
    ).catch((error: unknown) => log(`idle: ${(error as Error).message}; measuring anyway`));
    const led = await Promise.all(
      cluster.nodeIds.map(async (nodeId) => (await cluster.admin(nodeId).nodeStatus()).ledGroupIds.length),
    );
    log(`idle: measuring CPU for ${idleSeconds} s`);
    const before = pids(cluster).map((pid) => readProcessStat(pid));
    const startedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1_000));
    const elapsed = (performance.now() - startedAt) / 1_000;
    const after = pids(cluster).map((pid) => readProcessStat(pid));
    const rows = cluster.nodeIds.map((nodeId, position) => {
      const b = before[position];
      const a = after[position];
      const ticks = (a?.userTicks ?? 0) + (a?.systemTicks ?? 0) - (b?.userTicks ?? 0) - (b?.systemTicks ?? 0);
      return {
        node: nodeId,
        leads: led[position] ?? 0,
        cpuPercentOfOneCore: Number(((100 * ticks) / CLOCK_TICKS_PER_SECOND / elapsed).toFixed(2)),
        rssMiB: Number(((a?.rssBytes ?? 0) / 1_048_576).toFixed(1)),
        rssKiBPerGroup: Number(
          (((a?.rssBytes ?? 0) - (rssBefore[position] ?? 0)) / 1_024 / groups).toFixed(1),
        ),
      };
    });
    log(`idle: waking ${groups} groups with one write each`);
    const wakeStartedAt = performance.now();
    let next = 1;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next <= groups) {
          const groupId = next;
          next += 1;
          await cluster.append(groupId, [{ partitionKey: "wake", data: Buffer.from("wake") }], {
            timeoutMs: 60_000,
          });
        }
      }),
    );
    const wakeSeconds = (performance.now() - wakeStartedAt) / 1_000;
    results.idle = { groups, createSeconds, idleSeconds: elapsed, nodes: rows, wakeAllSeconds: wakeSeconds };
    printTable(
      `${groups} idle groups over ${elapsed.toFixed(0)} s (created in ${createSeconds.toFixed(1)} s)`,
      rows,
    );
    console.log(`woke all ${groups} groups with one write each in ${wakeSeconds.toFixed(2)} s`);
  } finally {
    await cluster.stop();
  }
}

async function restartPhase(): Promise<void> {
  const targetBytes = Number(values["restart-mib"]) * 1_048_576;
  const cluster = await newCluster(40);
  try {
    const groupIds = await createGroups(cluster, 1, 4);
    log(`restart: writing ${(targetBytes / 1_048_576).toFixed(0)} MiB`);
    let written = 0;
    let lastIndex = new Map<number, number>();
    const writeStartedAt = performance.now();
    await Promise.all(
      groupIds.flatMap((groupId) =>
        Array.from({ length: 4 }, async (_, worker) => {
          let seed = worker;
          while (written < targetBytes) {
            written += BATCH_BYTES;
            const ack = await cluster.append(groupId, batch(seed++), { timeoutMs: 60_000 });
            lastIndex.set(groupId, Math.max(lastIndex.get(groupId) ?? 0, ack.index));
          }
        }),
      ),
    );
    const writeSeconds = (performance.now() - writeStartedAt) / 1_000;
    const victim = 2;
    await waitFor(
      async () => {
        for (const groupId of groupIds) {
          const status = await cluster.admin(victim).groupStatus(groupId);
          if (status.appliedIndex < (lastIndex.get(groupId) ?? 0)) return false;
        }
        return true;
      },
      { timeoutMs: 120_000, what: `node ${victim} to apply everything` },
    );
    const dataBytes = directoryBytes(cluster.nodeDataDir(victim));
    log(
      `restart: node ${victim} holds ${(dataBytes / 1_048_576).toFixed(0)} MiB on disk; SIGKILL and restart`,
    );
    await cluster.kill(victim, "SIGKILL");
    const restartAt = performance.now();
    cluster.process(victim).start();
    await cluster.waitServing(victim, 600_000);
    const servingSeconds = (performance.now() - restartAt) / 1_000;
    const lastGroup = groupIds[groupIds.length - 1] ?? 1;
    const lastEntry = lastIndex.get(lastGroup) ?? 1;
    await waitFor(async () => (await cluster.admin(victim).read(lastGroup, lastEntry)).records.length > 0, {
      timeoutMs: 120_000,
      what: `node ${victim} to serve entry ${lastEntry} of group ${lastGroup}`,
    });
    const readSeconds = (performance.now() - restartAt) / 1_000;
    lastIndex = new Map();
    results.restart = {
      logBytes: written,
      dataDirBytes: dataBytes,
      writeSeconds,
      restartToServingSeconds: servingSeconds,
      restartToLastEntrySeconds: readSeconds,
    };
    console.log(
      `\nrestart: ${(written / 1_048_576).toFixed(0)} MiB of log (${(dataBytes / 1_048_576).toFixed(0)} MiB on disk), written in ${writeSeconds.toFixed(1)} s; after SIGKILL the node serves in ${servingSeconds.toFixed(2)} s and serves the last entry in ${readSeconds.toFixed(2)} s`,
    );
  } finally {
    await cluster.stop();
  }
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      try {
        total += statSync(join(entry.parentPath, entry.name)).size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}

if (phases.has("throughput")) await throughputPhase();
if (phases.has("idle")) await idlePhase();
if (phases.has("restart")) await restartPhase();

const outDir = join(process.cwd(), "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `broker-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${outFile}`);
