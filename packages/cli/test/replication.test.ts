// Proves that three real node processes replicate a group's log: a batch written through the
// leader is read back from all three replicas; and while a writer keeps appending, SIGKILL of a
// follower and then of the leader loses no acknowledged append, and afterwards the committed
// logs of the three replicas have the same checksum; a frozen (SIGSTOP) leader is replaced and
// catches up when resumed; SIGTERM hands leadership over and exits 0.
import { type AdminCallError, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 18000-18011.
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: 18_000 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function record(key: string, text: string): { partitionKey: string; data: Buffer } {
  return { partitionKey: key, data: Buffer.from(text) };
}

/** Waits until every running replica has applied up to `index`. */
async function waitCaughtUp(groupId: number, index: number, nodeIds: readonly number[]): Promise<void> {
  await waitFor(
    async () => {
      const statuses = await Promise.all(
        nodeIds.map((nodeId) => cluster.admin(nodeId).groupStatus(groupId, 2_000)),
      );
      return statuses.every((status) => status.commitIndex >= index && status.appliedIndex >= index);
    },
    { timeoutMs: 30_000, what: `nodes ${nodeIds.join(", ")} to apply group ${groupId} up to index ${index}` },
  );
}

describe("three node processes", () => {
  it("serve a batch written through the leader from all three replicas", async () => {
    await cluster.ensureGroup(1);
    const leader = await cluster.leaderOf(1);
    const batch = Array.from({ length: 10 }, (_, position) =>
      record(`key-${position % 3}`, `first-${position}`),
    );
    const ack = await cluster.admin(leader).append(1, batch);
    expect(ack.recordCount).toBe(10);
    await waitCaughtUp(1, ack.index, cluster.nodeIds);
    for (const nodeId of cluster.nodeIds) {
      const read = await cluster.admin(nodeId).read(1, ack.index);
      expect(read.records.map((r) => [r.index, r.offset, r.partitionKey, r.data.toString()])).toEqual(
        batch.map((r, offset) => [ack.index, offset, r.partitionKey, r.data.toString()]),
      );
      expect(read.records[0]?.arrivalTimestampMs).toBe(ack.arrivalTimestampMs);
    }
  });

  it("keep every acknowledged append through SIGKILL of a follower, then of the leader", async () => {
    const groupId = 2;
    await cluster.ensureGroup(groupId);
    const firstLeader = await cluster.leaderOf(groupId);
    const acks: { index: number; texts: string[] }[] = [];
    const ambiguous: string[] = [];
    let writing = true;
    let sequence = 0;
    const writer = (async () => {
      while (writing) {
        const texts = [`w-${sequence}-a`, `w-${sequence}-b`];
        sequence += 1;
        try {
          const ack = await cluster.append(
            groupId,
            texts.map((text) => record(`key-${sequence % 5}`, text)),
            { timeoutMs: 30_000, callTimeoutMs: 5_000 },
          );
          acks.push({ index: ack.index, texts });
        } catch (error) {
          // In flight when a node died: it may or may not be in the log; it was not acknowledged.
          ambiguous.push(`${texts[0]}: ${(error as AdminCallError).message}`);
        }
      }
    })();
    const acknowledged = (count: number, what: string) =>
      waitFor(() => acks.length >= count, {
        timeoutMs: 45_000,
        what: `${count} acknowledged appends ${what}`,
      });

    await acknowledged(20, "before any kill");
    const follower = cluster.nodeIds.find((id) => id !== firstLeader) ?? 0;
    await cluster.kill(follower, "SIGKILL");
    await acknowledged(acks.length + 20, `with follower ${follower} dead`);
    await cluster.restart(follower);
    await acknowledged(acks.length + 10, `after follower ${follower} restarted`);

    const leader = await cluster.leaderOf(groupId);
    await cluster.kill(leader, "SIGKILL");
    await acknowledged(acks.length + 20, `with leader ${leader} dead`);
    await cluster.restart(leader);
    await acknowledged(acks.length + 10, `after leader ${leader} restarted`);
    writing = false;
    await writer;

    expect(ambiguous.length).toBeLessThan(acks.length);
    const lastAcked = Math.max(...acks.map((ack) => ack.index));
    await waitCaughtUp(groupId, lastAcked, cluster.nodeIds);
    for (const nodeId of cluster.nodeIds) {
      const records = await cluster.admin(nodeId).readAll(groupId, 1);
      const byIndex = new Map<number, string[]>();
      for (const r of records) byIndex.set(r.index, [...(byIndex.get(r.index) ?? []), r.data.toString()]);
      for (const ack of acks) {
        expect(byIndex.get(ack.index), `node ${nodeId}, entry ${ack.index}`).toEqual(ack.texts);
      }
    }
    const checksums = await Promise.all(
      cluster.nodeIds.map(
        async (nodeId) => (await cluster.admin(nodeId).logChecksum(groupId, lastAcked)).checksum,
      ),
    );
    expect(new Set(checksums).size, `checksums ${checksums.join(", ")}`).toBe(1);
  }, 150_000);

  it("elect another leader while the leader is frozen (SIGSTOP), and take the old one back on SIGCONT", async () => {
    const groupId = 3;
    await cluster.ensureGroup(groupId);
    const frozen = await cluster.leaderOf(groupId);
    const before = await cluster.append(groupId, [record("p", "before-pause")]);
    cluster.pause(frozen);
    let duringIndex: number;
    try {
      // The frozen node cannot answer, so the leader found is one the other two elected.
      const successor = await cluster.leaderOf(groupId, 30_000);
      expect(successor).not.toBe(frozen);
      const during = await cluster.admin(successor).append(groupId, [record("p", "during-pause")]);
      expect(during.index).toBeGreaterThan(before.index);
      duringIndex = during.index;
    } catch (error) {
      cluster.resume(frozen);
      throw error;
    }
    cluster.resume(frozen);
    // The new leader's term began with a no-op: the append made while frozen is further on.
    await waitCaughtUp(groupId, duringIndex, cluster.nodeIds);
    const texts = (await cluster.admin(frozen).readAll(groupId)).map((r) => r.data.toString());
    expect(texts).toContain("during-pause");
  }, 60_000);

  it("hand leadership over and exit with status 0 on SIGTERM", async () => {
    const leader = await cluster.leaderOf(1);
    expect(await cluster.kill(leader, "SIGTERM")).toEqual({ code: 0, signal: null });
    const next = await cluster.leaderOf(1);
    expect(next).not.toBe(leader);
    const ack = await cluster.append(1, [record("after", "after-sigterm")]);
    expect(ack.nodeId).not.toBe(leader);
    for (const nodeId of cluster.runningNodeIds()) {
      expect(await cluster.kill(nodeId, "SIGTERM")).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});
