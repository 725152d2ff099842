// Proves `sluice bench --smoke` (the command of scripts/bench) still works end to end against a
// real three-node cluster: every workload of Sluice over gRPC and over the Kinesis HTTP API
// produced figures (records counted, percentiles in order, server processes measured), and the
// JSON and the SVG chart were written; and that the report's arithmetic (medians over rounds,
// n/a versus failed) and JetStream's key → subject mapping (Kinesis's shard of the key) are
// right. It asserts that figures exist, never what they are.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_MAIN_PATH, evenHashKeyRanges, partitionKeyHashKey, rangeIndexOf } from "@sluice/harness";
import { afterAll, describe, expect, it } from "vitest";
import { shardOfKey } from "../bench/lib/jetstream-target.ts";
import { formatMarkdown, latencyChartSvg, summarize } from "../bench/lib/report.ts";
import type { BenchReport } from "../bench/lib/run.ts";
import { skippedResult, type WorkloadResult } from "../bench/lib/workloads.ts";

// The bench itself uses ports 20800-20811 (its Sluice cluster).
const SMOKE_TIMEOUT_MS = 240_000;
const WORKLOADS = ["put-records", "put-record-1", "put-record-32", "delivery-poll", "delivery-subscribe"];
const TARGETS = ["sluice-grpc", "sluice-http"];

interface Result {
  readonly target: string;
  readonly workload: string;
  readonly skipped?: string;
  readonly records: number;
  readonly recordsPerSecond: number;
  readonly latencyMs: { count: number; p50: number; p90: number; p99: number; p999: number; max: number };
  readonly resources?: { processes: { pid: number; rssPeakMiB: number }[] };
}

const outDir = mkdtempSync(join(tmpdir(), "sluice-bench-smoke-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function runBench(args: readonly string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN_PATH, "bench", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (status) => resolve({ status, output }));
  });
}

describe("sluice bench --smoke", () => {
  it(
    "measures every workload of Sluice over gRPC and HTTP and writes the JSON and the chart",
    async () => {
      const run = await runBench(["--smoke", "--targets", TARGETS.join(","), "--out", outDir]);
      expect(run.status, run.output).toBe(0);
      const files = readdirSync(outDir);
      const jsonFile = files.find((file) => file.endsWith(".json"));
      const svgFile = files.find((file) => file.endsWith(".svg"));
      expect(jsonFile, files.join(", ")).toBeDefined();
      expect(svgFile, files.join(", ")).toBeDefined();
      const report = JSON.parse(readFileSync(join(outDir, jsonFile as string), "utf8")) as {
        results: Result[];
      };
      for (const target of TARGETS) {
        for (const workload of WORKLOADS) {
          const result = report.results.find(
            (entry) => entry.target === target && entry.workload === workload,
          );
          const what = `${target} ${workload}: ${JSON.stringify(result)}`;
          expect(result, what).toBeDefined();
          if (result === undefined) continue;
          expect(result.skipped, what).toBeUndefined();
          expect(result.records, what).toBeGreaterThan(0);
          expect(result.recordsPerSecond, what).toBeGreaterThan(0);
          const { count, p50, p90, p99, p999, max } = result.latencyMs;
          expect(count, what).toBeGreaterThan(0);
          expect(p50, what).toBeGreaterThan(0);
          expect(p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, what).toBe(true);
          expect(result.resources?.processes.length, what).toBe(3);
          for (const process of result.resources?.processes ?? [])
            expect(process.rssPeakMiB, what).toBeGreaterThan(0);
        }
      }
      const svg = readFileSync(join(outDir, svgFile as string), "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      for (const target of TARGETS) expect(svg).toContain(target);
      expect(run.output).toContain("sluice-http");
    },
    SMOKE_TIMEOUT_MS,
  );
});

function figures(
  target: "sluice-grpc" | "jetstream",
  workload: string,
  recordsPerSecond: number,
  p50: number,
): WorkloadResult {
  return {
    target,
    workload,
    records: recordsPerSecond,
    seconds: 1,
    recordsPerSecond,
    mibPerSecond: recordsPerSecond / 1_024,
    latencyMs: { count: 10, p50, p90: p50 * 2, p99: p50 * 3, p999: p50 * 4, max: p50 * 5, mean: p50 },
    failedRecords: 0,
    failedCalls: 0,
  };
}

function report(results: readonly (WorkloadResult & { round: number })[]): BenchReport {
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    machine: {
      cpus: 2,
      cpuModel: "test",
      memoryGiB: 1,
      node: "v24",
      loadAverageAtStart: [0],
      loadAverageAtEnd: [0],
    },
    settings: {
      targets: ["sluice-grpc", "jetstream"],
      workloads: ["put-records", "delivery-poll"],
      callers: [1],
      rounds: 3,
      seconds: 1,
      warmUpSeconds: 0,
      shardCount: 4,
      producers: 8,
      batchRecords: 100,
      deliveryRatePerSecond: 100,
    },
    targets: [
      { name: "sluice-grpc", description: "Sluice", durability: "fsync" },
      { name: "jetstream", description: "JetStream", durability: "page cache" },
    ],
    results,
  };
}

describe("the bench's report", () => {
  const rounds = report([
    { ...figures("sluice-grpc", "put-records", 100, 1), round: 1 },
    { ...figures("sluice-grpc", "put-records", 300, 3), round: 2 },
    { ...figures("sluice-grpc", "put-records", 200, 2), round: 3 },
    { ...skippedResult("sluice-grpc", "delivery-poll", "failed: boom"), round: 1 },
    { ...figures("jetstream", "put-records", 50, 8), round: 1 },
    { ...skippedResult("jetstream", "delivery-poll", "jetstream offers no poll consumer"), round: 1 },
  ]);

  it("gives each figure as the median over the rounds that ran", () => {
    const batched = summarize(rounds).find(
      (entry) => entry.target === "sluice-grpc" && entry.workload === "put-records",
    );
    expect(batched).toMatchObject({ rounds: 3, recordsPerSecond: 200, p50: 2, p99: 6 });
    const failed = summarize(rounds).find(
      (entry) => entry.target === "sluice-grpc" && entry.workload === "delivery-poll",
    );
    expect(failed).toMatchObject({ rounds: 0, skipped: "failed: boom" });
  });

  it("tells a workload a target does not offer (n/a) from one that failed", () => {
    const markdown = formatMarkdown(rounds);
    const sluiceRow = markdown.split("\n").find((line) => line.startsWith("| **sluice-grpc**"));
    const jetstreamRow = markdown.split("\n").find((line) => line.startsWith("| **jetstream**"));
    expect(sluiceRow).toContain("| 200; 2.00 / 6.00 |");
    expect(sluiceRow).toContain("| failed |");
    expect(jetstreamRow).toContain("| n/a |");
    expect(markdown).toContain("sluice-grpc delivery-poll: failed: boom");
    const svg = latencyChartSvg(rounds);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });
});

describe("JetStream's key → subject mapping", () => {
  it("puts every partition key on the subject of the shard Kinesis would pick", () => {
    for (const shards of [1, 4, 16]) {
      const ranges = evenHashKeyRanges(shards);
      for (let key = 0; key < 2_000; key += 1) {
        const partitionKey = `key-${key}-${shards}`;
        expect(shardOfKey(partitionKey, shards), partitionKey).toBe(
          rangeIndexOf(ranges, partitionKeyHashKey(partitionKey)),
        );
      }
    }
  });
});
