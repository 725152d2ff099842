import type { LogStorage } from "./storage.js";
import type { NodeId, RandomSource } from "./types.js";

/**
 * Switches that re-introduce classic Raft bugs, so tests can show the simulation's checkers
 * catch each one. Never set in production; each is off unless named here.
 */
export const RaftBug = {
  /** Send a vote grant before the vote is persisted (it goes in `messages`, not `messagesAfterPersist`). */
  VoteReplyBeforePersist: "vote-reply-before-persist",
  /** Decide "at least as up to date" by last index only, ignoring the last term. */
  UpToDateByIndexOnly: "up-to-date-by-index-only",
  /** Commit an entry of a previous term once it is on a majority (Raft paper, figure 8). */
  CommitPreviousTermByCount: "commit-previous-term-by-count",
  /** Acknowledge an append before the entries are persisted. */
  AppendAckBeforePersist: "append-ack-before-persist",
  /** The leader counts its own unpersisted entries toward the commit quorum. */
  LeaderCountsSelfBeforeDurable: "leader-counts-self-before-durable",
} as const;
export type RaftBug = (typeof RaftBug)[keyof typeof RaftBug];

export const ReadOnlyOption = {
  /** ReadIndex confirmed by a heartbeat round to a quorum (linearizable, always safe). */
  Safe: "safe",
  /** ReadIndex served from the leader lease (needs bounded clock drift; requires checkQuorum). */
  LeaseBased: "lease-based",
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

export interface RaftOptions {
  /** This node's id (> 0). */
  id: NodeId;
  /** The stable log; its initial state (hard state, conf state) seeds the node. */
  storage: LogStorage;
  /** Injected randomness for election timeouts. */
  random: RandomSource;
  /**
   * The voters of a brand-new group, used only when `storage` holds no configuration yet.
   * @default [] (configuration comes from storage)
   */
  peers?: readonly NodeId[];
  /** Learners of a brand-new group, likewise. @default [] */
  learners?: readonly NodeId[];
  /** Ticks without hearing from a leader before a follower starts an election; the actual timeout is randomized in [electionTicks, 2·electionTicks). @default DEFAULT_ELECTION_TICKS */
  electionTicks?: number;
  /** Ticks between leader heartbeats. Must be < electionTicks. @default DEFAULT_HEARTBEAT_TICKS */
  heartbeatTicks?: number;
  /** The last index the application has applied (on restart). @default 0 */
  appliedIndex?: number;
  /** Upper bound of the entries' data bytes in one append message. @default DEFAULT_MAX_APPEND_BYTES */
  maxAppendBytes?: number;
  /** Append messages in flight to one follower in the replicate state. @default MAX_INFLIGHT_APPENDS */
  maxInflightAppends?: number;
  /** Bytes of uncommitted entry data the leader accepts before dropping proposals. @default DEFAULT_MAX_UNCOMMITTED_BYTES */
  maxUncommittedBytes?: number;
  /** Largest single proposal (one entry's data) in bytes. @default DEFAULT_MAX_PROPOSAL_BYTES */
  maxProposalBytes?: number;
  /** Committed entries handed out in one Ready, in bytes. @default DEFAULT_MAX_COMMITTED_BYTES_PER_READY */
  maxCommittedBytesPerReady?: number;
  /** Run a pre-vote round before a real election. @default true */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout; followers ignore votes while they have a live leader. @default true */
  checkQuorum?: boolean;
  /** @default ReadOnlyOption.Safe */
  readOnlyOption?: ReadOnlyOption;
  /** Followers forward proposals to the leader instead of rejecting them. @default false */
  forwardProposals?: boolean;
  /** Test-only: bugs to re-introduce (see RaftBug). @default none */
  bugs?: readonly RaftBug[];
}
