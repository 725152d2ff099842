// Proves a follower leaves unanswered the append a leader sends only to move the commit index
// (its answer would repeat one already sent), and still answers everything that tells the leader
// something: entries, a probe that moves nothing, a rejection.
import { type Message, MessageType, type Ready } from "raft-ts";
import { describe, expect, it } from "vitest";
import { msg, TestCluster, take, text } from "./helpers/cluster.js";

function answersTo(ready: Ready, leader: number): Message[] {
  return [...ready.messages, ...ready.messagesAfterPersist].filter(
    (m) => m.type === MessageType.AppResp && m.to === leader,
  );
}

/** Elects 1, proposes one entry and walks it to the point where 1 broadcast its commit. */
function toCommitBroadcast(): { cluster: TestCluster; index: number; term: number; broadcast: Message[] } {
  const cluster = TestCluster.create([1, 2, 3], { electionTicks: 10 });
  const term = cluster.elect(1);
  const { index } = cluster.raft(1).propose(text("x"));
  take(cluster, 1);
  cluster.deliver(); // the appends
  for (const follower of [2, 3]) {
    expect(answersTo(take(cluster, follower), 1).map((m) => m.index)).toEqual([index]);
  }
  cluster.deliver(); // the answers: 1 commits
  const broadcast = take(cluster, 1).messages.filter((m) => m.type === MessageType.App);
  expect(broadcast.map((m) => [m.to, m.entries.length, m.commit])).toEqual([
    [2, 0, index],
    [3, 0, index],
  ]);
  return { cluster, index, term, broadcast };
}

describe("commit broadcast", () => {
  it("a follower commits from it and does not answer it", () => {
    const { cluster, index } = toCommitBroadcast();
    cluster.deliver();
    for (const follower of [2, 3]) {
      const ready = take(cluster, follower);
      expect(ready.committedEntries.map((e) => e.index)).toEqual([index]);
      expect(answersTo(ready, 1)).toEqual([]);
    }
    // The leader's view is complete without those answers.
    const progress = cluster.raft(1).status().progress;
    expect([2, 3].map((id) => progress.get(id)?.match)).toEqual([index, index]);
  });

  it("a follower still answers an empty append that moves no commit index (a probe)", () => {
    const { cluster, index, term } = toCommitBroadcast();
    cluster.deliver();
    take(cluster, 2);
    cluster
      .raft(2)
      .step(msg({ type: MessageType.App, from: 1, to: 2, term, index, logTerm: term, commit: index }));
    expect(answersTo(take(cluster, 2), 1).map((m) => [m.index, m.reject])).toEqual([[index, false]]);
  });

  it("a follower answers a commit broadcast for entries it never acknowledged, and rejections", () => {
    const { cluster, index, term, broadcast } = toCommitBroadcast();
    // 3 restarts and forgets what it answered in this term: it answers the broadcast again.
    cluster.restart(3);
    cluster.raft(3).step(broadcast.find((m) => m.to === 3) as Message);
    expect(answersTo(take(cluster, 3), 1).map((m) => [m.index, m.reject])).toEqual([[index, false]]);
    cluster.deliver();
    // An append 2 cannot match is rejected, and a rejection is always answered.
    take(cluster, 2);
    cluster.raft(2).step(
      msg({
        type: MessageType.App,
        from: 1,
        to: 2,
        term,
        index: index + 5,
        logTerm: term,
        commit: index + 5,
      }),
    );
    expect(answersTo(take(cluster, 2), 1).map((m) => m.reject)).toEqual([true]);
  });
});
