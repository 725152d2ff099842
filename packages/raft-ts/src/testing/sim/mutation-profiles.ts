import { RaftBug } from "../../options.js";
import type { SeededRandom } from "../../random.js";
import { type FaultProfile, randomFaultProfile } from "./fault-profile.js";

/**
 * Fault mixes tuned to expose each RaftBug mutation quickly. The checkers are the same as in
 * every run; only the event mix (and for some, the cluster size) changes, so that the window
 * each bug opens is hit more often. Each mix starts from the seed's random profile, so the runs
 * still vary from seed to seed.
 */
export interface MutationSettings {
  readonly profile: (rng: SeededRandom) => FaultProfile;
  /** Cluster size; undefined keeps the seed's own (3 or 5). */
  readonly nodes: number | undefined;
}

/** Overrides shared by the mutations that need diverging logs: stale leaders keep taking writes. */
const DIVERGING_LOGS: Partial<FaultProfile> = {
  maxUncommittedBytes: 64 * 1_048_576,
  crashWeight: 1,
  crashLeaderProbability: 0.5,
  restartWeight: 4,
  campaignWeight: 1,
  proposeWeight: 8,
  partitionWeight: 3,
  isolateLeaderProbability: 0.9,
  healWeight: 2,
  dropProbability: 0.1,
  preVote: false,
};

const OVERRIDES: Record<RaftBug, { profile: Partial<FaultProfile>; nodes: number | undefined }> = {
  // A vote lost in a crash between sending the grant and persisting it: crash followers often,
  // in the middle of their Ready (one stage per event), with many concurrent candidates.
  [RaftBug.VoteReplyBeforePersist]: {
    profile: {
      readyAllStagesProbability: 0.2,
      crashWeight: 3,
      crashLeaderProbability: 0,
      restartWeight: 6,
      campaignWeight: 5,
      preVote: false,
      checkQuorum: false,
    },
    nodes: undefined,
  },
  // A longer log of a stale term wins an election: leaders cut off while taking proposals.
  [RaftBug.UpToDateByIndexOnly]: { profile: DIVERGING_LOGS, nodes: 3 },
  // Figure 8: a new leader commits an old-term entry as soon as a follower acknowledges it, so
  // appends carry one entry each (the no-op of the new term travels separately).
  [RaftBug.CommitPreviousTermByCount]: {
    profile: {
      ...DIVERGING_LOGS,
      maxAppendBytes: 1,
      maxProposalBytes: 16,
      compactWeight: 0,
      confChangeWeight: 0,
      readIndexWeight: 0,
      readyAllStagesProbability: 0.8,
      // …and the leader that committed the old entry dies before its new-term entry spreads.
      crashAfterCommitProbability: 0.3,
      checkQuorum: false,
    },
    nodes: 3,
  },
  // CommittedIsDurable sees both durability bugs as soon as a commit outruns a persist. For the
  // data to be really lost (what the other checkers see), the node holding the only unsynced
  // copy must crash in that window: slow persists, many crashes — of followers for the
  // follower's early acknowledgement, of the leader for the leader counting itself.
  [RaftBug.AppendAckBeforePersist]: {
    profile: {
      maxUncommittedBytes: 64 * 1_048_576,
      readyAllStagesProbability: 0.2,
      crashWeight: 3,
      crashLeaderProbability: 0,
      restartWeight: 6,
      proposeWeight: 10,
      preVote: false,
    },
    nodes: undefined,
  },
  [RaftBug.LeaderCountsSelfBeforeDurable]: {
    profile: {
      maxUncommittedBytes: 64 * 1_048_576,
      readyAllStagesProbability: 0.2,
      crashWeight: 1,
      crashLeaderProbability: 0.9,
      // The leader dies right after counting its unwritten entry: only one follower holds it.
      crashAfterCommitProbability: 0.9,
      restartWeight: 6,
      proposeWeight: 10,
      preVote: false,
    },
    nodes: 3,
  },
};

export function mutationSettings(bug: RaftBug): MutationSettings {
  const { profile, nodes } = OVERRIDES[bug];
  return { profile: (rng) => ({ ...randomFaultProfile(rng), ...profile }), nodes };
}
