import { LeadershipLostError, type RaftError } from "./errors.js";
import { type Ready, StateRole } from "./types.js";

/** Where a proposal committed. */
export interface CommittedPosition {
  readonly term: number;
  readonly index: number;
}

/** Promise-like callbacks for one tracked proposal; exactly one of them is called, once. */
export interface ProposalCallbacks {
  resolve(position: CommittedPosition): void;
  reject(error: RaftError): void;
}

interface Tracked {
  readonly term: number;
  readonly index: number;
  readonly callbacks: ProposalCallbacks;
}

/**
 * Turns proposals into outcomes the caller can wait on. Register each proposal's (term, index)
 * right after `propose` (for a batch, its last index: entries of one term commit in order), and
 * feed every Ready to `observe`. A proposal resolves when an entry commits at its index with
 * its term; it rejects with LeadershipLostError (retriable, outcome unknown) when another
 * term's entry commits there, or when the node stops leading first. Pure logic: no timers;
 * callers add their own deadlines.
 */
export class ProposalTracker {
  /** Pending proposals in increasing index order; `head` skips the settled ones. */
  private queue: Tracked[] = [];
  private head = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Tracks the proposal appended at (term, index). Indexes must increase between calls. */
  track(term: number, index: number, callbacks: ProposalCallbacks): void {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && this.size > 0 && index <= last.index) {
      // A new term reused indexes of a term we never saw end: the old ones lost.
      this.rejectAll();
    }
    this.queue.push({ term, index, callbacks });
  }

  /** The same as `track`, as a Promise. */
  wait(term: number, index: number): Promise<CommittedPosition> {
    return new Promise((resolve, reject) => this.track(term, index, { resolve, reject }));
  }

  /** Settles proposals from a Ready's committed entries, then from its soft state. */
  observe(ready: Pick<Ready, "committedEntries" | "softState">): void {
    const entries = ready.committedEntries;
    if (entries.length > 0 && this.size > 0) {
      let next = 0;
      while (this.head < this.queue.length) {
        const tracked = this.queue[this.head] as Tracked;
        // Advance to the committed entry at the tracked index, if this Ready reaches it.
        while (next < entries.length && (entries[next]?.index as number) < tracked.index) next++;
        const entry = entries[next];
        if (entry === undefined) break; // Not committed yet.
        if (entry.index !== tracked.index) {
          // The committed entries skip its index (it was before this Ready's first one): the
          // outcome cannot be known here; the caller retries.
          this.settleHead(null);
          continue;
        }
        this.settleHead(entry.term === tracked.term ? { term: entry.term, index: entry.index } : null);
      }
      this.compactQueue();
    }
    if (ready.softState !== null && ready.softState.role !== StateRole.Leader) this.rejectAll();
  }

  /** Rejects every pending proposal with LeadershipLostError (e.g. on shutdown or step-down). */
  rejectAll(): void {
    while (this.head < this.queue.length) this.settleHead(null);
    this.compactQueue();
  }

  private settleHead(position: CommittedPosition | null): void {
    const tracked = this.queue[this.head] as Tracked;
    this.head++;
    if (position !== null) tracked.callbacks.resolve(position);
    else tracked.callbacks.reject(new LeadershipLostError(tracked.term, tracked.index));
  }

  private compactQueue(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
