// Proves ProposalTracker resolves proposals that commit with their own term and rejects, typed and retriable, those that cannot.
import {
  type CommittedPosition,
  type Entry,
  EntryType,
  LeadershipLostError,
  ProposalTracker,
  type RaftError,
  StateRole,
} from "raft-ts";
import { describe, expect, it } from "vitest";
import { TestCluster, text } from "./helpers/cluster.js";

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array(0) };
}

function recorder() {
  const outcomes: string[] = [];
  const callbacks = (name: string) => ({
    resolve: (position: CommittedPosition) =>
      outcomes.push(`${name} committed ${position.term}/${position.index}`),
    reject: (error: RaftError) => outcomes.push(`${name} ${error.name} retriable=${error.retriable}`),
  });
  return { outcomes, callbacks };
}

describe("ProposalTracker", () => {
  it("resolves a proposal when an entry of its term commits at its index", () => {
    const tracker = new ProposalTracker();
    const { outcomes, callbacks } = recorder();
    tracker.track(2, 5, callbacks("a"));
    tracker.track(2, 7, callbacks("b"));
    tracker.observe({ committedEntries: [entry(4, 2), entry(5, 2), entry(6, 2)], softState: null });
    expect(outcomes).toEqual(["a committed 2/5"]);
    tracker.observe({ committedEntries: [entry(7, 2)], softState: null });
    expect(outcomes).toEqual(["a committed 2/5", "b committed 2/7"]);
    expect(tracker.size).toBe(0);
  });

  it("rejects when an entry of another term commits at its index", () => {
    const tracker = new ProposalTracker();
    const { outcomes, callbacks } = recorder();
    tracker.track(2, 5, callbacks("a"));
    tracker.observe({ committedEntries: [entry(5, 3)], softState: null });
    expect(outcomes).toEqual(["a LeadershipLostError retriable=true"]);
  });

  it("rejects everything pending when the node stops leading, after settling what committed", () => {
    const tracker = new ProposalTracker();
    const { outcomes, callbacks } = recorder();
    tracker.track(2, 5, callbacks("a"));
    tracker.track(2, 6, callbacks("b"));
    tracker.observe({ committedEntries: [entry(5, 2)], softState: { leader: 3, role: StateRole.Follower } });
    expect(outcomes).toEqual(["a committed 2/5", "b LeadershipLostError retriable=true"]);
  });

  it("rejects proposals whose index the committed entries skipped (a snapshot)", () => {
    const tracker = new ProposalTracker();
    const { outcomes, callbacks } = recorder();
    tracker.track(2, 5, callbacks("a"));
    tracker.observe({ committedEntries: [entry(9, 3)], softState: null });
    expect(outcomes).toEqual(["a LeadershipLostError retriable=true"]);
  });

  it("waits with a Promise, and settles against a real cluster", async () => {
    const cluster = TestCluster.create([1, 2, 3]);
    cluster.elect(1);
    const tracker = new ProposalTracker();
    cluster.onReady = (id, ready) => {
      if (id === 1) tracker.observe(ready);
    };
    const { term, firstIndex } = cluster.raft(1).proposeBatch([text("a"), text("b")]);
    const committed = tracker.wait(term, firstIndex + 1);
    cluster.stabilize();
    await expect(committed).resolves.toEqual({ term, index: firstIndex + 1 });

    // A proposal appended by a leader that is then deposed is rejected.
    cluster.isolate(1);
    const { index } = cluster.raft(1).propose(text("lost"));
    const lost = tracker.wait(term, index);
    cluster.stabilize();
    // Nodes 2 and 3 stop hearing from 1, and one of them wins a new term.
    for (let i = 0; i < 40; i++) {
      cluster.tick(2);
      cluster.tick(3);
      cluster.stabilize();
    }
    cluster.heal();
    cluster.tick(1);
    cluster.stabilize();
    await expect(lost).rejects.toBeInstanceOf(LeadershipLostError);
  });
});
