// Proves `sluice analytics create|list|describe|preview|delete` end to end: the built CLI against a
// real three-node cluster creates a one-second TUMBLE count per key, lists it, describes its SQL,
// where it runs and its metrics, previews the same query live (a child process whose stdout shows
// the rows a reference computes from the records the test writes, stopped cleanly by SIGINT),
// deletes it; and bad input (unsupported SQL, unknown application, missing flags) exits non-zero
// with a clear message and changes nothing.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { SluiceClient } from "@sluice/client";
import {
  CLI_MAIN_PATH,
  type CliRun,
  readStream,
  runCli,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 21150-21161.
const BASE_PORT = 21_150;
const KEYS = 4;
const WINDOWS = 3;
/** Allowed lateness of the query: more than the input spans, so no window closes before both shards are read. */
const LATENESS_MS = 3_000;

let cluster: TestCluster;
let client: SluiceClient;
let endpointArgs: string[];
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  cluster = await startCluster({
    basePort: BASE_PORT,
    env: { ...process.env, SLUICE_DELIVERY: "off", SLUICE_ANALYTICS_SESSION_TIMEOUT_MS: "3000" },
  });
  const endpoints = cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`);
  client = new SluiceClient({ endpoints });
  endpointArgs = endpoints.flatMap((endpoint) => ["--endpoint", endpoint]);
}, 60_000);
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  client?.close();
  await cluster?.stop();
}, 60_000);

/** Runs `sluice ARGS` against the cluster and waits for it to exit. */
function sluice(args: readonly string[]): Promise<CliRun> {
  return runCli([...args, ...endpointArgs]);
}

interface CountRow {
  readonly window_start: string;
  readonly window_end: string;
  readonly k: string;
  readonly n: number;
}

/** `window_start|k` → n, from result rows. */
function countsOf(rows: readonly CountRow[]): Map<string, number> {
  return new Map(rows.map((row) => [`${row.window_start}|${row.k}`, row.n]));
}

async function listedNames(): Promise<string[]> {
  const list = await sluice(["analytics", "list", "--json"]);
  expect(list.status, list.stderr).toBe(0);
  return (JSON.parse(list.stdout) as { name: string }[]).map((definition) => definition.name);
}

describe("sluice analytics", () => {
  it("refuses bad input with a clear error and a non-zero exit, and changes nothing", async () => {
    const join = await sluice([
      "analytics",
      "create",
      "bad-join",
      "--output",
      "bad-out",
      "--sql",
      "SELECT a.k FROM a JOIN b ON a.k = b.k",
    ]);
    expect(join.status).toBe(2);
    expect(join.stderr).toMatch(/refused: FROM: joins are not supported/);
    const unknownFunction = await sluice([
      "analytics",
      "create",
      "bad-fn",
      "--output",
      "bad-out",
      "--sql",
      "SELECT SHOUT(k) FROM a",
    ]);
    expect(unknownFunction.status).toBe(2);
    expect(unknownFunction.stderr).toMatch(/refused: SELECT: .*SHOUT/i);
    const noSql = await sluice(["analytics", "create", "bad-flags", "--output", "bad-out"]);
    expect(noSql.status).toBe(2);
    expect(noSql.stderr).toContain("create needs --sql and --output");
    const noName = await sluice(["analytics", "create", "--sql", "SELECT k FROM a", "--output", "o"]);
    expect(noName.status).toBe(2);
    expect(noName.stderr).toContain("expected: create NAME");
    const badLateness = await sluice([
      "analytics",
      "preview",
      "--sql",
      "SELECT k FROM a",
      "--lateness-ms",
      "x",
    ]);
    expect(badLateness.status).toBe(2);
    expect(badLateness.stderr).toContain("--lateness-ms must be a whole number");
    const previewNoSql = await sluice(["analytics", "preview"]);
    expect(previewNoSql.status).toBe(2);
    expect(previewNoSql.stderr).toContain("preview needs --sql");
    const previewBadSql = await sluice(["analytics", "preview", "--sql", "SELECT k FROM a ORDER BY k"]);
    expect(previewBadSql.status).toBe(2);
    expect(previewBadSql.stderr).toMatch(/ORDER BY/);
    for (const action of ["describe", "delete"]) {
      const missing = await sluice(["analytics", action, "no-such-application"]);
      expect(missing.status, action).toBe(3);
      expect(missing.stderr).toContain("application no-such-application does not exist");
    }
    const unknownAction = await sluice(["analytics", "start", "x"]);
    expect(unknownAction.status).toBe(2);
    expect(await listedNames()).toEqual([]);
    const streamNames = (await client.listStreams({})).streamNames;
    expect(streamNames).not.toContain("bad-out");
  });

  it("creates, lists, describes, previews live and deletes an application", async () => {
    const input = "cli-events";
    await client.createStream({ streamName: input, shardCount: 2 });
    await client.waitForStreamStatus(input, { timeoutMs: 30_000 });
    const sql = `SELECT k, COUNT(*) AS n FROM "${input}" GROUP BY TUMBLE(ts, INTERVAL '1' SECOND), k`;

    const create = await sluice([
      "analytics",
      "create",
      "cli-counts",
      "--sql",
      sql,
      "--output",
      "cli-counts-out",
      "--lateness-ms",
      String(LATENESS_MS),
    ]);
    expect(create.status, create.stderr).toBe(0);
    expect(create.stdout).toMatch(
      /^created application cli-counts \([0-9a-f-]+\): cli-events → cli-counts-out/,
    );
    const again = await sluice(["analytics", "create", "cli-counts", "--sql", sql, "--output", "x"]);
    expect(again.status).toBe(5);
    expect(await listedNames()).toEqual(["cli-counts"]);
    const table = await sluice(["analytics", "list"]);
    expect(table.stdout).toMatch(/cli-counts\s+cli-events\s+cli-counts-out\s+3000/);

    // Preview, as a user runs it: a child process reading the stream's new records.
    const preview = spawn(process.execPath, [
      CLI_MAIN_PATH,
      "analytics",
      "preview",
      "--sql",
      sql,
      "--lateness-ms",
      String(LATENESS_MS),
      "--rows",
      "1000",
      ...endpointArgs,
    ]);
    children.push(preview);
    let previewOut = "";
    let previewErr = "";
    preview.stdout.on("data", (chunk: Buffer) => {
      previewOut += chunk.toString("utf8");
    });
    preview.stderr.on("data", (chunk: Buffer) => {
      previewErr += chunk.toString("utf8");
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      preview.on("exit", (code, signal) => resolve({ code, signal })),
    );
    await waitFor(() => previewErr.includes("waiting for results"), {
      timeoutMs: 20_000,
      what: `the preview to be positioned (stderr: ${previewErr})`,
    });

    // The input: event times in order, WINDOWS one-second windows, key k<i> i+1 times per window.
    const base = Math.floor(Date.now() / 1_000) * 1_000 - 60_000;
    const records: { partitionKey: string; data: Buffer }[] = [];
    const expected = new Map<string, number>();
    for (let window = 0; window < WINDOWS; window++) {
      for (let k = 0; k < KEYS; k++) {
        for (let i = 0; i <= k + window; i++) {
          const ts = base + window * 1_000 + i * 10 + k;
          records.push({
            partitionKey: `k${k}`,
            data: Buffer.from(JSON.stringify({ k: `k${k}`, ts })),
          });
          const key = `${new Date(base + window * 1_000).toISOString()}|k${k}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
      }
    }
    const put = await client.putRecords(
      streams.PutRecordsRequest.fromPartial({ streamName: input, records }),
    );
    expect(put.failedRecordCount).toBe(0);

    // The preview prints every window once its end passes the watermark (the idle-shard timer
    // moves it on once the input goes quiet).
    const previewed = await waitFor(
      () => {
        const rows = previewOut
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as CountRow);
        return rows.length >= expected.size ? rows : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `the preview's rows (stdout: ${previewOut})` },
    );
    expect(previewed).toHaveLength(expected.size);
    expect(countsOf(previewed)).toEqual(expected);
    for (const row of previewed)
      expect(Date.parse(row.window_end) - Date.parse(row.window_start)).toBe(1_000);
    preview.kill("SIGINT");
    expect(await exited).toEqual({ code: 0, signal: null });

    // The application on the cluster writes the same rows to its output stream.
    const written = await waitFor(
      async () => {
        const rows = (await readStream(client, "cli-counts-out").catch(() => [])).map(
          (data) => JSON.parse(data.toString("utf8")) as CountRow,
        );
        return rows.length >= expected.size ? rows : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300, what: "the application's output" },
    );
    expect(written).toHaveLength(expected.size);
    expect(countsOf(written)).toEqual(expected);

    // describe: the SQL, the node running it and its metrics.
    const described = await waitFor(
      async () => {
        const run = await sluice(["analytics", "describe", "cli-counts", "--json"]);
        expect(run.status, run.stderr).toBe(0);
        const parsed = JSON.parse(run.stdout) as {
          sql: string;
          status: { state: string; node: number; metrics: Record<string, number> };
        };
        return parsed.status.state === "running" && (parsed.status.metrics.rows_emitted ?? 0) >= expected.size
          ? parsed
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "describe to show the application running" },
    );
    expect(described.sql).toBe(sql);
    expect(cluster.nodeIds).toContain(described.status.node);
    expect(described.status.metrics.records_in).toBeGreaterThanOrEqual(records.length);
    expect(described.status.metrics.windows_emitted).toBeGreaterThanOrEqual(WINDOWS);
    expect(described.status.metrics.late_records_dropped).toBe(0);
    const text = await sluice(["analytics", "describe", "cli-counts"]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(`sql: ${sql}`);
    expect(text.stdout).toMatch(/state: running on node \d \(lease epoch \d+, snapshot \d+\)/);
    expect(text.stdout).toMatch(/metrics: records_in=\d+ late_records_dropped=0 windows_emitted=\d+/);
    // The same metrics in the running node's Prometheus text, one line per family.
    const exposition = await (
      await fetch(`http://127.0.0.1:${cluster.ports(described.status.node).metrics}/metrics`)
    ).text();
    for (const family of [
      "running",
      "records_in_total",
      "late_records_dropped_total",
      "windows_emitted_total",
      "rows_emitted_total",
      "snapshots_written_total",
      "input_lag_ms",
      "watermark_lag_ms",
      "failures_total",
      "output_batches_renumbered_total",
    ]) {
      expect(exposition).toMatch(
        new RegExp(`^sluice_analytics_${family}\\{application="cli-counts"\\} \\d+`, "m"),
      );
    }
    expect(exposition).toMatch(/^sluice_analytics_running\{application="cli-counts"\} 1$/m);

    const deleted = await sluice(["analytics", "delete", "cli-counts"]);
    expect(deleted.status, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe("deleted application cli-counts\n");
    expect(await listedNames()).toEqual([]);
    const gone = await sluice(["analytics", "describe", "cli-counts"]);
    expect(gone.status).toBe(3);
  }, 150_000);
});
