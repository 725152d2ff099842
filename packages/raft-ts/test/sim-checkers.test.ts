// Proves each safety checker of the simulation fires on a hand-made violation of its property
// (and stays quiet on the legal case next to it), independently of any Raft implementation.
import { describe, expect, it } from "vitest";
import { type Entry, EntryType, type Message, MessageType, type Ready, StateRole } from "../src/index.js";
import { testMessage } from "../src/testing/message.js";
import { SafetyChecker } from "../src/testing/sim/checkers.js";
import { SimNode } from "../src/testing/sim/sim-node.js";
import { encodeProposal } from "../src/testing/sim/state-machine.js";
import { ViolationKind } from "../src/testing/sim/violation.js";

const VOTERS = [1, 2, 3];

function setup(): { checker: SafetyChecker; node: (id: number) => SimNode } {
  const nodes = new Map<number, SimNode>();
  for (const id of VOTERS) nodes.set(id, new SimNode(id, { voters: VOTERS, learners: [] }));
  return { checker: new SafetyChecker((id) => nodes.get(id)), node: (id) => nodes.get(id)! };
}

function entry(index: number, term: number, proposal: number): Entry {
  return { index, term, type: EntryType.Normal, data: encodeProposal(proposal, 8) };
}

function ready(fields: Partial<Ready>): Ready {
  return {
    softState: null,
    hardState: null,
    entries: [],
    snapshot: null,
    committedEntries: [],
    messages: [],
    messagesAfterPersist: [],
    readStates: [],
    mustSync: false,
    ...fields,
  };
}

function voteResponse(from: number, to: number, term: number): Message {
  return testMessage({ type: MessageType.VoteResp, from, to, term });
}

function violationKind(action: () => void): string | null {
  try {
    action();
    return null;
  } catch (error) {
    return (error as { kind?: string }).kind ?? String(error);
  }
}

describe("safety checkers", () => {
  it("Election Safety: two leaders of one term", () => {
    const { checker, node } = setup();
    checker.onStatus(node(1), StateRole.Leader, 2, 0, VOTERS);
    checker.onStatus(node(1), StateRole.Leader, 2, 0, VOTERS); // the same leader again is fine
    checker.onStatus(node(2), StateRole.Leader, 3, 0, VOTERS); // a later term is fine
    expect(violationKind(() => checker.onStatus(node(3), StateRole.Leader, 2, 0, VOTERS))).toBe(
      ViolationKind.ElectionSafety,
    );
  });

  it("one vote per term: grants and persisted votes, across restarts", () => {
    const { checker, node } = setup();
    checker.onSend(voteResponse(1, 2, 5));
    checker.onSend(voteResponse(1, 2, 5)); // a repeated grant to the same candidate is fine
    checker.onPersistHardState(node(1), { term: 5, vote: 0, commit: 0 }, { term: 5, vote: 2, commit: 0 });
    checker.onSend(voteResponse(1, 3, 6));
    expect(violationKind(() => checker.onSend(voteResponse(1, 3, 5)))).toBe(ViolationKind.OneVotePerTerm);
    expect(
      violationKind(() =>
        checker.onPersistHardState(node(1), { term: 6, vote: 0, commit: 0 }, { term: 6, vote: 1, commit: 0 }),
      ),
    ).toBe(ViolationKind.OneVotePerTerm);
  });

  it("durable state never goes backwards", () => {
    const { checker, node } = setup();
    expect(
      violationKind(() =>
        checker.onPersistHardState(node(1), { term: 4, vote: 0, commit: 3 }, { term: 3, vote: 0, commit: 3 }),
      ),
    ).toBe(ViolationKind.DurableStateRegressed);
  });

  it("Log Matching: one (index, term), two entries", () => {
    const { checker, node } = setup();
    checker.onReady(node(1), ready({ entries: [entry(1, 1, 100), entry(2, 1, 101)] }), StateRole.Follower, 1);
    checker.onReady(node(2), ready({ entries: [entry(1, 1, 100)] }), StateRole.Follower, 1);
    expect(
      violationKind(() =>
        checker.onReady(node(3), ready({ entries: [entry(1, 1, 999)] }), StateRole.Follower, 1),
      ),
    ).toBe(ViolationKind.LogMatching);
  });

  it("Log Matching: same (index, term) after different predecessors", () => {
    const { checker, node } = setup();
    checker.onReady(node(1), ready({ entries: [entry(1, 1, 100), entry(2, 3, 102)] }), StateRole.Follower, 3);
    checker.onReady(node(2), ready({ entries: [entry(1, 2, 200)] }), StateRole.Follower, 3);
    expect(
      violationKind(() =>
        checker.onReady(node(2), ready({ entries: [entry(2, 3, 102)] }), StateRole.Follower, 3),
      ),
    ).toBe(ViolationKind.LogMatching);
  });

  it("Leader Append-Only: a leader rewrites its own log", () => {
    const { checker, node } = setup();
    checker.onReady(node(1), ready({ entries: [entry(1, 2, 100), entry(2, 2, 101)] }), StateRole.Leader, 2);
    checker.onReady(node(1), ready({ entries: [entry(3, 2, 102)] }), StateRole.Leader, 2);
    expect(
      violationKind(() =>
        checker.onReady(node(1), ready({ entries: [entry(3, 2, 103)] }), StateRole.Leader, 2),
      ),
    ).toBe(ViolationKind.LeaderAppendOnly);
  });

  it("Leader Completeness: a new leader lacks an entry committed in an earlier term", () => {
    const { checker, node } = setup();
    checker.onReady(
      node(1),
      ready({ entries: [entry(1, 1, 100)], hardState: { term: 1, vote: 1, commit: 1 } }),
      StateRole.Leader,
      1,
    );
    // A leader of term 2 whose log holds a different entry at index 1.
    checker.onStatus(node(2), StateRole.Leader, 2, 0, VOTERS);
    expect(
      violationKind(() =>
        checker.onReady(node(2), ready({ entries: [entry(1, 2, 0)] }), StateRole.Leader, 2),
      ),
    ).toBe(ViolationKind.LeaderCompleteness);
  });

  it("Leader Completeness counts the term of the commit, not of the entry (figure 8)", () => {
    const { checker, node } = setup();
    // Node 3 leads term 3 with entry 2@3; node 1, leader of term 4, then commits 2@2.
    checker.onReady(node(3), ready({ entries: [entry(1, 1, 100)] }), StateRole.Follower, 1);
    checker.onStatus(node(3), StateRole.Leader, 3, 0, VOTERS);
    checker.onReady(node(3), ready({ entries: [entry(2, 3, 300)] }), StateRole.Leader, 3);
    checker.onReady(node(1), ready({ entries: [entry(1, 1, 100), entry(2, 2, 200)] }), StateRole.Follower, 2);
    // Committed in term 4: node 3, a stale leader of term 3, may lack it.
    checker.onReady(node(1), ready({ hardState: { term: 4, vote: 1, commit: 2 } }), StateRole.Leader, 4);
    // A leader of term 5 may not.
    checker.onStatus(node(3), StateRole.Follower, 5, 0, VOTERS);
    checker.onStatus(node(3), StateRole.Leader, 5, 0, VOTERS);
    expect(
      violationKind(() =>
        checker.onReady(node(3), ready({ entries: [entry(3, 5, 0)] }), StateRole.Leader, 5),
      ),
    ).toBe(ViolationKind.LeaderCompleteness);
  });

  it("committed entries never change", () => {
    const { checker, node } = setup();
    checker.onReady(
      node(1),
      ready({ entries: [entry(1, 1, 100)], hardState: { term: 1, vote: 1, commit: 1 } }),
      StateRole.Follower,
      1,
    );
    expect(
      violationKind(() =>
        checker.onReady(
          node(2),
          ready({ entries: [entry(1, 2, 200)], hardState: { term: 2, vote: 0, commit: 1 } }),
          StateRole.Follower,
          2,
        ),
      ),
    ).toBe(ViolationKind.CommittedNeverChanges);
  });

  it("CommittedIsDurable: a leader commits what a majority has not synced", () => {
    const { checker, node } = setup();
    checker.onReady(node(1), ready({ entries: [entry(1, 1, 100), entry(2, 1, 101)] }), StateRole.Leader, 1);
    checker.onStatus(node(1), StateRole.Leader, 1, 0, VOTERS);
    // Index 1 is on the disks of nodes 1 and 2: committing it is fine.
    node(1).durable.append([entry(1, 1, 100), entry(2, 1, 101)]);
    node(2).durable.append([entry(1, 1, 100)]);
    checker.onStatus(node(1), StateRole.Leader, 1, 1, VOTERS);
    // Index 2 is only on node 1's disk.
    expect(violationKind(() => checker.onStatus(node(1), StateRole.Leader, 1, 2, VOTERS))).toBe(
      ViolationKind.CommittedIsDurable,
    );
  });

  it("State Machine Safety: two entries applied at one index", () => {
    const { checker, node } = setup();
    const hash = checker.onApply(node(1), entry(1, 1, 100), 0);
    expect(checker.onApply(node(2), entry(1, 1, 100), 0)).toBe(hash);
    expect(violationKind(() => checker.onApply(node(3), entry(1, 1, 101), 0))).toBe(
      ViolationKind.StateMachineSafety,
    );
  });
});
