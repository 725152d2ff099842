import type { MemoryStorage } from "../../memory-storage.js";
import type { Entry } from "../../types.js";
import { entryKey } from "./state-machine.js";

/**
 * The simulator's copy of one node's log, as the node has revealed it: the durable log plus the
 * entries of every Ready handed out since (a Ready's entries replace the suffix they start in).
 * The checkers read it; it holds only (term, key) per index, so it stays cheap. It is rebuilt
 * from the durable storage when the node restarts.
 */
export class LogMirror {
  /** Index and term of the entry before the first one held (a snapshot's point, or 0/0). */
  baseIndex = 0;
  baseTerm = 0;
  private terms: number[] = [];
  private keys: number[] = [];

  get lastIndex(): number {
    return this.baseIndex + this.terms.length;
  }

  get firstIndex(): number {
    return this.baseIndex + 1;
  }

  /** The term at `index`, the base term at baseIndex, or -1 when not held. */
  term(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex) return -1;
    return this.terms[index - this.baseIndex - 1]!;
  }

  /** The key at `index`, or -1 when not held (also for the base, which is a snapshot). */
  key(index: number): number {
    if (index <= this.baseIndex || index > this.lastIndex) return -1;
    return this.keys[index - this.baseIndex - 1]!;
  }

  /** Applies the entries of a Ready: they replace everything from their first index on. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    let from = 0;
    if (first <= this.baseIndex) from = this.baseIndex + 1 - first;
    if (from >= entries.length) return;
    const position = entries[from]!.index - this.baseIndex - 1;
    if (position > this.terms.length) {
      throw new Error(`log mirror gap: appending at ${entries[from]!.index} after ${this.lastIndex}`);
    }
    this.terms.length = position;
    this.keys.length = position;
    for (let i = from; i < entries.length; i++) {
      const entry = entries[i]!;
      this.terms.push(entry.term);
      this.keys.push(entryKey(entry));
    }
  }

  /** A snapshot replaces the whole log. */
  installSnapshot(index: number, term: number): void {
    this.baseIndex = index;
    this.baseTerm = term;
    this.terms = [];
    this.keys = [];
  }

  /** The node restarted: its log is what its storage holds. */
  rebuild(storage: MemoryStorage): void {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.installSnapshot(first - 1, storage.term(first - 1));
    if (last >= first) this.append(storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER));
  }
}
