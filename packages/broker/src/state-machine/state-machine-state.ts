/**
 * The host's side of one state-machine group replica: it feeds committed entries to the
 * GroupStateMachine exactly once each, keeps the results its local proposers wait for, and says
 * when a snapshot is due (every STATE_MACHINE_SNAPSHOT_ENTRIES applied entries).
 */
import { type Entry, EntryType } from "raft-ts";
import { STATE_MACHINE_SNAPSHOT_ENTRIES } from "../constants.js";
import type { GroupStateMachine } from "./group-state-machine.js";

/** A snapshot taken of the machine, waiting to be written with the next flush. */
export interface DueSnapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

interface ResultSlot {
  readonly term: number;
  filled: boolean;
  result: unknown;
}

export class StateMachineState {
  readonly machine: GroupStateMachine;
  private applied: number;
  private lastSnapshotIndex: number;
  /** Results kept for proposals made on this node, by index (only those are kept). */
  private readonly slots = new Map<number, ResultSlot>();
  /** The snapshot to write with the next flush, if one is due. */
  due: DueSnapshot | null = null;

  /** `snapshotIndex` is the stored snapshot the machine was restored from (0: none). */
  constructor(machine: GroupStateMachine, snapshotIndex: number) {
    this.machine = machine;
    this.applied = snapshotIndex;
    this.lastSnapshotIndex = snapshotIndex;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** The machine's state is replaced by a snapshot's (restart, or one sent by the leader). */
  restore(data: Uint8Array, index: number): void {
    this.machine.restore(data, index);
    this.applied = index;
    this.lastSnapshotIndex = index;
    this.due = null;
  }

  /**
   * Applies a committed entry (in log order; each index once). Only Normal entries with data
   * reach the machine: the leader's no-op and membership changes only move the applied index.
   * A throw from the machine propagates (the host stops the group).
   */
  apply(entry: Entry): void {
    if (entry.index <= this.applied) return;
    this.applied = entry.index;
    if (entry.type !== EntryType.Normal || entry.data.length === 0) return;
    const data = Buffer.isBuffer(entry.data)
      ? entry.data
      : Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    const result = this.machine.apply(entry.index, data);
    const slot = this.slots.get(entry.index);
    if (slot !== undefined && slot.term === entry.term) {
      slot.filled = true;
      slot.result = result;
    }
  }

  /** After a Ready's entries are applied: takes a snapshot if enough entries were applied since the last. */
  maybeSnapshot(term: number): void {
    if (this.applied - this.lastSnapshotIndex < STATE_MACHINE_SNAPSHOT_ENTRIES) return;
    this.due = { index: this.applied, term, data: this.machine.snapshot() };
    this.lastSnapshotIndex = this.applied;
  }

  /** A local proposal at (term, index) waits for its result. */
  expectResult(term: number, index: number): void {
    this.slots.set(index, { term, filled: false, result: undefined });
  }

  /** The result of the local proposal at `index` (undefined when none was kept); forgets it. */
  takeResult(index: number): unknown {
    const slot = this.slots.get(index);
    this.slots.delete(index);
    return slot?.filled === true ? slot.result : undefined;
  }

  /** The proposal at `index` failed or was abandoned. */
  forgetResult(index: number): void {
    this.slots.delete(index);
  }
}
