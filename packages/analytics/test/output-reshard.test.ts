// Proves that resharding an application's output stream while it runs neither pauses it nor
// loses or duplicates a window, and that the new numbering survives a failover: the output
// stream is split (UpdateShardCount 1 → 2) while windows are being emitted, the batches its
// closed shard refused are numbered again for the new shards, then the node running the
// application is SIGKILLed; the output holds every (window, key) exactly once with the count and
// sum a reference computes from the input stream as recorded, part of it in the new shards, and
// the current snapshot numbers the new shards. And, at the output writer's level, that only a
// batch the closed shard certainly does not hold is handed back for new numbers: a retry of one
// written before the seal is answered as written.

import { grpcGroupTransport } from "@sluice/client";
import { readStream, readStreamByShard, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { describe, expect, it } from "vitest";
import { ApplicationStore, applicationGroupName, stateStreamName } from "../src/index.js";
import { OutputWriter } from "../src/output.js";
import { readSnapshot } from "../src/snapshot.js";
import { produceInEventTimeOrder, useAnalyticsCluster } from "./cluster-fixture.js";

// This file uses ports 21162-21173.
const BASE_PORT = 21_162;
const KEYS = 8;
/** Logical ms between two records' event times: 200 records per one-second window, one batch each. */
const STEP_MS = 5;
const WINDOWS = 60;
const BATCH_RECORDS = 200;
const LATENESS_MS = 3_000;

const fixture = useAnalyticsCluster(BASE_PORT);

interface Result {
  readonly window_start: string;
  readonly k: string;
  readonly n: number;
  readonly total: number;
}

describe("analytics output reshard", () => {
  it("hands back for new numbers only the batches a closed output shard certainly does not hold", async () => {
    const { client } = fixture;
    const stream = "or-writer";
    await client.createStream({ streamName: stream, shardCount: 1 });
    await client.waitForStreamStatus(stream, { timeoutMs: 30_000 });
    const [parent] = await client.listAllShards(stream);
    const writer = new OutputWriter({ client, streamName: stream, applicationId: "or-writer-test" });
    await writer.open();
    const signal = new AbortController().signal;
    const rowsOf = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        partitionKey: `key-${from + i}`,
        data: Buffer.from(`row-${from + i}`),
      }));
    const sequences: Record<string, number> = {};
    const written = writer.number(rowsOf(0, 20), sequences);
    const unwritten = writer.number(rowsOf(20, 20), sequences);
    expect(await writer.send(written, signal)).toEqual([]);

    await client.updateShardCount({
      streamName: stream,
      targetShardCount: 2,
      scalingType: streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING,
    });
    await waitFor(
      async () =>
        (await client.listAllShards(stream)).some(
          (shard) =>
            shard.shardId === parent?.shardId &&
            (shard.sequenceNumberRange?.endingSequenceNumber ?? "") !== "",
        ),
      { timeoutMs: 30_000, intervalMs: 100, what: "the output's shard to be closed by the split" },
    );

    // Sent again (its outcome unknown to a successor), the batch written before the seal is
    // answered as written: it keeps its numbers and is never handed back.
    expect(await writer.send(written, signal)).toEqual([]);
    // The batch never written is handed back whole, and numbered again for the new shards.
    const unsent = await writer.send(unwritten, signal);
    expect(unsent).toEqual(unwritten);
    await writer.reopen([parent?.shardId ?? ""], signal);
    const renumbered = writer.renumber(unsent, sequences);
    expect(renumbered.map((batch) => batch.shardId)).not.toContain(parent?.shardId);
    expect(renumbered.map((batch) => batch.firstSequence)).toEqual(renumbered.map(() => 0));
    expect(await writer.send(renumbered, signal)).toEqual([]);
    // A successor re-sending the same numbers writes nothing twice.
    expect(await writer.send(renumbered, signal)).toEqual([]);

    const rows = (await readStream(client, stream)).map((data) => data.toString()).sort();
    expect(rows).toEqual(
      rowsOf(0, 40)
        .map((row) => row.data.toString())
        .sort(),
    );
  }, 60_000);

  it("keeps writing through a split of the output stream and a failover after it, each window exactly once", async () => {
    const { cluster, client } = fixture;
    const input = "or-input";
    const output = "or-output";
    await client.createStream({ streamName: input, shardCount: 2 });
    await client.createStream({ streamName: output, shardCount: 1 });
    await client.waitForStreamStatus(input, { timeoutMs: 30_000 });
    await client.waitForStreamStatus(output, { timeoutMs: 30_000 });
    const [parent] = await client.listAllShards(output);
    const definition = await new ApplicationStore({ client }).create({
      name: "or",
      sql: `SELECT k, COUNT(*) AS n, SUM(v) AS total FROM "${input}" GROUP BY TUMBLE(ts, INTERVAL '1' SECOND), k`,
      outputStream: output,
      allowedLatenessMs: LATENESS_MS,
    });

    // A producer writes in event-time order, one window per batch, while the test reshards.
    const total = WINDOWS * (1_000 / STEP_MS);
    const producer = produceInEventTimeOrder(client, {
      streamName: input,
      total,
      keys: KEYS,
      stepMs: STEP_MS,
      valueModulus: 89,
      batchRecords: BATCH_RECORDS,
      pauseMs: 150,
    });

    // Once some windows are out, split the output stream; the application goes on writing.
    await waitFor(async () => (await readStream(client, output).catch(() => [])).length >= 3 * KEYS, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: "the first windows emitted",
    });
    await client.updateShardCount({
      streamName: output,
      targetShardCount: 2,
      scalingType: streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING,
    });
    const childRows = async (): Promise<number> => {
      let rows = 0;
      for (const [shardId, records] of await readStreamByShard(client, output))
        if (shardId !== parent?.shardId) rows += records.length;
      return rows;
    };
    await waitFor(async () => (await childRows().catch(() => 0)) > 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: "rows in the output's new shards",
    });

    // Then kill the node running the application: its successor must number from the snapshot.
    const transport = grpcGroupTransport(
      cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
    );
    const describeLease = async () =>
      (
        await transport.describeGroup({
          streamName: stateStreamName(definition),
          groupName: applicationGroupName(definition),
        })
      ).shards[0];
    let victim: number;
    try {
      victim = Number(/^node-(\d+)-/.exec((await describeLease())?.owner ?? "")?.[1] ?? 0);
      expect(victim).toBeGreaterThan(0);
      const writtenAtKill = producer.written();
      await cluster.kill(victim, "SIGKILL");
      await producer.done;
      expect(writtenAtKill).toBeLessThan(total);
    } finally {
      transport.close();
    }

    // The reference: what the input stream holds, per (window, key).
    const expected = new Map<string, { n: number; total: number }>();
    for (const data of await readStream(client, input)) {
      const { k, v, ts } = JSON.parse(data.toString()) as { k: string; v: number; ts: number };
      const key = `${new Date(Math.floor(ts / 1_000) * 1_000).toISOString()}|${k}`;
      const entry = expected.get(key) ?? { n: 0, total: 0 };
      entry.n += 1;
      entry.total += v;
      expected.set(key, entry);
    }
    expect(expected.size).toBe(WINDOWS * KEYS);

    // Every window closes (the idle-shard timer after the lateness); then compare.
    const byShard = await waitFor(
      async () => {
        const shards = await readStreamByShard(client, output);
        return [...shards.values()].flat().length >= expected.size ? shards : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "every window emitted after the reshard" },
    ).catch((error) => {
      const logs = cluster.nodeIds.map((nodeId) => cluster.process(nodeId).logTail(30));
      throw new Error(`${String(error)}\n${logs.join("\n")}`);
    });
    const children = [...byShard.keys()].filter((shardId) => shardId !== parent?.shardId);
    expect(children.length).toBeGreaterThanOrEqual(2);
    // Rows emitted after the split are in the new shards (numbered again for them).
    expect(children.reduce((sum, shardId) => sum + (byShard.get(shardId)?.length ?? 0), 0)).toBeGreaterThan(
      0,
    );

    const seen = new Map<string, Result>();
    const duplicates: string[] = [];
    for (const data of [...byShard.values()].flat()) {
      const row = JSON.parse(data.toString()) as Result;
      const key = `${row.window_start}|${row.k}`;
      if (seen.has(key)) duplicates.push(key);
      seen.set(key, row);
    }
    expect(duplicates).toEqual([]);
    expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, want] of expected) {
      const got = seen.get(key) as Result;
      expect({ n: got.n, total: got.total }, key).toEqual(want);
    }

    // The current snapshot numbers the new shards (and the killed node's successor wrote it).
    const survivors = cluster.nodeIds
      .filter((nodeId) => nodeId !== victim)
      .map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`);
    const after = grpcGroupTransport(survivors);
    try {
      const lease = (
        await after.describeGroup({
          streamName: stateStreamName(definition),
          groupName: applicationGroupName(definition),
        })
      ).shards[0];
      expect(lease?.owner).not.toMatch(new RegExp(`^node-${victim}-`));
      const snapshot = await readSnapshot(
        client,
        stateStreamName(definition),
        lease?.shardId ?? "",
        lease?.checkpointSequenceNumber ?? "",
      );
      const numbered = children.reduce((sum, shardId) => sum + (snapshot.nextSequence[shardId] ?? 0), 0);
      expect(numbered).toBe(children.reduce((sum, shardId) => sum + (byShard.get(shardId)?.length ?? 0), 0));
      // Its pending batches (the last ones it numbered, already sent) are numbered for open shards only.
      for (const batch of snapshot.pending) expect(children).toContain(batch.shardId);
    } finally {
      after.close();
    }
  }, 150_000);
});
