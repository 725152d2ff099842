// Proves three Brokers on real data directories, connected in memory, elect a leader per group,
// append through it, serve the same committed records from every replica (tail cache and storage
// alike), refuse appends on followers with a typed NotLeader error naming the leader, validate
// their input, and agree byte for byte on the committed log (checksums).
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import {
  BrokerErrorCode,
  GroupVotersMismatchError,
  InvalidArgumentError,
  NotLeaderError,
} from "../src/errors.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function record(key: string, text: string) {
  return { partitionKey: key, data: Buffer.from(text) };
}

function readAll(broker: Broker, groupId: number): string[] {
  const out: string[] = [];
  let index = 0;
  let offset = 0;
  for (;;) {
    const result = broker.read(groupId, index, { maxRecords: 7, maxBytes: 1_000_000 }, offset);
    for (const r of result.records) out.push(`${r.partitionKey}:${r.data.toString()}`);
    if (result.records.length === 0) return out;
    index = result.nextIndex;
    offset = result.nextOffset;
  }
}

describe("Broker, three nodes", () => {
  it("elects, appends through the leader and reads the same records from every replica", async () => {
    cluster = await TestCluster.start();
    await cluster.ensureGroups([1]);
    const leader = await cluster.waitForLeader(1);
    const expected: string[] = [];
    let lastStamp = 0;
    for (let i = 0; i < 20; i++) {
      const batch = [record(`k${i}`, `a${i}`), record(`k${i}`, `b${i}`), record("other", `c${i}`)];
      const result = await leader.append(1, batch);
      expect(result.recordCount).toBe(3);
      expect(result.groupId).toBe(1);
      expect(result.arrivalTimestampMs).toBeGreaterThanOrEqual(lastStamp);
      lastStamp = result.arrivalTimestampMs;
      expected.push(...batch.map((r) => `${r.partitionKey}:${r.data.toString()}`));
    }
    // The leader has applied everything it acknowledged.
    expect(readAll(leader, 1)).toEqual(expected);
    const last = leader.groupStatus(1).appliedIndex;
    for (const broker of cluster.running()) {
      await waitFor(
        () => broker.groupStatus(1).appliedIndex >= last,
        `node ${broker.nodeId} applies ${last}`,
      );
      expect(readAll(broker, 1)).toEqual(expected);
    }
    const sums = new Set(cluster.running().map((b) => b.committedLogChecksum(1, last)));
    expect(sums.size).toBe(1);
  });

  it("reports positions, limits and resume points", async () => {
    cluster = await TestCluster.start();
    await cluster.ensureGroups([2]);
    const leader = await cluster.waitForLeader(2);
    const first = await leader.append(2, [record("a", "1"), record("a", "2"), record("a", "3")]);
    const second = await leader.append(2, [record("b", "4")]);
    expect(second.index).toBeGreaterThan(first.index);
    const page = leader.read(2, 0, { maxRecords: 2, maxBytes: 1_000_000 });
    expect(page.records.map((r) => [r.index, r.offset])).toEqual([
      [first.index, 0],
      [first.index, 1],
    ]);
    expect([page.nextIndex, page.nextOffset]).toEqual([first.index, 2]);
    const rest = leader.read(2, page.nextIndex, { maxRecords: 10, maxBytes: 1_000_000 }, page.nextOffset);
    expect(rest.records.map((r) => [r.index, r.offset, r.data.toString()])).toEqual([
      [first.index, 2, "3"],
      [second.index, 0, "4"],
    ]);
    expect(rest.nextIndex).toBe(second.index + 1);
    expect(rest.commitIndex).toBe(second.index);
    expect(rest.records[0]?.arrivalTimestampMs).toBe(first.arrivalTimestampMs);
    // A byte limit smaller than one record still returns one record.
    expect(leader.read(2, 0, { maxRecords: 10, maxBytes: 1 }).records).toHaveLength(1);
    // At the tip: nothing yet, and the same resume point.
    const tip = leader.read(2, rest.nextIndex, { maxRecords: 10, maxBytes: 1000 });
    expect(tip.records).toEqual([]);
    expect(tip.nextIndex).toBe(rest.nextIndex);
  });

  it("refuses appends on a follower with NotLeader naming the leader", async () => {
    cluster = await TestCluster.start();
    await cluster.ensureGroups([3]);
    const leader = await cluster.waitForLeader(3);
    await leader.append(3, [record("k", "v")]);
    const follower = cluster.running().find((b) => b !== leader) as Broker;
    await waitFor(() => follower.groupStatus(3).leader === leader.nodeId, "the follower knows the leader");
    const error = await follower.append(3, [record("k", "v")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(error).toMatchObject({
      code: BrokerErrorCode.NotLeader,
      retriable: true,
      leaderHint: leader.nodeId,
    });
  });

  it("group commit: concurrent appends to many groups share flushes, and sends are coalesced per peer", async () => {
    cluster = await TestCluster.start();
    const groups = Array.from({ length: 12 }, (_, i) => i + 10);
    await cluster.ensureGroups(groups);
    for (const g of groups) await cluster.waitForLeader(g);
    const before = cluster.running().map((b) => b.metrics());
    const appends = groups.flatMap((g) => {
      const leader = cluster?.leaderOf(g) as Broker;
      return Array.from({ length: 10 }, (_, i) => leader.append(g, [record("k", `${g}-${i}`)]));
    });
    await Promise.all(appends);
    // An append is acknowledged once a majority persisted it: wait for the third replica too.
    const persisted = () =>
      cluster
        ?.running()
        .map((b) => b.metrics())
        .reduce((sum, m, i) => sum + m.entriesPersisted - (before[i]?.entriesPersisted ?? 0), 0) ?? 0;
    await waitFor(() => persisted() >= 360, "all three replicas to persist the 120 entries");
    const after = cluster.running().map((b) => b.metrics());
    const flushes = after.reduce((sum, m, i) => sum + m.flushes - (before[i]?.flushes ?? 0), 0);
    const entries = after.reduce(
      (sum, m, i) => sum + m.entriesPersisted - (before[i]?.entriesPersisted ?? 0),
      0,
    );
    // 120 entries on each of three replicas: far fewer flushes than entries.
    expect(entries).toBeGreaterThanOrEqual(360);
    expect(flushes * 4).toBeLessThan(entries);
    const batches = after.reduce(
      (sum, m, i) => sum + m.messageBatchesSent - (before[i]?.messageBatchesSent ?? 0),
      0,
    );
    const messages = after.reduce((sum, m, i) => sum + m.messagesSent - (before[i]?.messagesSent ?? 0), 0);
    expect(batches * 2).toBeLessThan(messages);
  });

  it("an append that cannot commit fails with a retriable, outcome-unknown error", async () => {
    cluster = await TestCluster.start({ appendTimeoutMs: 300, leaderBalance: false });
    await cluster.ensureGroups([5]);
    const leader = await cluster.waitForLeader(5);
    await leader.append(5, [record("k", "ok")]);
    cluster.hub.isolate(leader.nodeId);
    const error = await leader.append(5, [record("k", "lost?")]).catch((e: unknown) => e);
    expect(error).toMatchObject({ retriable: true });
    expect(["LEADERSHIP_LOST", "APPEND_TIMEOUT", "NOT_LEADER"]).toContain((error as { code: string }).code);
    // Removing a group fails what still waits there.
    cluster.hub.healAll();
    const successor = await cluster.waitForLeader(5);
    cluster.hub.isolate(successor.nodeId);
    const waiting = successor.append(5, [record("k", "x")]).catch((e: unknown) => e);
    await successor.removeGroup(5);
    expect(await waiting).toMatchObject({ code: BrokerErrorCode.GroupNotFound });
  });

  it("validates group ids, voters and read limits, and is idempotent on ensureGroup", async () => {
    cluster = await TestCluster.start();
    const broker = cluster.broker(1);
    await expect(broker.ensureGroup(-1, [1, 2, 3])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(broker.ensureGroup(4, [2, 3])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(broker.ensureGroup(4, [1, 1, 2])).rejects.toBeInstanceOf(InvalidArgumentError);
    await Promise.all([broker.ensureGroup(4, [1, 2, 3]), broker.ensureGroup(4, [3, 2, 1])]);
    await broker.ensureGroup(4, [1, 2, 3]);
    await expect(broker.ensureGroup(4, [1, 2, 5])).rejects.toBeInstanceOf(GroupVotersMismatchError);
    expect(broker.groupIds()).toEqual([4]);
    expect(() => broker.read(4, 0, { maxRecords: 0, maxBytes: 10 })).toThrow(InvalidArgumentError);
    expect(() => broker.read(99, 0, { maxRecords: 1, maxBytes: 10 })).toThrow(
      expect.objectContaining({ code: BrokerErrorCode.GroupNotFound }),
    );
    await broker.removeGroup(4);
    expect(broker.groupIds()).toEqual([]);
    await broker.removeGroup(4);
  });
});
