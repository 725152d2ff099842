// Proves that killing (SIGKILL) the node running an application mid-window loses and
// duplicates no window: after another node takes the lease over, the output stream holds every
// (window, key) exactly once, with the count, sum and max a reference computes from the input
// stream as recorded.

import { grpcGroupTransport } from "@sluice/client";
import { readStream, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { describe, expect, it } from "vitest";
import { ApplicationStore, applicationGroupName, stateStreamName } from "../src/index.js";
import { produceInEventTimeOrder, useAnalyticsCluster } from "./cluster-fixture.js";

// This file uses ports 21100-21111.
const BASE_PORT = 21_100;
const KEYS = 8;
/** Logical ms between two records' event times: 200 records per one-second window. */
const STEP_MS = 5;
const WINDOWS = 40;
const BATCH_RECORDS = 200;
const LATENESS_MS = 10_000;

const fixture = useAnalyticsCluster(BASE_PORT);

interface Result {
  readonly window_start: string;
  readonly k: string;
  readonly n: number;
  readonly total: number;
  readonly top: number;
}

describe("analytics failover", () => {
  it("emits each window exactly once with the right values after the running node is killed", async () => {
    const { cluster, client } = fixture;
    const input = "af-input";
    await client.createStream({
      streamName: input,
      shardCount: 2,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    await client.waitForStreamStatus(input, { timeoutMs: 30_000 });
    const definition = await new ApplicationStore({ client }).create({
      name: "af",
      sql: "SELECT k, COUNT(*) AS n, SUM(v) AS total, MAX(v) AS top FROM \"af-input\" GROUP BY TUMBLE(ts, INTERVAL '1' SECOND), k",
      outputStream: "af-output",
      allowedLatenessMs: LATENESS_MS,
    });

    // A producer writes in event-time order, batch after batch, while the test kills a node.
    const total = WINDOWS * (1_000 / STEP_MS);
    const producer = produceInEventTimeOrder(client, {
      streamName: input,
      total,
      keys: KEYS,
      stepMs: STEP_MS,
      valueModulus: 97,
      batchRecords: BATCH_RECORDS,
      pauseMs: 100,
    });

    // Once some windows are out, kill the node that holds the application's lease.
    await waitFor(async () => (await readStream(client, "af-output").catch(() => [])).length >= 5 * KEYS, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: "the first windows emitted",
    });
    const transport = grpcGroupTransport(
      cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
    );
    let victim: number;
    try {
      const group = await transport.describeGroup({
        streamName: stateStreamName(definition),
        groupName: applicationGroupName(definition),
      });
      victim = Number(/^node-(\d+)-/.exec(group.shards[0]?.owner ?? "")?.[1] ?? 0);
    } finally {
      transport.close();
    }
    expect(victim).toBeGreaterThan(0);
    await cluster.kill(victim, "SIGKILL");
    await producer.done;

    // The reference: what the input stream holds, per (window, key).
    const expected = new Map<string, { n: number; total: number; top: number }>();
    for (const data of await readStream(client, input)) {
      const { k, v, ts } = JSON.parse(data.toString()) as { k: string; v: number; ts: number };
      const key = `${new Date(Math.floor(ts / 1_000) * 1_000).toISOString()}|${k}`;
      const entry = expected.get(key) ?? { n: 0, total: 0, top: Number.NEGATIVE_INFINITY };
      entry.n += 1;
      entry.total += v;
      entry.top = Math.max(entry.top, v);
      expected.set(key, entry);
    }
    expect(expected.size).toBe(WINDOWS * KEYS);

    // Every window closes (the idle-shard timer after the lateness); then compare.
    const rows = await waitFor(
      async () => {
        const found = (await readStream(client, "af-output")).map(
          (data) => JSON.parse(data.toString()) as Result,
        );
        return found.length >= expected.size ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "every window emitted after the failover" },
    ).catch((error) => {
      const logs = cluster.nodeIds.map((nodeId) => cluster.process(nodeId).logTail(30));
      throw new Error(`${String(error)}\n${logs.join("\n")}`);
    });
    const seen = new Map<string, Result>();
    const duplicates: string[] = [];
    for (const row of rows) {
      const key = `${row.window_start}|${row.k}`;
      if (seen.has(key)) duplicates.push(key);
      seen.set(key, row);
    }
    expect(duplicates).toEqual([]);
    expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, want] of expected) {
      const got = seen.get(key) as Result;
      expect({ n: got.n, total: got.total, top: got.top }, key).toEqual(want);
    }
  }, 150_000);
});
