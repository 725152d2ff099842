// Proves `sluice bench --smoke` (the command of scripts/bench) still works end to end against a
// real three-node cluster: every workload of Sluice over gRPC and over the Kinesis HTTP API
// produced figures (records counted, percentiles in order, server processes measured), and the
// JSON and the SVG chart were written. It asserts that figures exist, never what they are.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_MAIN_PATH } from "@sluice/harness";
import { afterAll, describe, expect, it } from "vitest";

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
