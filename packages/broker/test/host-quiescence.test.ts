// Proves idle groups quiesce on every replica (their ticks stop), that an append wakes a group
// and commits, that a follower whose leader goes Down wakes and elects a new leader promptly, and
// that a leader woken after a long quiescence does not step down (CheckQuorum) for lack of acks.
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUPS = Array.from({ length: 20 }, (_, i) => i + 1);

function allQuiesced(brokers: readonly Broker[], groups: readonly number[]): boolean {
  return brokers.every((b) => groups.every((g) => b.groupStatus(g).quiesced));
}

/** Resolves after `ticks` tick rounds of `broker` (a clock for tests that must let time pass). */
async function ticksPass(broker: Broker, ticks: number): Promise<void> {
  const start = broker.metrics().tickRounds;
  await waitFor(() => broker.metrics().tickRounds >= start + ticks, `${ticks} ticks`);
}

describe("quiescence", () => {
  it("idle groups stop ticking on every replica and an append wakes them", async () => {
    // Leader balance off: a transfer it starts mid-window would send messages (balance has its own test).
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups(GROUPS);
    for (const g of GROUPS) await cluster.waitForLeader(g);
    const brokers = cluster.running();
    await waitFor(() => allQuiesced(brokers, GROUPS), "every replica of every group quiesced");
    for (const b of brokers) expect(b.metrics().activeGroups).toBe(0);

    // No group ticks while everything is idle: many tick rounds pass, no group tick is spent and,
    // once the last heartbeat answers are in, no message is sent.
    await ticksPass(brokers[0] as Broker, 5);
    const ticksBefore = brokers.map((b) => b.metrics().groupTicks);
    const messagesBefore = brokers.map((b) => b.metrics().messagesSent);
    await ticksPass(brokers[0] as Broker, 30);
    expect(brokers.map((b) => b.metrics().groupTicks)).toEqual(ticksBefore);
    expect(brokers.map((b) => b.metrics().messagesSent)).toEqual(messagesBefore);
    // No leader stepped down.
    for (const g of GROUPS) expect(cluster.leaderOf(g)).toBeDefined();

    // A write wakes the group, commits, and the group quiesces again.
    const leader = cluster.leaderOf(5) as Broker;
    const result = await leader.append(5, [{ partitionKey: "k", data: Buffer.from("wake") }]);
    expect(result.index).toBeGreaterThan(0);
    for (const b of brokers) {
      await waitFor(
        () => b.groupStatus(5).appliedIndex >= result.index,
        `node ${b.nodeId} applies the write`,
      );
      expect(b.read(5, result.index, { maxRecords: 1, maxBytes: 100 }).records[0]?.data.toString()).toBe(
        "wake",
      );
    }
    await waitFor(() => allQuiesced(brokers, [5]), "group 5 quiesces again");
  });

  it("a woken leader keeps its leadership after a long quiescence", async () => {
    // Leader balance off: a transfer to the preferred replica would change the term on purpose.
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([1]);
    const leader = await cluster.waitForLeader(1);
    const brokers = cluster.running();
    await waitFor(() => allQuiesced(brokers, [1]), "group 1 quiesced");
    const term = leader.groupStatus(1).term;
    // Several election timeouts of quiescence.
    await ticksPass(leader, 60);
    for (let i = 0; i < 5; i++) await leader.append(1, [{ partitionKey: "k", data: Buffer.from(String(i)) }]);
    await ticksPass(leader, 30);
    const status = leader.groupStatus(1);
    expect(status.role).toBe("leader");
    expect(status.term).toBe(term);
  });

  it("a peer Down wakes the quiesced followers of its groups and they elect a new leader", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups(GROUPS);
    for (const g of GROUPS) await cluster.waitForLeader(g);
    await waitFor(() => allQuiesced(cluster!.running(), GROUPS), "everything quiesced");
    const victim = cluster.broker(1);
    const led = GROUPS.filter((g) => victim.groupStatus(g).role === "leader");
    expect(led.length).toBeGreaterThan(0);
    const killedAt = performance.now();
    await cluster.kill(1);
    for (const g of led) {
      const successor = await cluster.waitForLeader(g, 5_000);
      expect(successor.nodeId).not.toBe(1);
    }
    const failoverMs = performance.now() - killedAt;
    // Election timeout is 100–200 ms here; the fast-forward makes the woken followers campaign at once.
    expect(failoverMs).toBeLessThan(2_000);
    // Groups not led by the victim never woke for it: their leader is alive.
    for (const g of led) {
      const leader = cluster.leaderOf(g) as Broker;
      await leader.append(g, [{ partitionKey: "k", data: Buffer.from("after") }]);
    }
  });

  it("an isolated leader of quiesced groups steps down, the others take over, and it rejoins as a follower", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups(GROUPS);
    for (const g of GROUPS) await cluster.waitForLeader(g);
    const c = cluster;
    await waitFor(() => allQuiesced(c.running(), GROUPS), "everything quiesced");
    const victim = c.broker(1);
    const led = GROUPS.filter((g) => victim.groupStatus(g).role === "leader");
    for (const g of led) await victim.append(g, [{ partitionKey: "k", data: Buffer.from("before") }]);
    c.hub.isolate(1);
    const others = c.running().filter((b) => b.nodeId !== 1);
    await waitFor(
      () => led.every((g) => victim.groupStatus(g).role !== "leader"),
      "the isolated node steps down (CheckQuorum after the Down wake)",
      5_000,
    );
    await waitFor(
      () => led.every((g) => others.filter((b) => b.groupStatus(g).role === "leader").length === 1),
      "the other two elect new leaders",
      5_000,
    );
    for (const g of led) {
      const leader = others.find((b) => b.groupStatus(g).role === "leader") as Broker;
      await leader.append(g, [{ partitionKey: "k", data: Buffer.from("after") }]);
    }
    c.hub.healAll();
    for (const g of led) {
      const leader = others.find((b) => b.groupStatus(g).role === "leader") as Broker;
      const target = leader.groupStatus(g).appliedIndex;
      await waitFor(() => victim.groupStatus(g).appliedIndex >= target, `node 1 catches up on group ${g}`);
      expect(victim.committedLogChecksum(g, target)).toBe(leader.committedLogChecksum(g, target));
      expect(victim.groupStatus(g).role).toBe("follower");
    }
  });
});
