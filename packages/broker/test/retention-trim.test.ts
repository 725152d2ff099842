// Proves that local retention (the gateway's sweep: trimLog up to indexAtTimestamp(now - retention)
// on each replica at its own time) removes expired records and nothing else: before any record
// expires, no replica's first index moves — not for a group that has taken no record yet, not for
// the leader's no-op before the first record — so a follower that was down when the group was
// created catches up from the log, and every replica serves every record from TRIM_HORIZON; once
// records expire, every replica drops exactly them, a lagging follower catches up by snapshot and
// serves every younger record.
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUP = 7;
const HOUR_MS = 3_600_000;
const RETENTION_MS = 24 * HOUR_MS;
const START_MS = 1_700_000_000_000;

/** The gateway's retention sweep of one replica (packages/gateway/src/server/retention.ts). */
async function sweep(broker: Broker, nowMs: number): Promise<number> {
  const status = broker.groupStatus(GROUP);
  const keepFrom = broker.indexAtTimestamp(GROUP, nowMs - RETENTION_MS);
  if (keepFrom <= status.firstIndex) return status.firstIndex;
  return broker.trimLog(GROUP, keepFrom);
}

/** Every record a reader gets from TRIM_HORIZON on this replica, as text. */
function readAll(broker: Broker): string[] {
  const out: string[] = [];
  let index = 0;
  let offset = 0;
  for (;;) {
    const page = broker.read(GROUP, index, { maxRecords: 100, maxBytes: 1 << 20 }, offset);
    if (page.records.length === 0) return out;
    for (const record of page.records) out.push(record.data.toString());
    index = page.nextIndex;
    offset = page.nextOffset;
  }
}

async function appendTexts(leader: Broker, texts: readonly string[]): Promise<number> {
  let last = 0;
  for (const text of texts) {
    last = (await leader.append(GROUP, [{ partitionKey: "k", data: Buffer.from(text) }])).index;
  }
  return last;
}

async function caughtUp(brokers: readonly Broker[], index: number): Promise<void> {
  for (const broker of brokers) {
    await waitFor(
      () => broker.groupIds().includes(GROUP) && broker.groupStatus(GROUP).appliedIndex >= index,
      `node ${broker.nodeId} applies ${index}`,
    );
  }
}

function texts(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `r${from + i}`);
}

describe("local retention trims expired records only", () => {
  it("before any record expires no first index moves; a follower down at creation catches up from the log", async () => {
    let nowMs = START_MS;
    cluster = await TestCluster.start({ leaderBalance: false, clock: () => nowMs });
    // Node 2 is down when the group is created (as a reshard's children while a node is killed).
    await cluster.kill(2);
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const other = cluster.running().find((b) => b !== leader) as Broker;

    // The leader sweeps while the group holds only its no-op: nothing to free.
    await caughtUp([leader, other], leader.groupStatus(GROUP).lastIndex);
    expect(await sweep(leader, nowMs)).toBe(1);
    const last = await appendTexts(leader, texts(0, 10));
    await caughtUp([leader, other], last);
    nowMs += HOUR_MS;
    // Only the leader sweeps again (each node sweeps on its own timer); the first record is an
    // hour old, far younger than the retention.
    expect(await sweep(leader, nowMs)).toBe(1);

    const returning = await cluster.open(2);
    await cluster.ensureGroups([GROUP], [1, 2, 3]);
    await caughtUp([returning], last);
    for (const broker of cluster.running()) await sweep(broker, nowMs);
    for (const broker of cluster.running()) {
      expect(broker.groupStatus(GROUP).firstIndex).toBe(1);
      expect(readAll(broker)).toEqual(texts(0, 10));
      expect(broker.committedLogChecksum(GROUP, last)).toBe(leader.committedLogChecksum(GROUP, last));
    }
  });

  it("expired records are dropped on every replica, and only they; a lagging follower serves every younger record", async () => {
    let nowMs = START_MS;
    cluster = await TestCluster.start({ leaderBalance: false, clock: () => nowMs });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const lagging = cluster.running().find((b) => b !== leader) as Broker;
    const oldLast = await appendTexts(leader, texts(0, 5));
    await caughtUp(cluster.running(), oldLast);
    await cluster.kill(lagging.nodeId);

    nowMs += 2 * HOUR_MS;
    const youngFirst = await appendTexts(leader, ["r5"]);
    const last = await appendTexts(leader, texts(6, 10));
    // r0…r4 are 2 h old, r5…r9 new: a retention of 24 h seen 23 h from now expires the first five.
    nowMs += RETENTION_MS - HOUR_MS;
    const running = cluster.running();
    await caughtUp(running, last);
    for (const broker of running) {
      expect(await sweep(broker, nowMs)).toBe(youngFirst);
      expect(readAll(broker)).toEqual(texts(5, 10));
    }
    // Nothing more expired: a second sweep changes nothing.
    for (const broker of running) expect(await sweep(broker, nowMs)).toBe(youngFirst);

    // The follower that missed r5…r9 is behind the leader's first index: it gets a snapshot, then
    // the log, and serves every record younger than the retention.
    const returning = await cluster.open(lagging.nodeId);
    await cluster.ensureGroups([GROUP]);
    await caughtUp([returning], last);
    await sweep(returning, nowMs);
    expect(returning.groupStatus(GROUP).firstIndex).toBe(youngFirst);
    expect(readAll(returning)).toEqual(texts(5, 10));
    expect(returning.committedLogChecksum(GROUP, last)).toBe(leader.committedLogChecksum(GROUP, last));

    // Once every record expired the whole applied log goes; a later no-op (a new term) stays.
    nowMs += 2 * RETENTION_MS;
    for (const broker of cluster.running()) {
      const applied = broker.groupStatus(GROUP).appliedIndex;
      expect(await sweep(broker, nowMs)).toBe(applied + 1);
      expect(readAll(broker)).toEqual([]);
    }
    await cluster.kill(leader.nodeId);
    const next = await cluster.waitForLeader(GROUP);
    const noOp = next.groupStatus(GROUP).lastIndex;
    await caughtUp(cluster.running(), noOp);
    for (const broker of cluster.running()) {
      const first = broker.groupStatus(GROUP).firstIndex;
      expect(await sweep(broker, nowMs)).toBe(first);
    }
  });
});
