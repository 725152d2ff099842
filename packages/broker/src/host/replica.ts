/**
 * One local replica of a Raft group: the raft-ts node, its storage view, the shard state machine
 * (or, for a state-machine group, the GroupStateMachine beside it), and the host's bookkeeping
 * (quiescence, the proposals and read barriers waiting, the cached role). The host drives it;
 * nothing here does I/O.
 */
import {
  type ConfState,
  type Entry,
  type HardState,
  type LogStorage,
  NONE,
  type NodeId,
  ProposalTracker,
  type RaftError,
  type RaftNode,
  type Snapshot,
  StateRole,
} from "raft-ts";
import type { ShardState } from "../shard/shard-state.js";
import type { StateMachineState } from "../state-machine/state-machine-state.js";
import type { GroupId } from "../transport/transport.js";
import { ReadBarriers } from "./read-barriers.js";

/** The outcome an append's caller waits for. */
export interface AppendResult {
  readonly groupId: GroupId;
  /** The term and log index of the entry holding the batch. */
  readonly term: number;
  readonly index: number;
  /** The leader's stamp, shared by every record of the batch. */
  readonly arrivalTimestampMs: number;
  readonly recordCount: number;
}

/**
 * An append or a state-machine proposal waiting to commit; settled exactly once (commit and
 * apply here, leadership lost, timeout, close).
 */
export interface PendingProposal {
  readonly term: number;
  readonly index: number;
  readonly deadlineMs: number;
  /** What the timeout error names. */
  readonly kind: "append" | "proposal" | "seal";
  settled: boolean;
  /** Called once the entry is committed and applied here (after its Ready's entries were applied). */
  readonly onCommitted: (position: { readonly term: number; readonly index: number }) => void;
  readonly reject: (error: Error) => void;
}

export class Replica {
  readonly groupId: GroupId;
  readonly node: RaftNode;
  readonly log: LogStorage;
  readonly shard: ShardState;
  /** The state machine of a state-machine group; null for a shard group. */
  readonly machine: StateMachineState | null;
  readonly voters: readonly NodeId[];
  readonly preferredLeader: NodeId;
  /** Read barriers waiting here. */
  readonly reads: ReadBarriers;
  /** Set when the state machine threw: the group stopped here (nothing is stepped, ticked or applied). */
  failure: Error | null = null;
  /** Settles appends from the committed entries of each Ready. */
  readonly tracker = new ProposalTracker();
  /** Appends in index order; `pendingHead` skips the settled ones at the front. */
  pending: PendingProposal[] = [];
  pendingHead = 0;
  /** Not ticked while quiesced (see quiescence.ts). */
  quiesced = false;
  /** Campaigns left for a new group's preferred leader while no leader is known (see BOOTSTRAP_CAMPAIGNS_MAX). */
  bootstrapCampaignsLeft = 0;
  /** Consecutive ticks a leader found its group idle. */
  idleTicks = 0;
  /** The role and leader as of the last processed Ready (raft may be ahead between Readies). */
  role: StateRole = StateRole.Follower;
  leader: NodeId = NONE;
  /** Set by removeGroup: the host ignores the replica from then on. */
  removed = false;
  /** When this replica last saw its group's leader change (ms). */
  leaderSinceMs = Number.NEGATIVE_INFINITY;
  /** When leadership of this group was last handed over by the balancer (ms). */
  lastTransferAtMs = Number.NEGATIVE_INFINITY;
  /** A configuration to persist with the next flush (after a ConfChange entry was applied). */
  pendingConfState: ConfState | null = null;

  constructor(options: {
    groupId: GroupId;
    node: RaftNode;
    log: LogStorage;
    shard: ShardState;
    machine: StateMachineState | null;
    voters: readonly NodeId[];
    preferredLeader: NodeId;
    nodeId: NodeId;
  }) {
    this.groupId = options.groupId;
    this.node = options.node;
    this.log = options.log;
    this.shard = options.shard;
    this.machine = options.machine;
    this.reads = new ReadBarriers(options.nodeId);
    this.voters = options.voters;
    this.preferredLeader = options.preferredLeader;
  }

  get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Whether anything waits on this replica (proposals or read barriers): it must not quiesce. */
  get waitingCount(): number {
    return this.pendingCount + this.reads.size;
  }

  /**
   * Registers a proposal made at (term, index); the tracker settles it when a Ready commits
   * that index (resolve) or shows it lost (reject, with `mapLost` of raft's error).
   */
  trackProposal(
    append: PendingProposal,
    mapLost: (error: RaftError) => Error,
    onCommitted: () => void,
  ): void {
    this.pending.push(append);
    this.tracker.track(append.term, append.index, {
      resolve: (position) => {
        if (append.settled) return;
        append.settled = true;
        onCommitted();
        append.onCommitted(position);
      },
      reject: (error) => {
        if (append.settled) return;
        append.settled = true;
        append.reject(mapLost(error));
      },
    });
  }

  /** Fails appends whose deadline passed (their outcome is unknown); drops settled ones. */
  expireAppends(nowMs: number, timeoutError: (append: PendingProposal) => Error): number {
    let expired = 0;
    while (this.pendingHead < this.pending.length) {
      const head = this.pending[this.pendingHead] as PendingProposal;
      if (!head.settled) {
        if (head.deadlineMs > nowMs) break;
        head.settled = true;
        head.reject(timeoutError(head));
        expired++;
      }
      this.pendingHead++;
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    return expired;
  }

  /** Forgets the settled appends at the front of the queue. */
  dropSettled(): void {
    this.expireAppends(Number.NEGATIVE_INFINITY, () => new Error("no append expires at -Infinity"));
  }

  /** Settles every waiting append, proposal and read barrier with `error` (shutdown, removal, failure). */
  failAppends(error: () => Error): void {
    this.reads.failAll(error);
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const append = this.pending[i] as PendingProposal;
      if (append.settled) continue;
      append.settled = true;
      append.reject(error());
    }
    this.pending = [];
    this.pendingHead = 0;
  }
}

/**
 * A storage view whose initial hard state has its commit index capped at the last index: a
 * commit-only hard state is written without a sync, so after a crash it may name entries whose
 * journal write was lost with it; raft asserts commit <= lastIndex.
 */
export class CappedLogStorage implements LogStorage {
  private readonly inner: LogStorage;

  constructor(inner: LogStorage) {
    this.inner = inner;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const state = this.inner.initialState();
    const last = this.inner.lastIndex();
    if (state.hardState.commit <= last) return state;
    return { hardState: { ...state.hardState, commit: last }, confState: state.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.inner.entries(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.inner.term(index);
  }

  firstIndex(): number {
    return this.inner.firstIndex();
  }

  lastIndex(): number {
    return this.inner.lastIndex();
  }

  snapshot(): Snapshot {
    return this.inner.snapshot();
  }
}
