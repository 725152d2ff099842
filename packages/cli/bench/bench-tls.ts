/**
 * The cost of TLS (issue #12): the batched PutRecords workload of the streams benchmark against a
 * plaintext three-node cluster, a TLS cluster (TLS on the public gRPC port, mutual TLS on the peer
 * port) and a TLS cluster with authentication on (bearer access key on every call, admin policy),
 * in one run. Each measurement starts a fresh cluster (@sluice/harness, loopback, fsync on, data
 * in a temporary folder) and the modes are interleaved round after round (off, tls, tls+auth,
 * off, tls, tls+auth, …) so that a noisy neighbour on a shared machine hits every mode alike.
 *
 *   scripts/bench-tls [--seconds 10] [--rounds 2] [--modes off,tls,tls+auth] [--producers 8]
 *                     [--base-port 20140] [--cpu-prof DIR]
 *
 * Workload: 16-shard ON_DEMAND stream, closed-loop PutRecords of 500 × 1 KiB records with random
 * partition keys from --producers producers spread over the three nodes (one gRPC connection per
 * node), after a 2 s warm-up. Reported per run and per mode (the median of its rounds):
 * records/s, MiB/s, PutRecords latency p50/p99, and the nodes' CPU µs per record — the figure
 * that other load on the machine does not move — with the ratio of each mode to plaintext. Also
 * prints the TLS version and cipher the nodes negotiate. Writes JSON to bench-results/.
 * Run after `pnpm tsc -b` (scripts/bench-tls does); with Node's type stripping.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { parseArgs } from "node:util";
import {
  LatencyRecorder,
  readProcessStat,
  StreamsCallError,
  startCluster,
  summarizeCpuProfiles,
  type TestCluster,
} from "@sluice/harness";
import { streams } from "@sluice/proto";

const BATCH_RECORDS = 500;
const RECORD_BYTES = 1_024;
const SHARD_COUNT = 16;
const KEY_POOL_SIZE = 65_536;
const WARM_UP_SECONDS = 2;
const CALL_TIMEOUT_MS = 30_000;
const CLUSTER_START_TIMEOUT_MS = 120_000;
/** /proc/<pid>/stat counts CPU time in these. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Issue #12's budget: batched throughput with TLS on at most this much lower than without. */
const TARGET_TLS_THROUGHPUT_LOSS_PERCENT_MAX = 15;

const MODES = ["off", "tls", "tls+auth"] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    modes: { type: "string", default: MODES.join(",") },
    producers: { type: "string", default: "8" },
    "base-port": { type: "string", default: "20140" },
    "cpu-prof": { type: "string" },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const producerCount = Number(values.producers);
const basePort = Number(values["base-port"]);
const cpuProfDir = values["cpu-prof"];
const modes = String(values.modes).split(",") as Mode[];
for (const mode of modes) {
  if (!MODES.includes(mode)) throw new Error(`--modes: unknown mode "${mode}"; use ${MODES.join(", ")}`);
}
if (!(seconds > 0)) throw new Error("--seconds must be a positive number");
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("--rounds must be a positive integer");
if (!(Number.isInteger(producerCount) && producerCount > 0))
  throw new Error("--producers must be a positive integer");

function log(line: string): void {
  process.stderr.write(`bench-tls: ${line}\n`);
}

function round(value: number, digits = 2): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

const keyPool = Array.from({ length: KEY_POOL_SIZE }, () => randomBytes(12).toString("base64url"));
const payload = randomBytes(RECORD_BYTES);

interface RunResult {
  readonly mode: Mode;
  readonly round: number;
  readonly recordsPerSecond: number;
  readonly mibPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failedRecords: number;
  readonly nodeCpuMicrosPerRecord: number;
  readonly benchCpuPercentOfOneCore: number;
  readonly loadAverage: number;
}

function nodeTicks(cluster: TestCluster): number {
  let ticks = 0;
  for (const nodeId of cluster.nodeIds) {
    const stat = readProcessStat(cluster.process(nodeId).pid ?? 0);
    ticks += stat.userTicks + stat.systemTicks;
  }
  return ticks;
}

/** Closed-loop PutRecords from every producer until `durationSeconds` have passed. */
async function load(cluster: TestCluster, streamName: string, durationSeconds: number) {
  const latency = new LatencyRecorder();
  let records = 0;
  let failedRecords = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationSeconds * 1_000;
  await Promise.all(
    Array.from({ length: producerCount }, async (_, producer) => {
      const client = cluster.streams(cluster.nodeIds[producer % cluster.nodeIds.length] ?? 1);
      while (performance.now() < endAt) {
        const batch = Array.from({ length: BATCH_RECORDS }, () => ({
          partitionKey: keyPool[Math.floor(Math.random() * KEY_POOL_SIZE)] ?? "key",
          data: payload,
          explicitHashKey: "",
        }));
        const begun = performance.now();
        try {
          const response = await client.putRecords({ streamName, records: batch }, CALL_TIMEOUT_MS);
          latency.record(performance.now() - begun);
          records += BATCH_RECORDS - response.failedRecordCount;
          failedRecords += response.failedRecordCount;
        } catch (error) {
          if (!(error instanceof StreamsCallError)) throw error;
          failedRecords += BATCH_RECORDS;
        }
      }
    }),
  );
  return { latency, records, failedRecords, elapsedSeconds: (performance.now() - startedAt) / 1_000 };
}

/** The TLS version and cipher a client negotiates with the node's public gRPC port. */
function negotiated(cluster: TestCluster): Promise<string> {
  const ca = cluster.tlsCa;
  if (ca === undefined) return Promise.resolve("plaintext");
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port: cluster.ports(1).grpc, ca, ALPNProtocols: ["h2"], servername: "localhost" },
      () => {
        const cipher = socket.getCipher();
        resolve(`${socket.getProtocol()} ${cipher.standardName} (ALPN ${socket.alpnProtocol || "none"})`);
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

async function measure(mode: Mode, roundNumber: number): Promise<RunResult & { cipher: string }> {
  const profileDir = cpuProfDir === undefined ? undefined : join(cpuProfDir, `${mode}-${roundNumber}`);
  const cluster = await startCluster({
    basePort,
    startTimeoutMs: CLUSTER_START_TIMEOUT_MS,
    tls: mode !== "off",
    auth: mode === "tls+auth",
    ...(profileDir === undefined ? {} : { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } }),
  });
  try {
    const streamName = "bench-tls";
    await cluster.streams(1).createActiveStream(
      {
        streamName,
        shardCount: SHARD_COUNT,
        streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
      },
      CLUSTER_START_TIMEOUT_MS,
    );
    for (const nodeId of cluster.nodeIds) {
      await cluster
        .streams(nodeId)
        .waitStreamStatus(streamName, streams.StreamStatus.STREAM_STATUS_ACTIVE, 60_000);
    }
    const cipher = await negotiated(cluster);
    await load(cluster, streamName, WARM_UP_SECONDS);
    const ticksBefore = nodeTicks(cluster);
    const selfBefore = process.cpuUsage();
    const run = await load(cluster, streamName, seconds);
    const nodeCpuSeconds = (nodeTicks(cluster) - ticksBefore) / CLOCK_TICKS_PER_SECOND;
    const self = process.cpuUsage(selfBefore);
    const result = {
      mode,
      round: roundNumber,
      cipher,
      recordsPerSecond: Math.round(run.records / run.elapsedSeconds),
      mibPerSecond: round((run.records * RECORD_BYTES) / 1_048_576 / run.elapsedSeconds, 1),
      p50Ms: round(run.latency.quantile(0.5)),
      p99Ms: round(run.latency.quantile(0.99)),
      failedRecords: run.failedRecords,
      nodeCpuMicrosPerRecord:
        run.records === 0 ? Number.NaN : Math.round((nodeCpuSeconds * 1e6) / run.records),
      benchCpuPercentOfOneCore: round((100 * (self.user + self.system)) / 1e6 / run.elapsedSeconds, 1),
      loadAverage: round(loadavg()[0] ?? Number.NaN, 1),
    };
    log(
      `round ${roundNumber} ${mode}: ${result.recordsPerSecond} records/s, p99 ${result.p99Ms} ms, ${result.nodeCpuMicrosPerRecord} node CPU µs/record (${cipher})`,
    );
    return result;
  } finally {
    await cluster.stop();
  }
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

log(
  `${rounds} rounds of ${modes.join(", ")}; ${producerCount} producers × ${BATCH_RECORDS} × ${RECORD_BYTES} B, ${SHARD_COUNT} shards, ${seconds} s each; ports ${basePort}-${basePort + 11}; load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(" ")}`,
);
const runs: (RunResult & { cipher: string })[] = [];
for (let roundNumber = 1; roundNumber <= rounds; roundNumber += 1) {
  for (const mode of modes) runs.push(await measure(mode, roundNumber));
}

printTable(
  "every run, in the order run",
  runs.map((run) => ({
    round: run.round,
    mode: run.mode,
    "records/s": run.recordsPerSecond,
    "MiB/s": run.mibPerSecond,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    failed: run.failedRecords,
    nodeCpuUsPerRecord: run.nodeCpuMicrosPerRecord,
    benchCpuPct: run.benchCpuPercentOfOneCore,
    load1m: run.loadAverage,
  })),
);

const baseline = runs.filter((run) => run.mode === "off");
const baselineRecords = median(baseline.map((run) => run.recordsPerSecond));
const baselineCpu = median(baseline.map((run) => run.nodeCpuMicrosPerRecord));
const summary = modes.map((mode) => {
  const own = runs.filter((run) => run.mode === mode);
  const recordsPerSecond = median(own.map((run) => run.recordsPerSecond));
  const cpu = median(own.map((run) => run.nodeCpuMicrosPerRecord));
  return {
    mode,
    "records/s": Math.round(recordsPerSecond),
    "MiB/s": round(median(own.map((run) => run.mibPerSecond)), 1),
    p50Ms: round(median(own.map((run) => run.p50Ms))),
    p99Ms: round(median(own.map((run) => run.p99Ms))),
    nodeCpuUsPerRecord: Math.round(cpu),
    "throughput vs off": baseline.length === 0 ? "n/a" : `${round(recordsPerSecond / baselineRecords, 3)}`,
    "node CPU vs off": baseline.length === 0 ? "n/a" : `${round(cpu / baselineCpu, 3)}`,
    cipher: own[0]?.cipher ?? "",
  };
});
printTable(`median of ${rounds} rounds per mode (ratios against plaintext)`, summary);
const tlsRow = summary.find((row) => row.mode === "tls");
if (tlsRow !== undefined && baseline.length > 0) {
  const lossPercent = round(100 * (1 - tlsRow["records/s"] / baselineRecords), 1);
  console.log(
    `\nTLS throughput loss: ${lossPercent}% (issue #12 budget: ≤ ${TARGET_TLS_THROUGHPUT_LOSS_PERCENT_MAX}%)`,
  );
}

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  seconds,
  rounds,
  producers: producerCount,
  runs,
  summary,
};
if (cpuProfDir !== undefined) {
  for (const mode of modes) {
    for (let roundNumber = 1; roundNumber <= rounds; roundNumber += 1) {
      const profile = summarizeCpuProfiles(join(cpuProfDir, `${mode}-${roundNumber}`));
      results[`cpuProfile-${mode}-${roundNumber}`] = profile;
      printTable(
        `${mode}, round ${roundNumber}: node CPU profile self time by package (${profile.busyMs} ms busy)`,
        profile.byPackage.map((entry) => ({ ...entry })),
      );
    }
  }
}
const outDir = join(process.cwd(), "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `tls-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${outFile}`);
