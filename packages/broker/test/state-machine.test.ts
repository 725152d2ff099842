// Proves a state-machine group (the metadata service's kind, on group 0) replicates a key-value
// machine: proposals return apply's result on the leader and are refused with a leader hint on a
// follower; a restarted replica restores from its snapshot and replays to the same state; a
// replica that missed more than a snapshot's worth catches up by InstallSnapshot; a read barrier
// on a follower sees what the leader just committed; onApplied reports applied indexes; the group
// quiesces when idle and survives a graceful shutdown of its leader; a machine that throws stops
// its group with StateMachineFailedError.
import type { NodeId } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { STATE_MACHINE_SNAPSHOT_ENTRIES } from "../src/constants.js";
import { NotLeaderError, StateMachineFailedError } from "../src/errors.js";
import type { GroupStateMachine } from "../src/state-machine/group-state-machine.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

const GROUP = 0;
const VOTERS: readonly NodeId[] = [1, 2, 3];

/** "key=value" commands; apply returns how many times the key was set. */
class KvMachine implements GroupStateMachine {
  values = new Map<string, { value: string; version: number }>();
  appliedIndex = 0;
  /** Indexes applied in this process lifetime (each must appear once). */
  readonly appliedIndexes: number[] = [];
  readonly restores: number[] = [];

  apply(index: number, data: Buffer): unknown {
    if (index <= this.appliedIndex) throw new Error(`index ${index} applied twice`);
    if (data.toString("utf8") === "boom") throw new Error("boom");
    this.appliedIndex = index;
    this.appliedIndexes.push(index);
    const [key, value] = data.toString("utf8").split("=") as [string, string];
    const version = (this.values.get(key)?.version ?? 0) + 1;
    this.values.set(key, { value, version });
    return version;
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify({ index: this.appliedIndex, values: [...this.values] }));
  }

  restore(data: Uint8Array, index: number): void {
    const parsed = JSON.parse(Buffer.from(data).toString("utf8")) as {
      index: number;
      values: [string, { value: string; version: number }][];
    };
    if (parsed.index !== index) throw new Error(`snapshot of ${parsed.index} restored as ${index}`);
    this.values = new Map(parsed.values);
    this.appliedIndex = index;
    this.restores.push(index);
  }

  state(): string {
    return JSON.stringify([...this.values].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

/** A cluster whose nodes give group 0 a KvMachine each (the latest per node is in `machines`). */
async function startCluster(
  options: { appendTimeoutMs?: number } = {},
): Promise<{ cluster: TestCluster; machines: Map<NodeId, KvMachine> }> {
  const started = await TestCluster.start({ leaderBalance: false, ...options }, []);
  cluster = started;
  const machines = new Map<NodeId, KvMachine>();
  for (const id of VOTERS) await openNode(started, machines, id);
  await started.ensureGroups([GROUP], VOTERS);
  return { cluster: started, machines };
}

function openNode(target: TestCluster, machines: Map<NodeId, KvMachine>, id: NodeId): Promise<Broker> {
  return target.open(id, {
    stateMachineFor: (groupId) => {
      if (groupId !== GROUP) return undefined;
      const machine = new KvMachine();
      machines.set(id, machine);
      return machine;
    },
  });
}

async function proposeMany(leader: Broker, from: number, count: number): Promise<void> {
  const waves = 100;
  for (let start = from; start < from + count; start += waves) {
    const wave: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(start + waves, from + count); i++) {
      wave.push(leader.propose(GROUP, Buffer.from(`k${i % 37}=v${i}`)));
    }
    await Promise.all(wave);
  }
}

function machineOf(machines: Map<NodeId, KvMachine>, id: NodeId): KvMachine {
  const machine = machines.get(id);
  if (machine === undefined) throw new Error(`node ${id} has no machine`);
  return machine;
}

describe("state-machine groups", () => {
  it("proposes on the leader with apply's result, refuses on a follower with a hint, and converges", async () => {
    const { cluster, machines } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    expect(leader.groupStatus(GROUP).kind).toBe("state-machine");
    const first = await leader.propose(GROUP, Buffer.from("a=1"));
    const second = await leader.propose(GROUP, Buffer.from("a=2"));
    expect(first.result).toBe(1);
    expect(second.result).toBe(2);
    expect(second.index).toBeGreaterThan(first.index);
    const follower = cluster.running().find((b) => b !== leader) as Broker;
    const refused = await follower.propose(GROUP, Buffer.from("a=3")).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotLeaderError);
    expect((refused as NotLeaderError).leaderHint).toBe(leader.nodeId);
    // Bad input is refused before anything enters the log.
    await expect(leader.propose(GROUP, Buffer.alloc(0))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(leader.append(GROUP, [{ partitionKey: "k", data: Buffer.from("x") }])).rejects.toMatchObject(
      {
        code: "INVALID_ARGUMENT",
      },
    );
    await waitFor(
      () =>
        VOTERS.every((id) => machineOf(machines, id).state() === machineOf(machines, leader.nodeId).state()),
      "every replica applies both proposals",
    );
    expect(machineOf(machines, follower.nodeId).values.get("a")).toEqual({ value: "2", version: 2 });
  });

  it("a restarted replica restores from its snapshot, replays the rest, and equals the others", async () => {
    const { cluster, machines } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    await proposeMany(leader, 0, STATE_MACHINE_SNAPSHOT_ENTRIES + 150);
    const follower = cluster.running().find((b) => b !== leader) as Broker;
    const id = follower.nodeId;
    const target = leader.groupStatus(GROUP).appliedIndex;
    await waitFor(
      () => follower.groupStatus(GROUP).appliedIndex >= target,
      "the follower applies everything",
    );
    await waitFor(
      () => follower.groupStatus(GROUP).firstIndex > 1,
      "the follower compacts its log behind a snapshot",
    );
    await cluster.kill(id);
    const reopened = await openNode(cluster, machines, id);
    const machine = machineOf(machines, id);
    expect(machine.restores).toHaveLength(1);
    const restoredAt = machine.restores[0] as number;
    expect(restoredAt).toBeGreaterThanOrEqual(STATE_MACHINE_SNAPSHOT_ENTRIES);
    await waitFor(() => reopened.groupStatus(GROUP).appliedIndex >= target, "the restarted replica replays");
    // Only entries after the snapshot were applied again, each once.
    expect(machine.appliedIndexes[0]).toBe(restoredAt + 1);
    expect(new Set(machine.appliedIndexes).size).toBe(machine.appliedIndexes.length);
    expect(machine.state()).toBe(machineOf(machines, leader.nodeId).state());
    // And it keeps working: a new proposal reaches it.
    await leader.propose(GROUP, Buffer.from("after=restart"));
    await waitFor(() => machine.values.has("after"), "the restarted replica applies new proposals");
  });

  it("a replica that missed more than a snapshot's worth catches up by InstallSnapshot", async () => {
    const { cluster, machines } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    await proposeMany(leader, 0, 10);
    const lagging = cluster.running().find((b) => b !== leader) as Broker;
    const id = lagging.nodeId;
    const hadApplied = leader.groupStatus(GROUP).appliedIndex;
    await waitFor(
      () => lagging.groupStatus(GROUP).appliedIndex >= hadApplied,
      "the replica applies the first ones",
    );
    await cluster.kill(id);
    await proposeMany(leader, 10, STATE_MACHINE_SNAPSHOT_ENTRIES + 200);
    expect(leader.groupStatus(GROUP).firstIndex).toBeGreaterThan(hadApplied + 1);
    const reopened = await openNode(cluster, machines, id);
    const machine = machineOf(machines, id);
    const target = leader.groupStatus(GROUP).appliedIndex;
    await waitFor(() => reopened.groupStatus(GROUP).appliedIndex >= target, "the lagging replica catches up");
    expect(machine.restores.some((index) => index > hadApplied)).toBe(true);
    expect(reopened.groupStatus(GROUP).firstIndex).toBeGreaterThan(hadApplied + 1);
    await waitFor(() => machine.state() === machineOf(machines, leader.nodeId).state(), "the same state");
  });

  it("a read barrier on a follower sees what the leader committed just before; onApplied reports it", async () => {
    const { cluster, machines } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    const follower = cluster.running().find((b) => b !== leader) as Broker;
    const machine = machineOf(machines, follower.nodeId);
    const seen: number[] = [];
    const unsubscribe = follower.onApplied((groupId, appliedIndex) => {
      if (groupId === GROUP) seen.push(appliedIndex);
    });
    for (let i = 0; i < 20; i++) {
      const { index } = await leader.propose(GROUP, Buffer.from(`x=${i}`));
      await follower.readBarrier(GROUP);
      expect(follower.groupStatus(GROUP).appliedIndex).toBeGreaterThanOrEqual(index);
      expect(machine.values.get("x")?.value).toBe(`${i}`);
    }
    await leader.readBarrier(GROUP);
    const last = follower.groupStatus(GROUP).appliedIndex;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(last);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    unsubscribe();
    const count = seen.length;
    await leader.propose(GROUP, Buffer.from("y=1"));
    await follower.readBarrier(GROUP);
    expect(seen.length).toBe(count);
  });

  it("a read barrier begun as its leader dies is answered by the next leader, not left to its deadline", async () => {
    // With a one-minute deadline, only a barrier asked again of the new leader ends within the test's timeout.
    const { cluster } = await startCluster({ appendTimeoutMs: 60_000 });
    const leader = await cluster.waitForLeader(GROUP);
    await proposeMany(leader, 0, 5);
    const follower = cluster.running().find((b) => b.nodeId !== leader.nodeId) as Broker;
    await cluster.kill(leader.nodeId);
    // The follower still names the dead node as leader: its ReadIndex request goes nowhere.
    const barrier = follower.readBarrier(GROUP);
    const successor = await cluster.waitForLeader(GROUP, 5_000);
    expect(successor.nodeId).not.toBe(leader.nodeId);
    await barrier;
    expect(follower.groupStatus(GROUP).appliedIndex).toBeGreaterThanOrEqual(
      successor.groupStatus(GROUP).commitIndex - 1,
    );
  }, 15_000);

  it("quiesces when idle, and a graceful shutdown of its leader hands the group over", async () => {
    const { cluster, machines } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    await proposeMany(leader, 0, 20);
    await waitFor(
      () => cluster.running().every((b) => b.groupStatus(GROUP).quiesced),
      "group 0 quiesces on every node",
    );
    await cluster.shutdown(leader.nodeId);
    const successor = await cluster.waitForLeader(GROUP, 2_000);
    expect(successor.nodeId).not.toBe(leader.nodeId);
    const { result } = await successor.propose(GROUP, Buffer.from("k0=again"));
    expect(result).toBeGreaterThan(1);
    expect(machineOf(machines, successor.nodeId).values.get("k0")?.value).toBe("again");
  });

  it("a state machine that throws stops its group with StateMachineFailedError", async () => {
    const { cluster } = await startCluster();
    const leader = await cluster.waitForLeader(GROUP);
    await leader.propose(GROUP, Buffer.from("a=1"));
    await expect(leader.propose(GROUP, Buffer.from("boom"))).rejects.toBeInstanceOf(StateMachineFailedError);
    await expect(leader.propose(GROUP, Buffer.from("a=2"))).rejects.toMatchObject({
      code: "STATE_MACHINE_FAILED",
    });
    // The rest of the node goes on: a shard group still works.
    await cluster.ensureGroups([9], VOTERS);
    const shardLeader = await cluster.waitForLeader(9);
    await expect(
      shardLeader.append(9, [{ partitionKey: "k", data: Buffer.from("x") }]),
    ).resolves.toMatchObject({
      recordCount: 1,
    });
  });
});
