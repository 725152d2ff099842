/**
 * Read barriers waiting on one replica (raft ReadIndex, safe form). Each gets a context unique in
 * the cluster (node id, a per-process nonce and a counter), because the leader queues the
 * requests of every replica by context. A barrier learns its read index from a Ready's
 * `readStates` and resolves once this replica has applied that index; it times out when the
 * request or its answer is lost (raft drops them when leadership changes).
 */
import { randomInt } from "node:crypto";
import type { NodeId, ReadState } from "raft-ts";

/** Per-process nonce: a restarted node never reuses a context an old leader may still hold. */
const PROCESS_NONCE = randomInt(0x7fff_ffff);
const CONTEXT_BYTES = 16;

export interface PendingRead {
  /** The index to wait for; -1 until the leader answered. */
  index: number;
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class ReadBarriers {
  private readonly nodeId: NodeId;
  private counter = 0;
  /** By context, as a latin1 string key; in request order. */
  private readonly pending = new Map<string, PendingRead>();

  constructor(nodeId: NodeId) {
    this.nodeId = nodeId;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A fresh context for `RaftNode.readIndex`. */
  nextContext(): Buffer {
    const context = Buffer.allocUnsafe(CONTEXT_BYTES);
    context.writeUInt32LE(this.nodeId >>> 0, 0);
    context.writeUInt32LE(PROCESS_NONCE, 4);
    context.writeDoubleLE(++this.counter, 8);
    return context;
  }

  add(context: Buffer, read: PendingRead): void {
    this.pending.set(context.toString("latin1"), read);
  }

  /** Records the read indexes a Ready confirmed (unknown contexts belong to no one here). */
  observe(readStates: readonly ReadState[]): void {
    for (const state of readStates) {
      const read = this.pending.get(Buffer.from(state.context).toString("latin1"));
      if (read !== undefined && read.index < 0) read.index = state.index;
    }
  }

  /**
   * The contexts of the barriers no leader has answered yet. Raft drops a ReadIndex request when
   * leadership changes; the host asks the new leader again with the same context, so a barrier
   * made during an election waits for the election, not for its deadline.
   */
  unanswered(): Buffer[] {
    const contexts: Buffer[] = [];
    for (const [key, read] of this.pending) if (read.index < 0) contexts.push(Buffer.from(key, "latin1"));
    return contexts;
  }

  /** Resolves the barriers whose read index is applied. */
  release(appliedIndex: number): void {
    if (this.pending.size === 0) return;
    for (const [key, read] of this.pending) {
      if (read.index < 0 || read.index > appliedIndex) continue;
      this.pending.delete(key);
      read.resolve();
    }
  }

  /** Rejects the barriers past their deadline; returns how many. */
  expire(nowMs: number, error: () => Error): number {
    let expired = 0;
    for (const [key, read] of this.pending) {
      if (read.deadlineMs > nowMs) continue;
      this.pending.delete(key);
      read.reject(error());
      expired++;
    }
    return expired;
  }

  /** Rejects every barrier (shutdown, removal, failure). */
  failAll(error: () => Error): void {
    const reads = [...this.pending.values()];
    this.pending.clear();
    for (const read of reads) read.reject(error());
  }
}
