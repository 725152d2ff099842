/**
 * The data types of raft-ts: entries, messages, hard and soft state, snapshots and the Ready
 * batch the caller processes. Everything here is plain data: no methods, no I/O, so a message
 * can be encoded by any transport and a Ready can be printed in a golden trace.
 *
 * Identifiers: node ids are positive safe integers (0 means "none"). Terms and log indexes are
 * non-negative safe integers (JavaScript numbers hold them exactly up to 2^53, which at a million
 * entries a second lasts 285 years).
 */

/** A node id. 0 is reserved for "no node" (no leader known, no vote cast). */
export type NodeId = number;

export const NONE: NodeId = 0;

export const EntryType = {
  /** An application entry (or the empty no-op a new leader appends, with empty data). */
  Normal: 0,
  /** A membership change; `data` is an encoded ConfChange (see conf-change.ts). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Owned by the log once proposed: callers must not mutate it afterwards. */
  readonly data: Uint8Array;
}

/** What must be on stable storage before the node may answer anything that depends on it. */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or NONE. */
  readonly vote: NodeId;
  /** Highest index known committed. Persisting it is an optimisation, not a safety need. */
  readonly commit: number;
}

export const StateRole = {
  Follower: 0,
  PreCandidate: 1,
  Candidate: 2,
  Leader: 3,
} as const;
export type StateRole = (typeof StateRole)[keyof typeof StateRole];

/** Volatile state, reported in a Ready when it changes; never persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: StateRole;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers, and that entry's term. */
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** Application state as of `metadata.index`; opaque to raft. */
  readonly data: Uint8Array;
}

export const MessageType = {
  /** Local: start an election (sent to self by tick, or by the caller to force one). */
  Hup: 0,
  /** Local: leader sends heartbeats (sent to self by tick). */
  Beat: 1,
  /** A proposal; forwarded to the leader by followers when forwarding is enabled. */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  PreVote: 7,
  PreVoteResp: 8,
  Snap: 9,
  Heartbeat: 10,
  HeartbeatResp: 11,
  /** Local: the transport could not deliver to `from`; the leader slows down to probing. */
  Unreachable: 12,
  /** Local: the outcome of sending a snapshot to `from` (`reject` = failed). */
  SnapStatus: 13,
  /** Local or forwarded: ask the leader to transfer leadership to `from`. */
  TransferLeader: 14,
  /** Leader to transferee: start an election now, ignoring the election timeout. */
  TimeoutNow: 15,
  ReadIndex: 16,
  ReadIndexResp: 17,
  /** Local: check whether the leader still has a quorum (CheckQuorum), sent to self by tick. */
  CheckQuorum: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One Raft message. Fields a type does not use are 0, false or empty; `entries` is shared, not
 * copied, so a transport must encode it before the sender's next `advance()`.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** App: term of the entry at `index` (the entry before `entries`). Vote: last log term. */
  readonly logTerm: number;
  /** App: index of the entry before `entries`. AppResp: the follower's match (or rejected) index. Vote: last log index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  /** The sender's commit index (App, Heartbeat: capped to what the receiver is known to have). */
  readonly commit: number;
  /** Vote responses and append responses: false = granted / accepted. */
  readonly reject: boolean;
  /** AppResp rejection: the follower's hint (fast backtracking): an index to probe from… */
  readonly rejectHint: number;
  /** …and the term of the follower's entry at rejectHint (0 if none). */
  readonly rejectHintTerm: number;
  readonly snapshot: Snapshot | null;
  /** ReadIndex request id (and heartbeat context for ReadIndex rounds); empty when unused. */
  readonly context: Uint8Array;
}

/** A linearizable read became ready: once `index` is applied, reads may be served for `context`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * What the caller must do, in this order, before calling `advance()`:
 *   1. send `messages` (they may go at once, before anything is persisted);
 *   2. persist `snapshot` (if any), then `entries`, then `hardState` (if any), durably when
 *      `mustSync` is true;
 *   3. only then send `messagesAfterPersist` (vote replies and append acknowledgements depend on
 *      the write in step 2, so sending them earlier breaks safety);
 *   4. apply `snapshot` (if any) and `committedEntries` to the state machine (may overlap 2–3:
 *      committed entries are already durable on a quorum);
 *   5. call `advance()`: the leader counts its own log toward the quorum only from here on.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when `entries` or a changed term/vote must reach stable storage with a sync. */
  readonly mustSync: boolean;
}

/** Randomness, injected so a run replays from its seed. */
export interface RandomSource {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}
