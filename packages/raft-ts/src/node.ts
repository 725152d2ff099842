import { type ConfChange, encodeConfChange, isValidNodeId } from "./conf-change.js";
import { MAX_READ_INDEX_CONTEXT_BYTES } from "./constants.js";
import { InvalidConfChangeError, NotLeaderError, ProposalTooLargeError } from "./errors.js";
import { assert } from "./internal/assert.js";
import type { ProgressState } from "./internal/progress.js";
import { newMessage, Raft } from "./internal/raft.js";
import { type RaftOptions, resolveOptions } from "./options.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type Ready,
  type SoftState,
  StateRole,
} from "./types.js";

/** The leader's view of one peer, in `RaftStatus.progress`. */
export interface PeerProgress {
  /** The highest index known to be in the peer's (persisted) log. */
  readonly match: number;
  /** The next index to send. */
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  /** Heard from since the last CheckQuorum round. */
  readonly recentActive: boolean;
  /** Appends in flight (replicate state). */
  readonly inflight: number;
  /** Index of the snapshot being sent (snapshot state), else 0. */
  readonly pendingSnapshot: number;
}

/** A snapshot of a node's state, for tests, metrics and operators. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** The last index on stable storage (the caller persisted it and called advance()). */
  readonly persistedIndex: number;
  readonly leader: NodeId;
  readonly role: StateRole;
  /** Every member's progress, by id; empty unless this node leads. */
  readonly progress: ReadonlyMap<NodeId, PeerProgress>;
  /** The node leadership is being transferred to, or NONE. */
  readonly transferee: NodeId;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);
const NO_MESSAGES: readonly Message[] = Object.freeze([]);

/** What an outstanding Ready contained, so advance() can acknowledge exactly that. */
interface Outstanding {
  readonly lastEntryIndex: number;
  readonly lastEntryTerm: number;
  readonly snapshotIndex: number;
  readonly lastCommittedIndex: number;
  readonly committedBytes: number;
}

/**
 * One Raft replica as a pure state machine (etcd's RawNode). Inputs: `tick()`, `step(message)`
 * and the proposal/transfer/read calls. Output: `ready()`, which the caller processes (send,
 * persist, send-after-persist, apply — see `Ready`) before calling `advance()`. Single-threaded
 * by construction: every method runs to completion and touches no I/O, clock or global state.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private readonly maxCommittedBytesPerReady: number;
  private readonly maxReadiesInFlight: number;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** Readys handed out and not yet advanced, oldest first. */
  private readonly outstanding: Outstanding[] = [];

  /** Validates `options` (InvalidOptionsError) and restores the node from `options.storage`. */
  constructor(options: RaftOptions) {
    const resolved = resolveOptions(options);
    this.id = resolved.id;
    this.maxCommittedBytesPerReady = resolved.maxCommittedBytesPerReady;
    this.maxReadiesInFlight = resolved.maxReadiesInFlight;
    this.raft = new Raft(resolved);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = resolved.storage.initialState().hardState;
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum, transfer timeout). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Steps a message received from a peer. Malformed messages, messages for another node,
   * local-only message types and messages of a stale term are ignored: network input never
   * throws.
   */
  step(message: Message): void {
    if (!isWellFormed(message, this.id)) return;
    this.raft.step(message);
  }

  /**
   * Proposes one entry. Returns where it was appended; see `ProposalTracker` to learn its fate.
   * With `forwardProposals` on, a follower forwards it to the leader instead and returns
   * `{term: 0, index: 0}` (position unknown).
   */
  propose(data: Uint8Array): { term: number; index: number } {
    return this.raft.propose([data], EntryType.Normal);
  }

  /**
   * Proposes many entries at once, appended consecutively from `firstIndex` in one term (the
   * fast path: one replication round for the batch). All or none are appended.
   */
  proposeBatch(data: readonly Uint8Array[]): { term: number; firstIndex: number } {
    const { term, index } = this.raft.propose(data, EntryType.Normal);
    return { term, firstIndex: index };
  }

  /**
   * Proposes a membership change. Throws ConfChangePendingError while another change (or the
   * leader's first entry of its term) is not yet applied, InvalidConfChangeError for a change
   * that could never apply (bad id, removing the last voter).
   */
  proposeConfChange(change: ConfChange): { term: number; index: number } {
    const data = encodeConfChange(change);
    if (this.raft.role === StateRole.Leader && this.raft.configurationAfter(change) === null) {
      throw new InvalidConfChangeError(`removing node ${change.nodeId} would leave no voter`);
    }
    return this.raft.propose([data], EntryType.ConfChange);
  }

  /**
   * Applies a committed ConfChange entry (decoded with `decodeConfChange`): call it when the
   * application applies that entry, on every node. Returns the new configuration, which the
   * caller persists with its next snapshot.
   */
  applyConfChange(change: ConfChange): ConfState {
    if (!isValidNodeId(change.nodeId))
      throw new InvalidConfChangeError(`bad node id ${String(change.nodeId)}`);
    return this.raft.applyConfChange(change);
  }

  /**
   * Asks the leader to hand leadership to `to` (a voter). On the leader, proposals are refused
   * with TransferInProgressError until `to` wins or an election timeout passes. On a follower
   * the request is forwarded to the leader; NotLeaderError when no leader is known. Unknown
   * nodes and learners are ignored.
   */
  transferLeadership(to: NodeId): void {
    if (!isValidNodeId(to)) return;
    const raft = this.raft;
    if (raft.role === StateRole.Leader) {
      raft.transferLeadership(to);
      return;
    }
    if (raft.lead === NONE) throw new NotLeaderError(NONE);
    const message = newMessage(MessageType.TransferLeader, this.id, 0);
    message.from = to;
    raft.step(message);
  }

  /**
   * Requests a linearizable read. When confirmed, `Ready.readStates` carries `{index, context}`:
   * serve the read once `index` is applied. Followers forward to the leader; NotLeaderError when
   * none is known. Requests are lost when leadership changes: callers time out and retry.
   */
  readIndex(context: Uint8Array): void {
    if (context.length > MAX_READ_INDEX_CONTEXT_BYTES) {
      throw new ProposalTooLargeError(context.length, MAX_READ_INDEX_CONTEXT_BYTES);
    }
    this.raft.requestRead(context);
  }

  /** Starts an election now (pre-vote first when enabled); ignored on a leader or a non-voter. */
  campaign(): void {
    this.raft.hup(false);
  }

  /**
   * Whether `ready()` has anything new. False while `maxReadiesInFlight` Readys are outstanding
   * (handed out, not yet advanced), and while one with a snapshot is.
   */
  hasReady(): boolean {
    if (!this.mayHandOut()) return false;
    const raft = this.raft;
    const log = raft.log;
    return (
      raft.lead !== this.prevSoftState.leader ||
      raft.role !== this.prevSoftState.role ||
      raft.term !== this.prevHardState.term ||
      raft.vote !== this.prevHardState.vote ||
      log.committed !== this.prevHardState.commit ||
      log.unstable.hasNotInProgress() ||
      raft.messages.length > 0 ||
      raft.messagesAfterPersist.length > 0 ||
      raft.readStates.length > 0 ||
      log.hasNextCommittedEntries()
    );
  }

  private mayHandOut(): boolean {
    const outstanding = this.outstanding;
    const count = outstanding.length;
    if (count === 0) return true;
    return count < this.maxReadiesInFlight && (outstanding[count - 1] as Outstanding).snapshotIndex === 0;
  }

  /**
   * Collects what the caller must do (see `Ready` for the order). At most `maxReadiesInFlight`
   * Readys may be outstanding (1 by default: call `advance()` before the next `ready()`); each
   * hands out only what the earlier ones did not (entries, snapshot, committed entries), and
   * `advance()` acknowledges them oldest first, so the caller persists them in that order.
   */
  ready(): Ready {
    assert(this.mayHandOut(), "ready() called with maxReadiesInFlight Readys (or a snapshot) outstanding");
    const raft = this.raft;
    const log = raft.log;

    let softState: SoftState | null = null;
    if (raft.lead !== this.prevSoftState.leader || raft.role !== this.prevSoftState.role) {
      softState = raft.softState();
      this.prevSoftState = softState;
    }
    let hardState: HardState | null = null;
    let termOrVoteChanged = false;
    const prev = this.prevHardState;
    if (raft.term !== prev.term || raft.vote !== prev.vote || log.committed !== prev.commit) {
      termOrVoteChanged = raft.term !== prev.term || raft.vote !== prev.vote;
      hardState = raft.hardState();
      this.prevHardState = hardState;
    }
    const unstable = log.unstable;
    const entries =
      unstable.offsetInProgress < unstable.offset + unstable.entries.length
        ? unstable.takeEntries()
        : NO_ENTRIES;
    const snapshot = unstable.takeSnapshot();
    const committedEntries = log.nextCommittedEntries(this.maxCommittedBytesPerReady);
    const messages = raft.messages.length > 0 ? raft.messages : NO_MESSAGES;
    if (raft.messages.length > 0) raft.messages = [];
    const messagesAfterPersist =
      raft.messagesAfterPersist.length > 0 ? raft.messagesAfterPersist : NO_MESSAGES;
    if (raft.messagesAfterPersist.length > 0) raft.messagesAfterPersist = [];
    const readStates = raft.readStates;
    if (readStates.length > 0) raft.readStates = [];

    let committedBytes = 0;
    for (const entry of committedEntries) committedBytes += entry.data.length;
    const lastEntry = entries[entries.length - 1];
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) log.applyingTo(lastCommitted.index);
    this.outstanding.push({
      lastEntryIndex: lastEntry?.index ?? 0,
      lastEntryTerm: lastEntry?.term ?? 0,
      snapshotIndex: snapshot?.metadata.index ?? 0,
      lastCommittedIndex: lastCommitted?.index ?? 0,
      committedBytes,
    });
    return {
      softState,
      hardState,
      entries,
      snapshot,
      committedEntries,
      messages,
      messagesAfterPersist,
      readStates,
      mustSync: entries.length > 0 || termOrVoteChanged || snapshot !== null,
    };
  }

  /**
   * Acknowledges the oldest outstanding Ready: its snapshot and entries are persisted, its
   * messages sent and its committed entries applied. A leader counts its own log toward the
   * commit quorum only from here on.
   */
  advance(): void {
    const outstanding = this.outstanding.shift();
    assert(outstanding !== undefined, "advance() without an outstanding Ready");
    const log = this.raft.log;
    if (outstanding.snapshotIndex > 0) {
      log.unstable.stableSnapTo(outstanding.snapshotIndex);
      if (outstanding.snapshotIndex > log.applied) log.appliedTo(outstanding.snapshotIndex);
    }
    if (outstanding.lastEntryIndex > 0)
      log.unstable.stableTo(outstanding.lastEntryIndex, outstanding.lastEntryTerm);
    if (outstanding.lastCommittedIndex > 0) log.appliedTo(outstanding.lastCommittedIndex);
    this.raft.onPersisted(outstanding.committedBytes);
  }

  /** Tells the leader that a message to `id` could not be delivered: it falls back to probing. */
  reportUnreachable(id: NodeId): void {
    const message = newMessage(MessageType.Unreachable, this.id, 0);
    message.from = id;
    this.raft.step(message);
  }

  /** Tells the leader how sending a snapshot to `id` ended; it resumes probing either way. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const message = newMessage(MessageType.SnapStatus, this.id, 0);
    message.from = id;
    message.reject = !ok;
    this.raft.step(message);
  }

  status(): RaftStatus {
    const raft = this.raft;
    const progress = new Map<NodeId, PeerProgress>();
    if (raft.role === StateRole.Leader) {
      for (const peer of raft.tracker.members) {
        progress.set(peer.id, {
          match: peer.match,
          next: peer.next,
          state: peer.state,
          isLearner: peer.isLearner,
          recentActive: peer.recentActive,
          inflight: peer.inflights.count,
          pendingSnapshot: peer.pendingSnapshot,
        });
      }
    }
    return {
      id: this.id,
      term: raft.term,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      persistedIndex: raft.log.persistedLastIndex(),
      leader: raft.lead,
      role: raft.role,
      progress,
      transferee: raft.leadTransferee,
      voters: raft.tracker.voters.slice(),
      learners: raft.tracker.learners.slice(),
    };
  }
}

const LOCAL_ONLY = new Set<number>([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapStatus,
  MessageType.CheckQuorum,
]);

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Cheap structural checks on a message from the network (O(entries)). */
function isWellFormed(m: Message, self: NodeId): boolean {
  if (typeof m !== "object" || m === null) return false;
  if (
    typeof m.type !== "number" ||
    !Number.isInteger(m.type) ||
    m.type < 0 ||
    m.type > MessageType.CheckQuorum
  ) {
    return false;
  }
  if (LOCAL_ONLY.has(m.type)) return false;
  if (m.to !== self || !isValidNodeId(m.from) || m.from === self) return false;
  if (!isIndex(m.term) || !isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit)) return false;
  if (!isIndex(m.rejectHint) || !isIndex(m.rejectHintTerm)) return false;
  if (!(m.context instanceof Uint8Array) || !Array.isArray(m.entries)) return false;
  const entries = m.entries;
  switch (m.type) {
    case MessageType.App: {
      if (m.term === 0) return false;
      let previousTerm = m.logTerm;
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i] as Entry;
        if (typeof entry !== "object" || entry === null || entry.index !== m.index + 1 + i) return false;
        if (!isIndex(entry.term) || entry.term < previousTerm || entry.term > m.term) return false;
        if (!(entry.data instanceof Uint8Array)) return false;
        if (entry.type !== EntryType.Normal && entry.type !== EntryType.ConfChange) return false;
        previousTerm = entry.term;
      }
      return true;
    }
    case MessageType.Prop:
      for (const entry of entries) {
        if (typeof entry !== "object" || entry === null || !(entry.data instanceof Uint8Array)) return false;
        if (entry.type !== EntryType.Normal && entry.type !== EntryType.ConfChange) return false;
      }
      return true;
    case MessageType.Snap: {
      const snapshot = m.snapshot;
      if (m.term === 0 || typeof snapshot !== "object" || snapshot === null) return false;
      const metadata = snapshot.metadata;
      if (typeof metadata !== "object" || metadata === null) return false;
      if (!isIndex(metadata.index) || !isIndex(metadata.term) || metadata.index === 0) return false;
      if (metadata.term > m.term || !(snapshot.data instanceof Uint8Array)) return false;
      const confState = metadata.confState;
      if (typeof confState !== "object" || confState === null) return false;
      return (
        Array.isArray(confState.voters) &&
        Array.isArray(confState.learners) &&
        confState.voters.every(isValidNodeId) &&
        confState.learners.every(isValidNodeId)
      );
    }
    default:
      // Every other type is term-bound except the term-less requests.
      return m.term > 0 || m.type === MessageType.ReadIndex || m.type === MessageType.TransferLeader;
  }
}
