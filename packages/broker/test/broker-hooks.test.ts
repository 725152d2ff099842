// Proves the shard-group hooks the gateway relies on: appendEncoded validates and stamps a
// pre-encoded batch; indexAtTimestamp finds the first batch at or after a time (controllable
// clock) and reads report the tip's arrival stamp; trimLog moves each replica's first index and
// reads start there; a follower restarted after the leader trimmed past its log catches up by
// snapshot and serves reads from its new first index.
import type { NodeId } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { CorruptBatchError } from "../src/errors.js";
import { decodeRecordBatchHeader, encodeRecordBatch } from "../src/shard/record-batch.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUP = 5;

function texts(broker: Broker, groupId: number, from = 0): { texts: string[]; firstIndex: number } {
  const out: string[] = [];
  let index = from;
  let offset = 0;
  let firstIndex = -1;
  for (;;) {
    const page = broker.read(groupId, index, { maxRecords: 100, maxBytes: 1 << 20 }, offset);
    if (firstIndex < 0) firstIndex = page.firstIndex;
    if (page.records.length === 0) return { texts: out, firstIndex };
    for (const r of page.records) out.push(r.data.toString());
    index = page.nextIndex;
    offset = page.nextOffset;
  }
}

async function appendOne(leader: Broker, text: string): Promise<number> {
  const result = await leader.append(GROUP, [{ partitionKey: "k", data: Buffer.from(text) }]);
  return result.index;
}

async function caughtUp(brokers: readonly Broker[], index: number): Promise<void> {
  for (const broker of brokers) {
    await waitFor(
      () => broker.groupStatus(GROUP).appliedIndex >= index,
      `node ${broker.nodeId} applies ${index}`,
    );
  }
}

describe("Broker hooks for the gateway", () => {
  it("appendEncoded validates a pre-encoded batch and stamps it in place", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const batch = encodeRecordBatch(
      [
        { partitionKey: "a", data: Buffer.from("one") },
        { partitionKey: "b", data: Buffer.from("two"), explicitHashKey: "42" },
      ],
      0,
    );
    const result = await leader.appendEncoded(GROUP, batch);
    expect(result.recordCount).toBe(2);
    expect(decodeRecordBatchHeader(batch).arrivalTimestampMs).toBe(result.arrivalTimestampMs);
    expect(result.arrivalTimestampMs).toBeGreaterThan(0);
    const truncated = encodeRecordBatch([{ partitionKey: "c", data: Buffer.from("three") }], 0).subarray(
      0,
      20,
    );
    await expect(leader.appendEncoded(GROUP, truncated)).rejects.toBeInstanceOf(CorruptBatchError);
    const page = leader.read(GROUP, 0, { maxRecords: 10, maxBytes: 1 << 20 });
    expect(page.records.map((r) => [r.partitionKey, r.explicitHashKey, r.data.toString()])).toEqual([
      ["a", undefined, "one"],
      ["b", "42", "two"],
    ]);
    expect(page.tipArrivalTimestampMs).toBe(result.arrivalTimestampMs);
  });

  it("indexAtTimestamp finds the first batch at or after a time; reads carry the tip's stamp", async () => {
    let nowMs = 1_000_000;
    cluster = await TestCluster.start({ leaderBalance: false, clock: () => nowMs });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    expect(leader.read(GROUP, 0, { maxRecords: 1, maxBytes: 1024 }).tipArrivalTimestampMs).toBe(0);
    const indexes: number[] = [];
    for (let i = 0; i < 30; i++) {
      nowMs = 1_000_000 + i * 1_000;
      indexes.push(await appendOne(leader, `r${i}`));
    }
    const last = indexes.at(-1) as number;
    await caughtUp(cluster.running(), last);
    for (const broker of cluster.running()) {
      expect(broker.indexAtTimestamp(GROUP, 0)).toBe(indexes[0]);
      expect(broker.indexAtTimestamp(GROUP, 1_000_000)).toBe(indexes[0]);
      expect(broker.indexAtTimestamp(GROUP, 1_000_001)).toBe(indexes[1]);
      expect(broker.indexAtTimestamp(GROUP, 1_017_000)).toBe(indexes[17]);
      expect(broker.indexAtTimestamp(GROUP, 1_017_500)).toBe(indexes[18]);
      expect(broker.indexAtTimestamp(GROUP, 1_029_000)).toBe(last);
      expect(broker.indexAtTimestamp(GROUP, 2_000_000)).toBe(broker.groupStatus(GROUP).appliedIndex + 1);
      expect(broker.read(GROUP, 0, { maxRecords: 1, maxBytes: 1024 }).tipArrivalTimestampMs).toBe(1_029_000);
    }
  });

  it("trimLog moves each replica's first index; reads start there; it is idempotent", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const indexes: number[] = [];
    for (let i = 0; i < 20; i++) indexes.push(await appendOne(leader, `r${i}`));
    await caughtUp(cluster.running(), indexes.at(-1) as number);
    const cut = indexes[10] as number;
    for (const broker of cluster.running()) {
      expect(await broker.trimLog(GROUP, cut)).toBe(cut);
      expect(await broker.trimLog(GROUP, cut)).toBe(cut);
      expect(await broker.trimLog(GROUP, cut - 5)).toBe(cut);
      expect(broker.groupStatus(GROUP).firstIndex).toBe(cut);
      const read = texts(broker, GROUP);
      expect(read.firstIndex).toBe(cut);
      expect(read.texts).toEqual(Array.from({ length: 10 }, (_, i) => `r${i + 10}`));
    }
    // Never past the applied index.
    const applied = leader.groupStatus(GROUP).appliedIndex;
    expect(await leader.trimLog(GROUP, applied + 1_000)).toBe(applied + 1);
    expect(texts(leader, GROUP).texts).toEqual([]);
    // Appends go on after a full trim, and the trimmed replica still leads and reads them.
    const next = await appendOne(leader, "after");
    expect(texts(leader, GROUP, next).texts).toEqual(["after"]);
  });

  it("a follower restarted after the leader trimmed past its log catches up by snapshot", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    for (let i = 0; i < 5; i++) await appendOne(leader, `r${i}`);
    const lagging = cluster.running().find((b) => b !== leader) as Broker;
    const id: NodeId = lagging.nodeId;
    const hadApplied = leader.groupStatus(GROUP).appliedIndex;
    await caughtUp([lagging], hadApplied);
    await cluster.kill(id);
    let last = 0;
    for (let i = 5; i < 40; i++) last = await appendOne(leader, `r${i}`);
    const cut = last - 10;
    for (const broker of cluster.running()) {
      await caughtUp([broker], last);
      expect(await broker.trimLog(GROUP, cut)).toBe(cut);
    }
    const reopened = await cluster.open(id);
    await caughtUp([reopened], last);
    const status = reopened.groupStatus(GROUP);
    expect(status.firstIndex).toBeGreaterThan(hadApplied + 1);
    const read = texts(reopened, GROUP);
    expect(read.firstIndex).toBe(status.firstIndex);
    expect(read.texts).toEqual(texts(leader, GROUP, status.firstIndex).texts);
    expect(read.texts.at(-1)).toBe("r39");
    // Its tip stamp is the leader's.
    expect(reopened.read(GROUP, 0, { maxRecords: 1, maxBytes: 1024 }).tipArrivalTimestampMs).toBe(
      leader.read(GROUP, 0, { maxRecords: 1, maxBytes: 1024 }).tipArrivalTimestampMs,
    );
    // It keeps replicating after the snapshot.
    const more = await appendOne(leader, "more");
    await caughtUp([reopened], more);
    expect(texts(reopened, GROUP).texts.at(-1)).toBe("more");
  });
});
