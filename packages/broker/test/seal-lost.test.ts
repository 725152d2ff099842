// Proves that a seal proposed but never committed is forgotten: its leader refuses appends while
// the seal is in its log, but once a new leader (whose log lacks it) replaces that part of the
// log — live, or after the old leader restarts with the seal on its disk — the old leader takes
// appends again when it leads, and a new seal works.
import { MessageType } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { ShardSealedError } from "../src/errors.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUP = 11;

function record(text: string) {
  return { partitionKey: "k", data: Buffer.from(text) };
}

function texts(broker: Broker): string[] {
  const out: string[] = [];
  let index = 0;
  let offset = 0;
  for (;;) {
    const page = broker.read(GROUP, index, { maxRecords: 1_000, maxBytes: 1 << 20 }, offset);
    if (page.records.length === 0) return out;
    for (const r of page.records) out.push(r.data.toString());
    index = page.nextIndex;
    offset = page.nextOffset;
  }
}

/** Drops the old leader's log replication for the group (heartbeats still pass). */
function dropAppendsFrom(c: TestCluster, nodeId: number): void {
  c.hub.setFilter(
    (from, _to, { groupId, message }) =>
      !(from === nodeId && groupId === GROUP && message.type === MessageType.App),
  );
}

/** Hands leadership of the group to `target` and waits until it leads. */
async function makeLeader(c: TestCluster, target: Broker): Promise<void> {
  await waitFor(() => {
    if (target.groupStatus(GROUP).role === "leader") return true;
    const leader = c.leaderOf(GROUP);
    if (leader !== undefined && leader !== target) leader.transferLeader(GROUP, target.nodeId);
    return false;
  }, `node ${target.nodeId} leads group ${GROUP}`);
}

describe("a seal that never commits", () => {
  it("is forgotten when an isolated leader rejoins; it then takes appends and a new seal works", async () => {
    cluster = await TestCluster.start({ leaderBalance: false, appendTimeoutMs: 300 });
    await cluster.ensureGroups([GROUP]);
    const old = await cluster.waitForLeader(GROUP);
    await old.append(GROUP, [record("before")]);

    dropAppendsFrom(cluster, old.nodeId);
    const lost = await old.seal(GROUP).catch((e: unknown) => e);
    expect(lost).toMatchObject({ retriable: true });
    expect(["APPEND_TIMEOUT", "LEADERSHIP_LOST"]).toContain((lost as { code: string }).code);
    // The seal is in its log: it refuses appends, and sealedIndex stays 0 (not applied).
    await expect(old.append(GROUP, [record("refused")])).rejects.toBeInstanceOf(ShardSealedError);
    expect(old.groupStatus(GROUP).sealedIndex).toBe(0);

    cluster.hub.isolate(old.nodeId);
    const others = cluster.running().filter((b) => b !== old);
    await waitFor(
      () => others.some((b) => b.groupStatus(GROUP).role === "leader"),
      "a new leader among the others",
    );
    const successor = others.find((b) => b.groupStatus(GROUP).role === "leader") as Broker;
    await successor.append(GROUP, [record("successor")]);
    expect(successor.groupStatus(GROUP).sealedIndex).toBe(0);

    cluster.hub.setFilter(null);
    cluster.hub.healAll();
    const applied = successor.groupStatus(GROUP).appliedIndex;
    await waitFor(() => old.groupStatus(GROUP).appliedIndex >= applied, "the old leader catches up");
    await makeLeader(cluster, old);
    await old.append(GROUP, [record("old again")]);

    const seal = await old.seal(GROUP);
    for (const broker of cluster.running()) {
      await waitFor(
        () => broker.groupStatus(GROUP).sealedIndex === seal.index,
        `node ${broker.nodeId} sealed`,
      );
      expect(texts(broker)).toEqual(["before", "successor", "old again"]);
      await expect(broker.append(GROUP, [record("late")])).rejects.toBeInstanceOf(ShardSealedError);
    }
  });

  it("is forgotten after its leader is killed and restarts with the seal on its disk", async () => {
    cluster = await TestCluster.start({ leaderBalance: false, appendTimeoutMs: 5_000 });
    await cluster.ensureGroups([GROUP]);
    const old = await cluster.waitForLeader(GROUP);
    const oldId = old.nodeId;
    await old.append(GROUP, [record("before")]);

    dropAppendsFrom(cluster, oldId);
    const persistedBefore = old.metrics().entriesPersisted;
    const pending = old.seal(GROUP).catch((e: unknown) => e);
    // Nothing else is written on the old leader: its next persisted entry is the seal.
    await waitFor(
      () => old.metrics().entriesPersisted > persistedBefore,
      "the seal on the old leader's disk",
    );
    await cluster.kill(oldId);
    expect(await pending).toMatchObject({ code: "BROKER_CLOSED" });
    cluster.hub.setFilter(null);

    const successor = await cluster.waitForLeader(GROUP);
    await successor.append(GROUP, [record("successor")]);
    // Restarted while cut off, it finds the uncommitted seal in its log: refuses appends, not sealed.
    cluster.hub.isolate(oldId);
    const reopened = await cluster.open(oldId);
    await expect(reopened.append(GROUP, [record("refused")])).rejects.toBeInstanceOf(ShardSealedError);
    expect(reopened.groupStatus(GROUP).sealedIndex).toBe(0);
    cluster.hub.healAll();
    const applied = successor.groupStatus(GROUP).appliedIndex;
    await waitFor(() => reopened.groupStatus(GROUP).appliedIndex >= applied, "the restarted node catches up");
    await makeLeader(cluster, reopened);
    await reopened.append(GROUP, [record("old again")]);

    const seal = await reopened.seal(GROUP);
    expect(await reopened.seal(GROUP)).toEqual(seal);
    for (const broker of cluster.running()) {
      await waitFor(
        () => broker.groupStatus(GROUP).sealedIndex === seal.index,
        `node ${broker.nodeId} sealed`,
      );
      expect(texts(broker)).toEqual(["before", "successor", "old again"]);
    }
  });
});
