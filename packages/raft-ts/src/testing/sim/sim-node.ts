import { MemoryStorage } from "../../memory-storage.js";
import type { RaftNode } from "../../node.js";
import type { ProposalTracker } from "../../proposal-tracker.js";
import { SeededRandom } from "../../random.js";
import type { ConfState, HardState, NodeId, Ready } from "../../types.js";
import { StateRole } from "../../types.js";
import type { CheckedNode } from "./checkers.js";
import { LogMirror } from "./log-mirror.js";

/**
 * One simulated server. Its *disk* is `durable` (a MemoryStorage) plus `checkpoint` (the
 * application's durable state); everything else — the RaftNode, the Ready being processed, the
 * applied state — is memory, lost when the node crashes. The disk receives writes only in the
 * persist stage of a Ready, so a crash between sending a Ready's `messages` and persisting it
 * loses the entries and hard state those messages may already have advertised. A write the
 * Ready did not ask to sync (`mustSync` false) is lost by a crash too, unless a synced write
 * came after it.
 */
export const ReadyStage = {
  /** No Ready taken. */
  Idle: 0,
  /** `ready()` was called and its `messages` sent. */
  Sent: 1,
  /** Snapshot, entries and hard state are on the durable storage. */
  Persisted: 2,
  /** `messagesAfterPersist` sent; next: apply and `advance()`. */
  SentAfterPersist: 3,
} as const;
export type ReadyStage = (typeof ReadyStage)[keyof typeof ReadyStage];

export const NodeState = {
  Running: "running",
  Crashed: "crashed",
  /** Removed from the group by a committed conf change, and shut down for good. */
  Removed: "removed",
} as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

/** The application's durable state: where it restarts from. */
export interface Checkpoint {
  readonly index: number;
  readonly hash: number;
  readonly confState: ConfState;
}

export class SimNode implements CheckedNode {
  readonly id: NodeId;
  readonly durable: MemoryStorage;
  checkpoint: Checkpoint;
  state: NodeState = NodeState.Crashed;
  raft: RaftNode | null = null;
  /** The client side of this incarnation: which proposals it was told are committed. */
  tracker: ProposalTracker | null = null;
  /** Bumped at every start, so stale snapshot reports never reach a new incarnation. */
  incarnation = 0;

  pending: Ready | null = null;
  stage: ReadyStage = ReadyStage.Idle;
  /**
   * Pipelined Readys (`maxReadiesInFlight` > 1): taken and their `messages` sent while `pending`
   * is still in progress; each becomes `pending` (stage Sent) in turn once the one before it is
   * advanced, so they are persisted in order. A crash loses them: nothing of theirs is on disk.
   */
  queued: Ready[] = [];
  /** `maxReadiesInFlight` of this node's RaftNode (1: the strict loop). */
  pipelineDepth = 1;
  /** Decides when to take a Ready early; separate from the run's stream. */
  pipelineRng: SeededRandom = new SeededRandom(1);
  /**
   * The last synced hard state while a later one was written without a sync (a Ready with
   * `mustSync` false): a crash rolls the disk back to it, as a page cache would lose the write.
   */
  unsyncedRollback: HardState | null = null;

  /** The application's in-memory state: applied index, state hash, configuration as of it. */
  applied = 0;
  hash = 0;
  confState: ConfState;

  readonly mirror = new LogMirror();
  recordedCommit = 0;
  durableCheckedCommit = 0;
  appendOnlyTerm = 0;
  completenessCheckedTerm = 0;

  /** As of the last `status()`. */
  role: StateRole = StateRole.Follower;
  term = 0;
  leader: NodeId = 0;
  commit = 0;

  /** A founding member bootstrapped with `peers` (its storage starts empty). */
  readonly founder: boolean;

  constructor(id: NodeId, confState: ConfState, founder = false) {
    this.id = id;
    this.founder = founder;
    this.durable = new MemoryStorage({ confState });
    this.confState = confState;
    this.checkpoint = { index: 0, hash: 0, confState };
  }

  get running(): boolean {
    return this.state === NodeState.Running;
  }

  /** True when the node has Ready work: a Ready in progress, or one to take. */
  hasWork(): boolean {
    return this.raft !== null && (this.pending !== null || this.raft.hasReady());
  }
}

/** Same members, whatever the order. */
export function sameConfState(a: ConfState, b: ConfState): boolean {
  return sameSet(a.voters, b.voters) && sameSet(a.learners, b.learners);
}

function sameSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) if (!b.includes(x)) return false;
  return true;
}
