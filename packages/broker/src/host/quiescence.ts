/**
 * Quiescence: an idle group stops ticking on every replica, so a thousand idle shards cost almost
 * nothing (no ticks, no heartbeats). The idea is CockroachDB's; the rules here are ours.
 *
 * **Who decides.** The leader. Each tick, an active leader checks `leaderMayQuiesce`: it is
 * leading with no transfer under way, its whole log is committed, persisted and applied, no
 * append waits on it, and every follower the transport reports Up has acknowledged the last
 * index (match == lastIndex) and was heard from since the last CheckQuorum round (recentActive);
 * at least a quorum, itself included, is in that state. After QUIESCE_IDLE_TICKS such ticks in a
 * row it stops ticking. Because that is more than the heartbeat interval, every live follower
 * got at least one heartbeat carrying commit == lastIndex while the group was idle.
 *
 * **Followers follow.** A follower quiesces when it steps a heartbeat from its leader (which
 * resets its election timer to zero) and `followerMayQuiesce` holds: it follows that leader, the
 * transport reports the leader Up, and its log is fully committed (commit == lastIndex). It may
 * quiesce before the leader does; that is harmless, since a quiesced follower keeps stepping the
 * heartbeats (and stays quiesced) and any other message wakes it. No special "quiesce" message is
 * needed: the heartbeat with the final commit is the marker.
 *
 * **Waking.** A proposal wakes its group on the leader; any incoming message other than a
 * qualifying heartbeat (follower) or heartbeat response (leader) wakes the receiver. A leader's
 * appends therefore wake its followers. When the transport reports a peer Down, the host wakes
 * every group that peer leads here and fast-forwards each follower's election clock by
 * electionTicks - 1 ticks: the time it spent quiesced was time without a leader, and without the
 * fast-forward a woken follower would still be inside its leader lease (ignoring votes) for a
 * full election timeout. When a peer comes back Up, the host wakes the groups it leads that
 * include that peer, so their heartbeats tell a restarted replica who leads.
 *
 * **Robustness.** If a follower misses the last heartbeat and stays active under a quiesced
 * leader, its election timer fires and it pre-votes; the other follower (in its lease) and the
 * leader ignore the pre-vote, but the message wakes the leader, whose heartbeats put the
 * follower back in line, and the group quiesces again. PreVote and the lease mean this never
 * disrupts the leader's term.
 *
 * **CheckQuorum after a long quiescence.** A quiesced leader does not tick, so it runs no
 * CheckQuorum rounds. It quiesces only when every live follower is recentActive, and nothing
 * clears those flags while it sleeps, so the first round after waking passes; by the second, the
 * woken group's heartbeats have been answered. A woken leader therefore never steps down
 * spuriously.
 */
import { type NodeId, type RaftStatus, StateRole } from "raft-ts";
import { PeerState } from "../transport/transport.js";

/** Whether a leader may stop ticking now (see the module comment). */
export function leaderMayQuiesce(
  status: RaftStatus,
  pendingAppends: number,
  peerStates: ReadonlyMap<NodeId, PeerState>,
): boolean {
  if (status.role !== StateRole.Leader || status.transferee !== 0 || pendingAppends > 0) return false;
  const last = status.lastIndex;
  if (status.commit !== last || status.persistedIndex !== last || status.applied !== last) return false;
  let caughtUp = 0;
  for (const voter of status.voters) {
    if (voter === status.id) {
      caughtUp++;
      continue;
    }
    const progress = status.progress.get(voter);
    if (progress === undefined) return false;
    const live = peerStates.get(voter) === PeerState.Up;
    if (!live) continue;
    if (progress.match !== last || !progress.recentActive || progress.inflight > 0) return false;
    caughtUp++;
  }
  for (const learner of status.learners) {
    const progress = status.progress.get(learner);
    if (peerStates.get(learner) === PeerState.Up && (progress === undefined || progress.match !== last)) {
      return false;
    }
  }
  return caughtUp * 2 > status.voters.length;
}

/** Whether a follower that just stepped a heartbeat from `from` may stop ticking. */
export function followerMayQuiesce(
  status: RaftStatus,
  from: NodeId,
  peerStates: ReadonlyMap<NodeId, PeerState>,
): boolean {
  return (
    status.role === StateRole.Follower &&
    status.leader === from &&
    status.commit === status.lastIndex &&
    peerStates.get(from) === PeerState.Up
  );
}
