/**
 * Leader balance: every group has a *preferred leader*, chosen by a deterministic rule every
 * replica computes alike — the voters sorted by id, indexed by groupId modulo their count. With
 * three nodes and consecutive group ids the preferred leaders go round-robin, so leaders spread
 * evenly (30 groups: 10/10/10). A leader that is not its group's preferred one hands leadership
 * over once the preferred replica is Up and replicating (the host rate-limits this); a new group
 * starts its election on the preferred replica, so most groups never need a transfer.
 *
 * The metadata controller may later set preferred leaders with more knowledge (zones, load);
 * this rule is the default that needs no coordination.
 */
import { type NodeId, ProgressState, type RaftStatus } from "raft-ts";
import type { GroupId } from "../transport/transport.js";
import { PeerState } from "../transport/transport.js";

/** The preferred leader of a group: sorted voters, index groupId % count. */
export function preferredLeader(groupId: GroupId, voters: readonly NodeId[]): NodeId {
  if (voters.length === 0) return 0;
  const sorted = [...voters].sort((a, b) => a - b);
  return sorted[groupId % sorted.length] as NodeId;
}

/**
 * Whether leadership may move to `target` now: it is a voter other than the leader, Up, heard
 * from recently, and replicating (not probing or receiving a snapshot). Raft catches it up
 * before the TimeoutNow, and abandons the transfer after an election timeout if it cannot.
 */
export function canTransferTo(
  status: RaftStatus,
  target: NodeId,
  peerStates: ReadonlyMap<NodeId, PeerState>,
): boolean {
  if (target === status.id || !status.voters.includes(target)) return false;
  if (peerStates.get(target) !== PeerState.Up) return false;
  const progress = status.progress.get(target);
  return progress?.recentActive === true && progress.state === ProgressState.Replicate;
}

/**
 * Where a leader that is going away (shutdown) should hand its group: the preferred leader when
 * it can take it, else the eligible voter with the longest log; 0 when none is eligible.
 */
export function shutdownTransferTarget(
  status: RaftStatus,
  preferred: NodeId,
  peerStates: ReadonlyMap<NodeId, PeerState>,
): NodeId {
  if (canTransferTo(status, preferred, peerStates)) return preferred;
  let best: NodeId = 0;
  let bestMatch = -1;
  for (const voter of status.voters) {
    if (!canTransferTo(status, voter, peerStates)) continue;
    const match = status.progress.get(voter)?.match ?? -1;
    if (match > bestMatch) {
      best = voter;
      bestMatch = match;
    }
  }
  return best;
}
