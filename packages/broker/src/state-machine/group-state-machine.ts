/**
 * The contract of a replicated state machine other than the shard log — the metadata service on
 * Raft group 0. For such a group the log is not the state: the host applies each committed entry
 * to the machine, snapshots it every STATE_MACHINE_SNAPSHOT_ENTRIES entries and compacts the log
 * behind the snapshot, restores it from the stored snapshot when the node restarts (then
 * re-applies the committed entries after it), and hands a lagging follower the snapshot instead
 * of the entries it no longer has.
 *
 * Every method runs on the persist loop, synchronously: keep them short and never throw.
 */
import type { GroupId } from "../transport/transport.js";

/** A replicated state machine other than the shard log (the metadata service on group 0). */
export interface GroupStateMachine {
  /**
   * Applies one committed Normal entry with non-empty data, in log order, exactly once per index
   * per process lifetime (after restore). Returns a result handed to the proposer on this node
   * (any value; must not throw — a throw is a bug: the host logs it and stops the group here,
   * with StateMachineFailedError for its callers). `data` is a view of the log entry: copy what
   * you keep.
   */
  apply(index: number, data: Buffer): unknown;
  /** Serializes the whole state as of the last applied index. The host keeps the returned bytes: do not reuse them. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's (on restart, or when the leader sends one). */
  restore(data: Uint8Array, index: number): void;
}

/** Returns the state machine of a group, or undefined for a shard group. */
export type StateMachineFactory = (groupId: GroupId) => GroupStateMachine | undefined;
