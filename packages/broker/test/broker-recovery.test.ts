// Proves a Broker recovers from its data directory: a follower closed and reopened keeps its log
// and catches up on what it missed; when the leader is killed (no graceful shutdown) the others
// elect a new leader within the deadline and every acknowledged append is readable there; and a
// graceful shutdown hands leadership to the other nodes before closing.
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import type { AppendResult } from "../src/host/replica.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function texts(broker: Broker, groupId: number): string[] {
  const out: string[] = [];
  let index = 0;
  let offset = 0;
  for (;;) {
    const page = broker.read(groupId, index, { maxRecords: 100, maxBytes: 1 << 20 }, offset);
    if (page.records.length === 0) return out;
    for (const r of page.records) out.push(r.data.toString());
    index = page.nextIndex;
    offset = page.nextOffset;
  }
}

async function appendMany(leader: Broker, groupId: number, from: number, count: number): Promise<string[]> {
  const written: string[] = [];
  const pending: Promise<AppendResult>[] = [];
  for (let i = from; i < from + count; i++) {
    written.push(`r${i}`);
    pending.push(leader.append(groupId, [{ partitionKey: `k${i % 5}`, data: Buffer.from(`r${i}`) }]));
  }
  await Promise.all(pending);
  return written;
}

describe("Broker recovery", () => {
  it("a restarted follower recovers its log from disk and catches up", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([1, 2]);
    const leader = await cluster.waitForLeader(1);
    await cluster.waitForLeader(2);
    const written = await appendMany(leader, 1, 0, 30);
    const follower = cluster
      .running()
      .find((b) => b !== leader && b.groupStatus(1).role === "follower") as Broker;
    const id = follower.nodeId;
    const applied = leader.groupStatus(1).appliedIndex;
    await waitFor(() => follower.groupStatus(1).appliedIndex >= applied, "the follower applies everything");
    await cluster.kill(id);

    // Writes continue with two of three.
    const leaderNow = cluster.leaderOf(1) ?? (await cluster.waitForLeader(1));
    written.push(...(await appendMany(leaderNow, 1, 30, 20)));

    const reopened = await cluster.open(id);
    expect(reopened.groupIds()).toEqual([1, 2]);
    // What it had before is readable at once from its own disk.
    expect(texts(reopened, 1).slice(0, 30)).toEqual(written.slice(0, 30));
    const target = leaderNow.groupStatus(1).appliedIndex;
    await waitFor(() => reopened.groupStatus(1).appliedIndex >= target, "the restarted follower catches up");
    expect(texts(reopened, 1)).toEqual(written);
    expect(reopened.committedLogChecksum(1, target)).toBe(leaderNow.committedLogChecksum(1, target));
  });

  it("a killed leader is replaced within the deadline and no acknowledged append is lost", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([7]);
    const leader = await cluster.waitForLeader(7);
    const acknowledged = await appendMany(leader, 7, 0, 40);
    // Appends in flight when the leader dies may or may not survive; only acknowledged ones must.
    const inFlight = leader
      .append(7, [{ partitionKey: "late", data: Buffer.from("in-flight") }])
      .then(() => "committed")
      .catch(() => "unknown");
    const killedAt = performance.now();
    await cluster.kill(leader.nodeId);
    const successor = await cluster.waitForLeader(7, 5_000);
    const failoverMs = performance.now() - killedAt;
    expect(successor.nodeId).not.toBe(leader.nodeId);
    // 10 ms ticks, election timeout 10–20 ticks: well under a second.
    expect(failoverMs).toBeLessThan(5_000);
    await inFlight;
    const more = await appendMany(successor, 7, 40, 10);
    const survivors = cluster.running();
    const target = successor.groupStatus(7).appliedIndex;
    for (const broker of survivors) {
      await waitFor(
        () => broker.groupStatus(7).appliedIndex >= target,
        `node ${broker.nodeId} applies ${target}`,
      );
      const seen = texts(broker, 7).filter((t) => t !== "in-flight");
      expect(seen).toEqual([...acknowledged, ...more]);
    }
    const sums = new Set(survivors.map((b) => b.committedLogChecksum(7, target)));
    expect(sums.size).toBe(1);

    // The killed node comes back, recovers and converges to the same log.
    const back = await cluster.open(leader.nodeId);
    await waitFor(() => back.groupStatus(7).appliedIndex >= target, "the old leader catches up");
    expect(back.committedLogChecksum(7, target)).toBe(successor.committedLogChecksum(7, target));
  });

  it("shutdown hands leadership away before closing", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    const groups = [1, 2, 3, 4, 5, 6];
    await cluster.ensureGroups(groups);
    for (const g of groups) await cluster.waitForLeader(g);
    const node = cluster.broker(1);
    // Make node 1 lead every group.
    for (const g of groups) {
      if (node.groupStatus(g).role !== "leader") cluster.leaderOf(g)?.transferLeader(g, 1);
    }
    await waitFor(
      () => groups.every((g) => node.groupStatus(g).role === "leader"),
      "node 1 leads all groups",
    );
    for (const g of groups) await node.append(g, [{ partitionKey: "k", data: Buffer.from(`g${g}`) }]);
    await cluster.shutdown(1);
    // Leadership moved while node 1 was still running, not by elections after it left.
    expect(node.metrics().leaderGroups).toBe(0);
    expect(node.metrics().leaderChanges).toBeGreaterThanOrEqual(groups.length * 2);
    for (const g of groups) {
      const leader = await cluster.waitForLeader(g, 1_000);
      expect(leader.nodeId).not.toBe(1);
      expect(texts(leader, g)).toEqual([`g${g}`]);
    }
    await expect(node.append(1, [{ partitionKey: "k", data: Buffer.from("x") }])).rejects.toMatchObject({
      code: "BROKER_CLOSED",
    });
  });
});
