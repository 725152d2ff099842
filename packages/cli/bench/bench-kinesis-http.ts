/**
 * The speed comparison of issue #8: the same PutRecords workload through the unmodified AWS SDK
 * for JavaScript v3 (@aws-sdk/client-kinesis, HTTP/1.1 keep-alive) against
 *
 *   - sluice:        a three-node cluster on loopback (harness, ports from --base-port, fsync on,
 *                    every record replicated to a quorum before it is acknowledged), the callers
 *                    spread over the three nodes' Kinesis ports;
 *   - kinesalite:    npm `kinesalite`, in memory (no --path), one process;
 *   - kinesis-local: npm `kinesis-local` (kinesis-mock compiled to JavaScript), in memory, one
 *                    process, plain HTTP port.
 *
 * Workload: a 16-shard stream (ON_DEMAND on Sluice: no per-shard throttle; the emulators do not
 * throttle), PutRecords of 500 × 1 KiB records with random partition keys, 8 concurrent callers in
 * a closed loop for --seconds (after a short warm-up). Reported per target: acknowledged records/s,
 * calls/s, failed records, and the latency of a PutRecords call (p50/p99/max, ms). Prints a table
 * and writes JSON to bench-results/ (git-ignored). Every server listens on 127.0.0.1 and is
 * stopped at the end. Run after `pnpm tsc -b` (scripts/bench-kinesis-http does).
 *
 *   ./scripts/bench-kinesis-http [--seconds 10] [--callers 8] [--only sluice,kinesalite,kinesis-local]
 *                                [--base-port 19584]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from "@aws-sdk/client-kinesis";
import {
  LatencyRecorder,
  type LatencySummary,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const BATCH_RECORDS = 500;
const RECORD_BYTES = 1_024;
const SHARD_COUNT = 16;
const KEY_POOL_SIZE = 65_536;
const WARM_UP_MS = 2_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const TARGETS = ["sluice", "kinesalite", "kinesis-local"] as const;
type TargetName = (typeof TARGETS)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    callers: { type: "string", default: "8" },
    only: { type: "string", default: TARGETS.join(",") },
    "base-port": { type: "string", default: "19584" },
  },
});
const seconds = Number(values.seconds);
const callerCount = Number(values.callers);
const basePort = Number(values["base-port"]);
const only = (values.only ?? "")
  .split(",")
  .filter((name): name is TargetName => (TARGETS as readonly string[]).includes(name));
if (!(seconds > 0) || !Number.isInteger(callerCount) || callerCount < 1 || !Number.isInteger(basePort)) {
  throw new Error("usage: --seconds N (> 0) --callers N (≥ 1) --base-port N");
}

interface Target {
  readonly name: TargetName;
  readonly endpoints: readonly string[];
  readonly durable: string;
  stop(): Promise<void>;
}

interface Result {
  readonly target: TargetName;
  readonly durable: string;
  readonly recordsPerSecond: number;
  readonly callsPerSecond: number;
  readonly failedRecords: number;
  readonly callErrors: number;
  readonly latencyMs: LatencySummary;
  readonly note?: string;
}

const require = createRequire(import.meta.url);
const keys = Array.from({ length: KEY_POOL_SIZE }, () => randomBytes(12).toString("hex"));
const payload = randomBytes(RECORD_BYTES);

function client(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "bench" },
    requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: callerCount } }),
    maxAttempts: 1,
  });
}

/** Starts a server process and waits until its Kinesis API answers ListStreams. */
async function startProcess(
  name: TargetName,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  endpoint: string,
  cwd: string,
): Promise<Target> {
  const child: ChildProcess = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const probe = client(endpoint);
  try {
    const state = await waitFor(
      async () => {
        if (child.exitCode !== null) return { exitCode: child.exitCode };
        await probe.send(new DescribeStreamSummaryCommand({ StreamName: "probe" })).catch((error: Error) => {
          if (error.name !== "ResourceNotFoundException") throw error;
        });
        return { exitCode: null };
      },
      { timeoutMs: SERVER_START_TIMEOUT_MS, what: `${name} to serve on ${endpoint}`, intervalMs: 200 },
    );
    if (state.exitCode !== null) throw new Error(`${name} exited with ${state.exitCode}`);
  } finally {
    probe.destroy();
  }
  return {
    name,
    endpoints: [endpoint],
    durable: "no (in memory, one process)",
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function startTarget(name: TargetName): Promise<Target> {
  // The cluster takes basePort … basePort+11; kinesalite +13, kinesis-local +14 (its TLS port +15).
  const port = basePort + 12 + TARGETS.indexOf(name);
  switch (name) {
    case "sluice": {
      const cluster: TestCluster = await startCluster({ basePort, startTimeoutMs: 120_000 });
      return {
        name,
        endpoints: [1, 2, 3].map((id) => `http://127.0.0.1:${cluster.ports(id).http}`),
        durable: "yes (3 replicas, quorum fsync)",
        stop: () => cluster.stop(),
      };
    }
    case "kinesalite": {
      const main = join(dirname(require.resolve("kinesalite/package.json")), "cli.js");
      return startProcess(
        name,
        process.execPath,
        [main, "--port", String(port), "--createStreamMs", "0", "--shardLimit", "100"],
        {},
        `http://127.0.0.1:${port}`,
        dirname(main),
      );
    }
    case "kinesis-local": {
      const main = join(dirname(require.resolve("kinesis-local/package.json")), "main.js");
      return startProcess(
        name,
        process.execPath,
        [main],
        {
          KINESIS_MOCK_PLAIN_PORT: String(port),
          KINESIS_MOCK_TLS_PORT: String(basePort + 15),
          CREATE_STREAM_DURATION: "0ms",
          SHOULD_PERSIST_DATA: "false",
          LOG_LEVEL: "ERROR",
        },
        `http://127.0.0.1:${port}`,
        // It reads its TLS key pair from ./server.json.
        dirname(main),
      );
    }
  }
}

async function createStream(target: Target, streamName: string): Promise<void> {
  const admin = client(target.endpoints[0] as string);
  try {
    await admin.send(
      new CreateStreamCommand({
        StreamName: streamName,
        ShardCount: SHARD_COUNT,
        ...(target.name === "sluice" ? { StreamModeDetails: { StreamMode: "ON_DEMAND" } } : {}),
      }),
    );
    for (const endpoint of target.endpoints) {
      const reader = client(endpoint);
      await waitFor(
        async () =>
          (await reader.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
            .StreamDescriptionSummary?.StreamStatus === "ACTIVE",
        { timeoutMs: 30_000, what: `${streamName} ACTIVE on ${endpoint}`, intervalMs: 100 },
      );
      reader.destroy();
    }
  } finally {
    admin.destroy();
  }
}

function batch(): PutRecordsRequestEntry[] {
  return Array.from({ length: BATCH_RECORDS }, () => ({
    PartitionKey: keys[Math.floor(Math.random() * KEY_POOL_SIZE)] as string,
    Data: payload,
  }));
}

async function run(target: Target): Promise<Result> {
  const streamName = `bench-http-${process.pid}`;
  await createStream(target, streamName);
  const clients = Array.from({ length: callerCount }, (_, i) =>
    client(target.endpoints[i % target.endpoints.length] as string),
  );
  const latency = new LatencyRecorder();
  let records = 0;
  let calls = 0;
  let failedRecords = 0;
  let callErrors = 0;
  let lastError = "";
  const warmUntil = Date.now() + WARM_UP_MS;
  const endAt = warmUntil + seconds * 1_000;
  await Promise.all(
    clients.map(async (kinesis) => {
      while (Date.now() < endAt) {
        const started = performance.now();
        try {
          const response = await kinesis.send(
            new PutRecordsCommand({ StreamName: streamName, Records: batch() }),
          );
          const took = performance.now() - started;
          if (Date.now() < warmUntil) continue;
          latency.record(took);
          calls += 1;
          const failed = response.FailedRecordCount ?? 0;
          failedRecords += failed;
          records += BATCH_RECORDS - failed;
        } catch (error) {
          if (Date.now() >= warmUntil) callErrors += 1;
          lastError = `${(error as Error).name}: ${(error as Error).message}`.slice(0, 160);
        }
      }
    }),
  );
  for (const kinesis of clients) kinesis.destroy();
  // Calls still in flight at the end finish late: rates are over the time until the last one did.
  const measuredSeconds = Math.max(Date.now() - warmUntil, seconds * 1_000) / 1_000;
  return {
    target: target.name,
    durable: target.durable,
    recordsPerSecond: Math.round(records / measuredSeconds),
    callsPerSecond: Math.round((calls / measuredSeconds) * 10) / 10,
    failedRecords,
    callErrors,
    latencyMs: latency.summary(),
    ...(lastError === "" ? {} : { note: `last error: ${lastError}` }),
  };
}

const results: Result[] = [];
for (const name of only) {
  process.stdout.write(`${name}: starting…\n`);
  let target: Target | undefined;
  try {
    target = await startTarget(name);
    process.stdout.write(
      `${name}: ${callerCount} callers × PutRecords ${BATCH_RECORDS} × ${RECORD_BYTES} B, ${seconds} s\n`,
    );
    results.push(await run(target));
  } catch (error) {
    process.stdout.write(`${name}: skipped (${(error as Error).message})\n`);
  } finally {
    await target?.stop().catch(() => {});
  }
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "-");
const rows = [
  ["target", "records/s", "calls/s", "p50 ms", "p99 ms", "max ms", "failed", "errors", "durable"],
  ...results.map((r) => [
    r.target,
    String(r.recordsPerSecond),
    fixed(r.callsPerSecond),
    fixed(r.latencyMs.p50),
    fixed(r.latencyMs.p99),
    fixed(r.latencyMs.max),
    String(r.failedRecords),
    String(r.callErrors),
    r.durable,
  ]),
];
const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
process.stdout.write(
  `\nPutRecords ${BATCH_RECORDS} × ${RECORD_BYTES} B through @aws-sdk/client-kinesis (HTTP/1.1), ${callerCount} callers, ${seconds} s, ${SHARD_COUNT} shards, ${cpus().length} cores\n`,
);
for (const row of rows)
  process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ")}\n`);
for (const r of results) if (r.note !== undefined) process.stdout.write(`${r.target}: ${r.note}\n`);

const outDir = join(process.cwd(), "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `kinesis-http-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(
  outFile,
  `${JSON.stringify({ workload: { batchRecords: BATCH_RECORDS, recordBytes: RECORD_BYTES, callers: callerCount, seconds, shards: SHARD_COUNT }, results }, null, 2)}\n`,
);
process.stdout.write(`\nJSON: ${outFile}\n`);
