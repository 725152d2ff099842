// Proves raft-ts follows each rule of figure 2 of the Raft paper and the thesis's PreVote,
// CheckQuorum and leadership-transfer sections, one test per rule (after etcd's raft_paper_test).
import {
  ConfChangePendingError,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  NONE,
  ProposalDroppedError,
  RaftBug,
  RaftNode,
  ReadOnlyOption,
  SeededRandom,
  StateRole,
  TransferInProgressError,
} from "raft-ts";
import { describe, expect, it } from "vitest";
import { entries, msg, type NodeOptions, TestCluster, take, text } from "./helpers/cluster.js";

const ELECTION = 10;
/** The paper's Raft, without the thesis's extensions. */
const PLAIN: NodeOptions = { preVote: false, checkQuorum: false, electionTicks: ELECTION };
const FULL: NodeOptions = { preVote: true, checkQuorum: true, electionTicks: ELECTION };

function ofType(messages: readonly Message[], type: MessageType): Message[] {
  return messages.filter((m) => m.type === type);
}

function role(cluster: TestCluster, id: number): StateRole {
  return cluster.raft(id).status().role;
}

/** Ticks every node once and lets the cluster settle, `rounds` times. */
function run(cluster: TestCluster, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    for (const id of cluster.nodes.keys()) cluster.tick(id);
    cluster.stabilize();
  }
}

describe("figure 2, rules for followers", () => {
  it("responds to RPCs from candidates and leaders", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    cluster.raft(1).step(msg({ type: MessageType.App, from: 3, to: 1, term: 2 }));
    const ready = take(cluster, 1);
    const replies = [...ready.messages, ...ready.messagesAfterPersist].map((m) => [m.type, m.to]);
    expect(replies).toEqual(
      expect.arrayContaining([
        [MessageType.VoteResp, 2],
        [MessageType.AppResp, 3],
      ]),
    );
  });

  it("becomes a candidate when the election timeout elapses without a leader", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.tick(1, 2 * ELECTION);
    const status = cluster.raft(1).status();
    expect(status.role).toBe(StateRole.Candidate);
    expect(status.term).toBe(1);
  });

  it("randomizes the election timeout in [electionTicks, 2·electionTicks) from the injected source", () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const node = new RaftNode({
        id: 1,
        storage: new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } }),
        random: new SeededRandom(seed),
        ...PLAIN,
      });
      let ticks = 0;
      while (node.status().role === StateRole.Follower) {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(ELECTION);
      expect(ticks).toBeLessThan(2 * ELECTION);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThan(3);
  });

  it("stays a follower while it hears from the leader", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    run(cluster, 5 * ELECTION);
    expect(cluster.raft(2).status()).toMatchObject({ role: StateRole.Follower, leader: 1, term: 1 });
    expect(cluster.raft(1).status().role).toBe(StateRole.Leader);
  });
});

describe("figure 2, rules for all servers", () => {
  it.each([
    ["follower", StateRole.Follower],
    ["candidate", StateRole.Candidate],
    ["leader", StateRole.Leader],
  ])("a %s seeing a higher term adopts it and becomes a follower", (_, start) => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    if (start === StateRole.Leader) cluster.elect(1);
    if (start === StateRole.Candidate) cluster.raft(1).campaign();
    expect(role(cluster, 1)).toBe(start);
    cluster.raft(1).step(msg({ type: MessageType.App, from: 3, to: 1, term: 5 }));
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, term: 5, leader: 3 });
  });

  it("a response with a higher term also makes a node follow, with no leader known", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    cluster.raft(1).step(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 4, reject: true }));
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, term: 4, leader: NONE });
  });

  it("applies committed entries (commitIndex > lastApplied) in log order", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    cluster.raft(1).proposeBatch([text("x"), text("y")]);
    cluster.stabilize();
    for (const id of [1, 2, 3]) {
      expect(cluster.appliedText(id)).toEqual(["x", "y"]);
      expect(cluster.get(id).applied.map((e) => e.index)).toEqual([1, 2, 3]);
    }
  });
});

describe("figure 2, rules for candidates", () => {
  it("on conversion: increments the term, votes for itself, requests votes from all after persisting", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    const ready = take(cluster, 1);
    expect(ready.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(ready.mustSync).toBe(true);
    // The requests carry the persisted self-vote's term: they wait for the persist.
    expect(ofType(ready.messages, MessageType.Vote)).toEqual([]);
    const votes = ofType(ready.messagesAfterPersist, MessageType.Vote);
    expect(votes.map((m) => [m.to, m.term, m.index, m.logTerm])).toEqual([
      [2, 1, 0, 0],
      [3, 1, 0, 0],
    ]);
  });

  it("becomes leader with votes from a majority", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.isolate(3);
    cluster.raft(1).campaign();
    cluster.stabilize();
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, term: 1 });
  });

  it("becomes a follower when a majority rejects it", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    cluster.raft(1).step(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 1, reject: true }));
    expect(role(cluster, 1)).toBe(StateRole.Candidate);
    cluster.raft(1).step(msg({ type: MessageType.VoteResp, from: 3, to: 1, term: 1, reject: true }));
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, term: 1 });
  });

  it("becomes a follower on AppendEntries from a leader of its own term", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    cluster.raft(1).step(msg({ type: MessageType.App, from: 2, to: 1, term: 1 }));
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, term: 1, leader: 2 });
  });

  it("starts a new election when the election timeout elapses", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    cluster.tick(1, 2 * ELECTION);
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Candidate, term: 2, vote: 1 });
  });
});

describe("figure 2, rules for leaders", () => {
  it("on election: appends a no-op of its term and sends it to every follower at once", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    take(cluster, 1);
    cluster.raft(1).step(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 1 }));
    const ready = take(cluster, 1);
    expect(ready.softState).toMatchObject({ role: StateRole.Leader, leader: 1 });
    expect(ready.entries).toEqual([{ term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array(0) }]);
    const appends = ofType(ready.messages, MessageType.App);
    expect(appends.map((m) => m.to)).toEqual([2, 3]);
  });

  it("sends heartbeats every heartbeatTicks, with a commit index no follower can overshoot", () => {
    const cluster = TestCluster.create([1, 2, 3], { ...PLAIN, heartbeatTicks: 2 });
    cluster.elect(1);
    cluster.tick(1);
    expect(cluster.processReady(1)).toBeNull();
    cluster.tick(1);
    const beats = ofType(take(cluster, 1).messages, MessageType.Heartbeat);
    expect(beats.map((m) => [m.to, m.commit])).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it("appends a client command to its log and replicates it; the command commits on a quorum", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    const { term, index } = cluster.raft(1).propose(text("cmd"));
    expect([term, index]).toEqual([1, 2]);
    const ready = take(cluster, 1);
    expect(ready.entries.map((e) => e.index)).toEqual([2]);
    expect(ofType(ready.messages, MessageType.App).every((m) => m.entries[0]?.index === 2)).toBe(true);
    expect(cluster.raft(1).status().commit).toBe(1);
    cluster.stabilize();
    expect(cluster.raft(1).status().commit).toBe(2);
  });

  it("decrements nextIndex on a rejection and retries, skipping a term per round trip", () => {
    // Follower 2 has a long divergent tail of term 2 entries; the leader's are of term 3.
    const cluster = TestCluster.withLogs(
      { 1: [1, 1, 3, 3, 3], 2: [1, 1, 2, 2, 2, 2, 2, 2], 3: [1, 1, 3, 3, 3] },
      PLAIN,
    );
    cluster.elect(1);
    let rejections = 0;
    cluster.onDeliver = (m) => {
      if (m.type === MessageType.AppResp && m.reject) rejections++;
    };
    cluster.raft(1).propose(text("z"));
    cluster.stabilize();
    for (const id of [2, 3]) {
      expect(cluster.get(id).storage.lastIndex()).toBe(cluster.get(1).storage.lastIndex());
      expect(cluster.get(id).storage.term(3)).toBe(3);
    }
    // Fast backtracking needs one rejection, not one per divergent entry.
    expect(rejections).toBeLessThanOrEqual(1);
  });

  it("updates matchIndex and nextIndex on success", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    cluster.raft(1).proposeBatch([text("a"), text("b")]);
    cluster.stabilize();
    const progress = cluster.raft(1).status().progress;
    expect(progress.get(2)).toMatchObject({ match: 3, next: 4, state: "replicate" });
    expect(progress.get(3)).toMatchObject({ match: 3, next: 4, state: "replicate" });
  });

  it("counts itself toward the commit quorum only once its own write is durable", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    cluster.isolate(3);
    const leader = cluster.raft(1);
    leader.propose(text("d"));
    const ready = leader.ready();
    // Follower 2 persists and acknowledges before the leader's own write completes.
    for (const m of ready.messages) if (m.to === 2) cluster.raft(2).step(m);
    cluster.processReady(2);
    cluster.deliver((m) => m.to === 1);
    expect(leader.status().commit).toBe(1);
    cluster.get(1).storage.append(ready.entries);
    leader.advance();
    expect(leader.status().commit).toBe(2);
  });
});

describe("figure 2, AppendEntries receiver", () => {
  function follower(terms: readonly number[], options: NodeOptions = PLAIN): TestCluster {
    const cluster = TestCluster.withLogs({ 1: terms, 2: [], 3: [] }, options);
    return cluster;
  }
  function reply(cluster: TestCluster): Message {
    const ready = take(cluster, 1);
    const replies = ofType([...ready.messages, ...ready.messagesAfterPersist], MessageType.AppResp);
    expect(replies).toHaveLength(1);
    return replies[0] as Message;
  }

  it("1. rejects (answers with its term) when the leader's term is older, changing nothing", () => {
    const cluster = follower([1, 2, 3], FULL);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 2,
        index: 2,
        logTerm: 2,
        entries: entries(3, [2]),
      }),
    );
    expect(reply(cluster)).toMatchObject({ term: 3, to: 2 });
    expect(cluster.raft(1).status()).toMatchObject({ term: 3, lastIndex: 3 });
  });

  it("2. rejects when it has no entry at prevLogIndex with prevLogTerm, with a hint to back up", () => {
    const cluster = follower([1, 1, 2]);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 3,
        index: 3,
        logTerm: 3,
        entries: entries(4, [3]),
      }),
    );
    expect(reply(cluster)).toMatchObject({ reject: true, index: 3, rejectHint: 3, rejectHintTerm: 2 });
    cluster.raft(1).step(msg({ type: MessageType.App, from: 2, to: 1, term: 3, index: 6, logTerm: 3 }));
    expect(reply(cluster)).toMatchObject({ reject: true, index: 6, rejectHint: 3, rejectHintTerm: 2 });
    expect(cluster.raft(1).status().lastIndex).toBe(3);
  });

  it("3. deletes a conflicting entry and all that follow it", () => {
    const cluster = follower([1, 1, 2, 2]);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 3,
        index: 2,
        logTerm: 1,
        entries: entries(3, [3]),
      }),
    );
    expect(reply(cluster)).toMatchObject({ reject: false, index: 3 });
    const storage = cluster.get(1).storage;
    expect(storage.lastIndex()).toBe(3);
    expect(storage.term(3)).toBe(3);
  });

  it("4. appends new entries, and keeps entries it already has (a stale append truncates nothing)", () => {
    const cluster = follower([1, 1, 2, 2]);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 2,
        index: 1,
        logTerm: 1,
        entries: entries(2, [1]),
      }),
    );
    expect(reply(cluster)).toMatchObject({ reject: false, index: 2 });
    expect(cluster.raft(1).status().lastIndex).toBe(4);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 2,
        index: 4,
        logTerm: 2,
        entries: entries(5, [2, 2]),
      }),
    );
    expect(reply(cluster)).toMatchObject({ reject: false, index: 6 });
    expect(cluster.get(1).storage.lastIndex()).toBe(6);
  });

  it("5. sets commitIndex = min(leaderCommit, index of last new entry)", () => {
    const cluster = follower([1, 1, 1]);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 1,
        index: 1,
        logTerm: 1,
        entries: entries(2, [1]),
        commit: 3,
      }),
    );
    expect(cluster.raft(1).status().commit).toBe(2);
    cluster
      .raft(1)
      .step(msg({ type: MessageType.App, from: 2, to: 1, term: 1, index: 3, logTerm: 1, commit: 3 }));
    expect(cluster.raft(1).status().commit).toBe(3);
  });

  it("acknowledges only after persisting: the reply is in messagesAfterPersist", () => {
    const cluster = follower([1]);
    cluster.raft(1).step(
      msg({
        type: MessageType.App,
        from: 2,
        to: 1,
        term: 1,
        index: 1,
        logTerm: 1,
        entries: entries(2, [1]),
      }),
    );
    const ready = take(cluster, 1);
    expect(ofType(ready.messages, MessageType.AppResp)).toEqual([]);
    expect(ofType(ready.messagesAfterPersist, MessageType.AppResp)).toHaveLength(1);
    expect(ready.mustSync).toBe(true);
  });
});

describe("figure 2, RequestVote receiver", () => {
  it("1. does not grant a vote to a candidate of an older term", () => {
    const cluster = TestCluster.withLogs({ 1: [1], 2: [1], 3: [1] }, PLAIN, 3);
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 2, index: 5, logTerm: 2 }));
    const ready = cluster.processReady(1);
    const granted = [...(ready?.messages ?? []), ...(ready?.messagesAfterPersist ?? [])].filter(
      (m) => m.type === MessageType.VoteResp && !m.reject,
    );
    expect(granted).toEqual([]);
    expect(cluster.raft(1).status()).toMatchObject({ term: 3, vote: NONE });
  });

  it("1. answers a candidate of an older term with a rejection carrying the current term, which moves it up", () => {
    const cluster = TestCluster.withLogs({ 1: [1], 2: [1], 3: [1] }, PLAIN, 3);
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 2, index: 5, logTerm: 2 }));
    const ready = take(cluster, 1);
    const replies = ofType([...ready.messages, ...ready.messagesAfterPersist], MessageType.VoteResp);
    expect(replies.map((m) => [m.to, m.term, m.reject])).toEqual([[2, 3, true]]);
    // The stale candidate adopts the term it learns, so its next campaign can win.
    cluster.raft(2).step(replies[0]!);
    expect(cluster.raft(2).status().term).toBe(3);
  });

  it("2. grants at most one vote per term, to the first up-to-date candidate", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 1 }));
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    const ready = take(cluster, 1);
    expect(ready.hardState).toMatchObject({ term: 1, vote: 2 });
    expect(ready.mustSync).toBe(true);
    const replies = ofType(ready.messagesAfterPersist, MessageType.VoteResp).map((m) => [m.to, m.reject]);
    expect(replies).toEqual([
      [2, false],
      [3, true],
      [2, false],
    ]);
    // Vote grants depend on the persisted vote: none may leave before it.
    expect(ofType(ready.messages, MessageType.VoteResp)).toEqual([]);
  });

  it.each([
    ["a higher last term", 3, 1, true],
    ["the same last term and a longer log", 2, 4, true],
    ["the same last term and an equal log", 2, 3, true],
    ["the same last term and a shorter log", 2, 2, false],
    ["a lower last term and a longer log", 1, 9, false],
  ])("2. decides 'at least as up to date' by last term, then length: %s", (_, logTerm, index, granted) => {
    const cluster = TestCluster.withLogs({ 1: [1, 2, 2], 2: [], 3: [] }, PLAIN);
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 5, index, logTerm }));
    const reply = ofType(take(cluster, 1).messagesAfterPersist, MessageType.VoteResp)[0];
    expect(reply?.reject).toBe(!granted);
  });
});

describe("figure 8: a leader commits entries of earlier terms only by committing one of its own", () => {
  /**
   * S1 leads term 4 with an entry (2, term 2) that S2 has; it replicates that entry to S3 but
   * not yet its own no-op. S5 holds (2, term 3).
   */
  function setup(bugs: RaftBug[] = []): TestCluster {
    const cluster = TestCluster.withLogs(
      { 1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1, 3] },
      { ...PLAIN, bugs },
      3,
    );
    cluster.isolate(5);
    cluster.raft(1).campaign();
    take(cluster, 1);
    cluster.deliver();
    for (const id of [2, 3, 4]) take(cluster, id);
    cluster.deliver();
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, term: 4 });
    take(cluster, 1);
    cluster.dropAll();
    // Replicate only (2, term 2) to S3, and have S2 confirm it holds it.
    cluster.raft(3).step(
      msg({
        type: MessageType.App,
        from: 1,
        to: 3,
        term: 4,
        index: 1,
        logTerm: 1,
        entries: entries(2, [2]),
      }),
    );
    cluster.raft(2).step(msg({ type: MessageType.App, from: 1, to: 2, term: 4, index: 2, logTerm: 2 }));
    take(cluster, 2);
    take(cluster, 3);
    cluster.deliver();
    return cluster;
  }

  it("does not commit (2, term 2) although a majority stores it, so S5 may still overwrite it", () => {
    const cluster = setup();
    expect(cluster.raft(1).status().commit).toBe(0);
    // S1 crashes; S5 (last term 3) wins term 5 and replaces index 2 everywhere.
    cluster.heal();
    cluster.isolate(1);
    cluster.raft(5).campaign();
    cluster.stabilize();
    cluster.raft(5).campaign();
    cluster.stabilize();
    expect(cluster.raft(5).status()).toMatchObject({ role: StateRole.Leader, term: 5 });
    for (const id of [2, 3, 4, 5]) expect(cluster.get(id).storage.term(2)).toBe(3);
    for (const id of [1, 2, 3, 4, 5])
      expect(cluster.get(id).applied.some((e) => e.index === 2 && e.term === 2)).toBe(false);
  });

  it("commits (2, term 2) once its own no-op (3, term 4) is on a majority", () => {
    const cluster = setup();
    cluster.heal();
    cluster.stabilize();
    expect(cluster.raft(1).status().commit).toBe(3);
    expect(cluster.get(1).applied.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 4],
    ]);
  });

  it("with the commit-previous-term-by-count bug, S1 commits (2, term 2) too early", () => {
    const cluster = setup([RaftBug.CommitPreviousTermByCount]);
    expect(cluster.raft(1).status().commit).toBe(2);
  });
});

describe("thesis §9.6: PreVote", () => {
  it("a pre-candidate asks with term+1 but changes neither its term nor its vote", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    while (role(cluster, 1) === StateRole.Follower) cluster.tick(1);
    const ready = take(cluster, 1);
    expect(ready.softState?.role).toBe(StateRole.PreCandidate);
    expect(ready.hardState).toBeNull();
    expect(ofType(ready.messages, MessageType.PreVote).map((m) => [m.to, m.term])).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it("after a majority of pre-votes, runs the real election", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.raft(1).campaign();
    cluster.stabilize();
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, term: 1 });
    // Voters granted pre-votes without changing their own terms beforehand.
    expect(cluster.raft(2).status().term).toBe(1);
  });

  it("a node whose log is behind cannot win a pre-vote, so no term grows", () => {
    const cluster = TestCluster.withLogs({ 1: [1], 2: [1, 1], 3: [1, 1] }, FULL);
    cluster.raft(1).campaign();
    cluster.stabilize();
    for (const id of [1, 2, 3]) expect(cluster.raft(id).status().term).toBe(1);
    expect(role(cluster, 1)).toBe(StateRole.Follower);
  });

  it("a partitioned node rejoining does not disrupt a healthy leader", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 10 * ELECTION; i++) {
      cluster.tick(3);
      cluster.stabilize();
    }
    expect(cluster.raft(3).status().term).toBe(1);
    cluster.heal();
    run(cluster, 3 * ELECTION);
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, term: 1 });
    expect(cluster.raft(3).status()).toMatchObject({ leader: 1, term: 1 });
  });

  it("without PreVote, the same rejoin bumps the term and deposes the leader (the contrast)", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 10 * ELECTION; i++) {
      cluster.tick(3);
      cluster.stabilize();
    }
    expect(cluster.raft(3).status().term).toBeGreaterThan(1);
    cluster.heal();
    run(cluster, 3 * ELECTION);
    expect(cluster.raft(1).status().term).toBeGreaterThan(1);
  });
});

describe("thesis §6.2 and §9.6: CheckQuorum and the leader lease", () => {
  it("a leader that does not hear from a quorum within an election timeout steps down", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.isolate(1);
    for (let i = 0; i < 2 * ELECTION; i++) {
      cluster.tick(1);
      cluster.stabilize();
    }
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, leader: NONE, term: 1 });
  });

  it("a leader that hears from a quorum keeps leading with a peer down", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 5 * ELECTION; i++) {
      cluster.tick(1);
      cluster.tick(2);
      cluster.stabilize();
    }
    expect(role(cluster, 1)).toBe(StateRole.Leader);
  });

  it("a follower with a live leader ignores (pre-)votes of a higher term", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(2).step(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 9, logTerm: 9 }));
    cluster.raft(2).step(msg({ type: MessageType.PreVote, from: 3, to: 2, term: 5, index: 9, logTerm: 9 }));
    expect(cluster.processReady(2)).toBeNull();
    expect(cluster.raft(2).status()).toMatchObject({ term: 1, leader: 1 });
  });

  it("once the lease has expired, the same vote is considered", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.isolate(1);
    cluster.tick(2, ELECTION);
    cluster.raft(2).step(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 9, logTerm: 9 }));
    expect(cluster.raft(2).status()).toMatchObject({ term: 5, vote: 3 });
  });
});

describe("thesis §3.10: leadership transfer", () => {
  it("hands leadership to an up-to-date follower with TimeoutNow, overriding the voters' lease", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(1).transferLeadership(2);
    const ready = take(cluster, 1);
    expect(ofType(ready.messages, MessageType.TimeoutNow).map((m) => m.to)).toEqual([2]);
    cluster.stabilize();
    expect(cluster.raft(2).status()).toMatchObject({ role: StateRole.Leader, term: 2 });
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Follower, leader: 2 });
  });

  it("catches a lagging transferee up first and refuses proposals meanwhile", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.cutLink(1, 2);
    cluster.raft(1).propose(text("p"));
    cluster.stabilize();
    cluster.raft(1).transferLeadership(2);
    expect(cluster.raft(1).status().transferee).toBe(2);
    expect(() => cluster.raft(1).propose(text("q"))).toThrow(TransferInProgressError);
    cluster.heal();
    cluster.tick(1);
    cluster.stabilize();
    expect(cluster.raft(2).status()).toMatchObject({ role: StateRole.Leader, term: 2 });
    expect(cluster.appliedText(2)).toEqual(["p"]);
  });

  it("aborts after an election timeout and accepts proposals again", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.cutLink(1, 2);
    cluster.raft(1).propose(text("p"));
    cluster.stabilize();
    cluster.raft(1).transferLeadership(2);
    for (let i = 0; i < ELECTION; i++) {
      cluster.tick(1);
      cluster.tick(3);
      cluster.stabilize();
    }
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, transferee: NONE });
    expect(() => cluster.raft(1).propose(text("q"))).not.toThrow();
  });

  it("a follower forwards a transfer request to the leader", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(2).transferLeadership(3);
    cluster.stabilize();
    expect(cluster.raft(3).status().role).toBe(StateRole.Leader);
  });
});

describe("membership changes (thesis §4.1, etcd style)", () => {
  it("allows one change at a time, and none before the leader's term has an applied entry", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.raft(1).campaign();
    cluster.stabilize();
    // Elected and stabilized: the no-op is applied. Re-elect without stabilizing to see the guard.
    const fresh = TestCluster.create([1, 2, 3], PLAIN);
    fresh.raft(1).campaign();
    take(fresh, 1);
    fresh.deliver();
    take(fresh, 2);
    fresh.deliver();
    expect(role(fresh, 1)).toBe(StateRole.Leader);
    expect(() => fresh.raft(1).proposeConfChange({ type: "add-learner", nodeId: 4 })).toThrow(
      ConfChangePendingError,
    );

    cluster.raft(1).proposeConfChange({ type: "add-learner", nodeId: 4 });
    expect(() => cluster.raft(1).proposeConfChange({ type: "add-learner", nodeId: 5 })).toThrow(
      ConfChangePendingError,
    );
    cluster.stabilize();
    expect(() => cluster.raft(1).proposeConfChange({ type: "add-learner", nodeId: 5 })).not.toThrow();
  });

  it("a learner replicates the log but neither votes nor counts toward commit", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(1).propose(text("before"));
    // A node joining a group bootstrapped from storage starts with the group's configuration.
    cluster.addNode(4, { voters: [1, 2, 3], learners: [] }, FULL);
    cluster.raft(1).proposeConfChange({ type: "add-learner", nodeId: 4 });
    cluster.stabilize();
    run(cluster, 2);
    expect(cluster.appliedText(4)).toEqual(["before"]);
    expect(cluster.raft(4).status().learners).toEqual([4]);
    // With both other voters away, the learner's acknowledgement does not commit anything.
    cluster.partition([1, 4], [2, 3]);
    cluster.raft(1).propose(text("after"));
    cluster.stabilize();
    expect(cluster.get(4).storage.lastIndex()).toBe(cluster.raft(1).status().lastIndex);
    expect(cluster.appliedText(1)).toEqual(["before"]);
    // And it never campaigns.
    cluster.tick(4, 5 * ELECTION);
    expect(role(cluster, 4)).toBe(StateRole.Follower);
  });

  it("a removed leader steps down and the rest elect a new one", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(1).proposeConfChange({ type: "remove-node", nodeId: 1 });
    cluster.stabilize();
    expect(role(cluster, 1)).toBe(StateRole.Follower);
    expect(cluster.raft(2).status().voters).toEqual([2, 3]);
    run(cluster, 4 * ELECTION);
    const leaders = [2, 3].filter((id) => role(cluster, id) === StateRole.Leader);
    expect(leaders).toHaveLength(1);
    expect(role(cluster, 1)).toBe(StateRole.Follower);
  });
});

describe("thesis §6.4: ReadIndex", () => {
  it("confirms leadership with a heartbeat round before releasing the read index", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    const context = text("r1");
    cluster.raft(1).readIndex(context);
    const ready = take(cluster, 1);
    expect(ready.readStates).toEqual([]);
    expect(ofType(ready.messages, MessageType.Heartbeat).every((m) => m.context.length === 2)).toBe(true);
    cluster.stabilize();
    expect(cluster.get(1).readStates).toEqual([{ index: 1, context }]);
  });

  it("waits for the leader's first commit of its term", () => {
    const cluster = TestCluster.create([1, 2, 3], PLAIN);
    cluster.raft(1).campaign();
    take(cluster, 1);
    cluster.deliver();
    take(cluster, 2);
    cluster.deliver();
    cluster.raft(1).readIndex(text("early"));
    take(cluster, 1);
    expect(cluster.get(1).readStates).toEqual([]);
    cluster.stabilize();
    expect(cluster.get(1).readStates.map((r) => r.index)).toEqual([1]);
  });

  it("serves a follower's read through the leader", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.raft(2).readIndex(text("f"));
    cluster.stabilize();
    expect(cluster.get(2).readStates).toEqual([{ index: 1, context: text("f") }]);
  });

  it("with the lease-based option, answers without a heartbeat round", () => {
    const cluster = TestCluster.create([1, 2, 3], { ...FULL, readOnlyOption: ReadOnlyOption.LeaseBased });
    cluster.elect(1);
    cluster.raft(1).readIndex(text("l"));
    const ready = take(cluster, 1);
    expect(ready.readStates).toEqual([{ index: 1, context: text("l") }]);
  });
});

describe("log compaction and InstallSnapshot", () => {
  it("a follower whose next entry was compacted receives and installs the snapshot", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 5; i++) cluster.raft(1).propose(text(`e${i}`));
    cluster.stabilize();
    const leader = cluster.get(1);
    const applied = cluster.raft(1).status().applied;
    leader.storage.createSnapshot(applied, leader.confState, text("state"));
    leader.storage.compact(applied);
    cluster.heal();
    let snapshots = 0;
    cluster.onDeliver = (m) => {
      if (m.type === MessageType.Snap) {
        snapshots++;
        cluster.raft(1).reportSnapshot(m.to, true);
      }
    };
    run(cluster, 3);
    expect(snapshots).toBe(1);
    expect(cluster.get(3).storage.snapshot().metadata.index).toBe(applied);
    cluster.raft(1).propose(text("after"));
    cluster.stabilize();
    expect(cluster.raft(3).status().commit).toBe(cluster.raft(1).status().commit);
    expect(cluster.appliedText(3)).toEqual(["after"]);
  });
});

describe("the Ready contract", () => {
  it("emits the hard state only when it changed", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    cluster.tick(1);
    const ready = take(cluster, 1);
    expect(ready.hardState).toBeNull();
    expect(ready.mustSync).toBe(false);
  });

  it("hands out committed entries only up to the local persisted index, bounded in bytes per Ready", () => {
    const cluster = TestCluster.create([1, 2, 3], { ...FULL, maxCommittedBytesPerReady: 250 });
    cluster.elect(1);
    cluster.raft(1).proposeBatch(Array.from({ length: 5 }, () => new Uint8Array(100)));
    cluster.stabilize();
    const sizes: number[] = [];
    cluster.onReady = (id, ready) => {
      if (id === 2 && ready.committedEntries.length > 0) sizes.push(ready.committedEntries.length);
    };
    // A restarted follower re-applies from its snapshot (index 0): in chunks of at most 250 bytes.
    cluster.restart(2);
    cluster.stabilize();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(6);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });

  it("drops proposals beyond the uncommitted byte budget with a retriable error", () => {
    const cluster = TestCluster.create([1, 2, 3], {
      ...FULL,
      maxUncommittedBytes: 300,
      maxProposalBytes: 200,
    });
    cluster.elect(1);
    cluster.isolate(1);
    cluster.raft(1).propose(new Uint8Array(200));
    let error: unknown;
    try {
      cluster.raft(1).propose(new Uint8Array(200));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProposalDroppedError);
    expect(error).toMatchObject({ retriable: true });
  });

  it("ignores malformed and misaddressed network input without throwing", () => {
    const cluster = TestCluster.create([1, 2, 3], FULL);
    cluster.elect(1);
    const node = cluster.raft(2);
    const bad: unknown[] = [
      null,
      {},
      msg({ type: 99 as MessageType, from: 1, to: 2, term: 1 }),
      msg({ type: MessageType.Hup, from: 1, to: 2, term: 1 }),
      msg({ type: MessageType.App, from: 1, to: 3, term: 1 }),
      msg({ type: MessageType.App, from: 0, to: 2, term: 1 }),
      msg({ type: MessageType.App, from: 1, to: 2, term: -1 }),
      msg({ type: MessageType.App, from: 1, to: 2, term: 1, index: 1, logTerm: 1, entries: entries(5, [1]) }),
      msg({ type: MessageType.Snap, from: 1, to: 2, term: 1 }),
      msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1e9 }),
    ];
    for (const message of bad) expect(() => node.step(message as Message)).not.toThrow();
    expect(() => cluster.raft(1).step(bad[9] as Message)).not.toThrow();
    cluster.stabilize();
    expect(cluster.raft(1).status()).toMatchObject({ role: StateRole.Leader, term: 1 });
  });
});

describe("mutation switches change behaviour exactly where they claim", () => {
  it("vote-reply-before-persist sends the vote grant before the persist", () => {
    const cluster = TestCluster.create([1, 2, 3], { ...PLAIN, bugs: [RaftBug.VoteReplyBeforePersist] });
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    expect(ofType(take(cluster, 1).messages, MessageType.VoteResp)).toHaveLength(1);
  });

  it("append-ack-before-persist acknowledges before the persist", () => {
    const cluster = TestCluster.create([1, 2, 3], { ...PLAIN, bugs: [RaftBug.AppendAckBeforePersist] });
    cluster.raft(1).step(msg({ type: MessageType.App, from: 2, to: 1, term: 1, entries: entries(1, [1]) }));
    expect(ofType(take(cluster, 1).messages, MessageType.AppResp)).toHaveLength(1);
  });

  it("up-to-date-by-index-only grants a vote to a longer log of an older term", () => {
    const cluster = TestCluster.withLogs(
      { 1: [1, 2], 2: [], 3: [] },
      { ...PLAIN, bugs: [RaftBug.UpToDateByIndexOnly] },
    );
    cluster.raft(1).step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 3, index: 3, logTerm: 1 }));
    expect(ofType(take(cluster, 1).messagesAfterPersist, MessageType.VoteResp)[0]?.reject).toBe(false);
  });

  it("leader-counts-self-before-durable commits before the leader's write is durable", () => {
    const cluster = TestCluster.create([1, 2, 3], {
      ...PLAIN,
      bugs: [RaftBug.LeaderCountsSelfBeforeDurable],
    });
    cluster.elect(1);
    cluster.isolate(3);
    const leader = cluster.raft(1);
    leader.propose(text("d"));
    const ready = leader.ready();
    for (const m of ready.messages) if (m.to === 2) cluster.raft(2).step(m);
    cluster.processReady(2);
    cluster.deliver((m) => m.to === 1);
    expect(leader.status().commit).toBe(2);
  });
});
