// Proves `sluice tail` follow mode against a real three-node cluster: started at LATEST it prints
// records written after it started, as they arrive; it follows the stream across a split (every
// record of the parent before any of its children's, each record once, per-key order kept); and
// SIGINT ends it with exit 0.
import { type ChildProcess, spawn } from "node:child_process";
import { CLI_MAIN_PATH, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20020-20031.
const BASE_PORT = 20_020;
const STREAM_NAME = "tail-follow";
const PARENT = "shardId-000000000000";
/** 2^127: the middle of the hash key space, where the split cuts. */
const HALF = (1n << 127n).toString();
const KEYS = 8;

let cluster: TestCluster;
let tail: ChildProcess | undefined;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  await cluster.streams(1).createActiveStream({ streamName: STREAM_NAME, shardCount: 1 });
}, 90_000);
afterAll(async () => {
  if (tail?.exitCode === null) tail.kill("SIGKILL");
  await cluster?.stop();
}, 60_000);

interface TailLine {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: string;
}

/** Writes records `${phase}-${i}` under KEYS partition keys, in order; every one must be acknowledged. */
async function putPhase(phase: string, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, index) => ({
    partitionKey: `key-${index % KEYS}`,
    data: Buffer.from(`${phase}-${index}`),
    explicitHashKey: "",
  }));
  await waitFor(
    async () => {
      const response = await cluster.streams(2).putRecords({ streamName: STREAM_NAME, records });
      return response.failedRecordCount === 0;
    },
    { timeoutMs: 20_000, what: `the ${phase} records to be written` },
  );
}

describe("sluice tail (follow)", () => {
  it("follows new records from LATEST, across a split, parents first, until SIGINT", async () => {
    const endpoints = cluster.nodeIds.flatMap((nodeId) => [
      "--endpoint",
      `127.0.0.1:${cluster.ports(nodeId).grpc}`,
    ]);
    const child = spawn(process.execPath, [CLI_MAIN_PATH, "tail", STREAM_NAME, "--json", ...endpoints], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    tail = child;
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const lines = (): TailLine[] =>
      stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as TailLine);
    const seen = (prefix: string) => lines().filter((line) => line.data.startsWith(prefix)).length;

    // LATEST starts wherever the shard's tip is when the tail asks: write until one record shows.
    let probes = 0;
    await waitFor(
      async () => {
        await putPhase(`probe${probes++}`, 1);
        return seen("probe") > 0;
      },
      { timeoutMs: 30_000, what: `the tail to print a record written after it started (stderr: ${stderr})` },
    );

    await putPhase("before", 40);
    await waitFor(() => seen("before-") === 40, {
      timeoutMs: 20_000,
      what: "the tail to print the 40 records written before the split",
    });

    const client = cluster.streams(1);
    await new Promise<void>((resolve, reject) =>
      client.raw.splitShard(
        streams.SplitShardRequest.fromPartial({
          streamName: STREAM_NAME,
          shardToSplit: PARENT,
          newStartingHashKey: HALF,
        }),
        (error: unknown) => (error ? reject(error) : resolve()),
      ),
    );
    await client.waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE, 30_000);
    await putPhase("after", 80);
    await waitFor(() => seen("after-") === 80, {
      timeoutMs: 30_000,
      what: `the tail to print the 80 records written after the split (printed ${seen("after-")}; stderr: ${stderr})`,
    });

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toBe("");

    const printed = lines();
    const data = printed.map((line) => line.data);
    expect(new Set(data).size).toBe(data.length);
    const children = new Set(
      printed.filter((line) => line.data.startsWith("after-")).map((line) => line.shardId),
    );
    expect(children.has(PARENT)).toBe(false);
    expect(children.size).toBe(2);
    // Every record of the parent comes before the first record of a child.
    const firstChild = printed.findIndex((line) => line.shardId !== PARENT);
    expect(printed.slice(firstChild).every((line) => line.shardId !== PARENT)).toBe(true);
    // Per key, the records come in the order they were written.
    for (const phase of ["before", "after"]) {
      const last = new Map<string, number>();
      for (const line of printed) {
        if (!line.data.startsWith(`${phase}-`)) continue;
        const index = Number(line.data.slice(phase.length + 1));
        expect(index).toBeGreaterThan(last.get(line.partitionKey) ?? -1);
        last.set(line.partitionKey, index);
      }
    }
  }, 120_000);
});
