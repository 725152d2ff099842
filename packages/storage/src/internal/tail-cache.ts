/**
 * The most recent entries of one group, kept in memory so readers at the tip (followers being
 * sent appends, consumers tailing a shard) never touch the disk. The cache is always a contiguous
 * suffix of the group's log: it ends at the log's last index, or is empty. The entries are the
 * objects given to `append` (the log owns them; nobody mutates them).
 */
import type { Entry } from "raft-ts";
import { assert } from "./assert.js";

export class TailCache {
  private entries: Entry[] = [];
  private head = 0;
  /** Sum of cached `data` lengths. */
  bytes = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Index of the first cached entry, or Infinity when empty. */
  get firstIndex(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : this.entries[this.head]!.index;
  }

  get lastIndex(): number {
    return this.size === 0 ? -1 : this.entries[this.entries.length - 1]!.index;
  }

  get(index: number): Entry | undefined {
    if (this.size === 0) return undefined;
    const first = this.entries[this.head]!.index;
    if (index < first) return undefined;
    return this.entries[this.head + (index - first)];
  }

  /** Adds the entry that follows the cached suffix (the caller truncated first on a conflict). */
  append(entry: Entry): void {
    if (this.size > 0) assert(entry.index === this.lastIndex + 1, "tail cache stays contiguous");
    this.entries.push(entry);
    this.bytes += entry.data.length;
  }

  /** Forgets cached entries at `index` and after. */
  truncateFrom(index: number): void {
    while (this.size > 0 && this.lastIndex >= index) {
      const removed = this.entries.pop()!;
      this.bytes -= removed.data.length;
    }
    if (this.size === 0) this.clear();
  }

  /** Forgets cached entries before `index`. */
  dropBefore(index: number): void {
    while (this.size > 0 && this.entries[this.head]!.index < index) this.evictOne();
  }

  /** Evicts the oldest entries until at most `maxBytes` remain; returns the bytes freed. */
  evictTo(maxBytes: number): number {
    const before = this.bytes;
    while (this.size > 0 && this.bytes > maxBytes) this.evictOne();
    return before - this.bytes;
  }

  /**
   * Evicts the oldest entries at or below `appliedIndex` while more than `keepBytes` of those
   * remain; entries after it are kept whatever their size. Returns the bytes freed.
   */
  evictAppliedTo(appliedIndex: number, keepBytes: number): number {
    let unappliedBytes = 0;
    for (let i = this.entries.length - 1; i >= this.head && this.entries[i]!.index > appliedIndex; i--) {
      unappliedBytes += this.entries[i]!.data.length;
    }
    const before = this.bytes;
    while (
      this.size > 0 &&
      this.entries[this.head]!.index <= appliedIndex &&
      this.bytes - unappliedBytes > keepBytes
    ) {
      this.evictOne();
    }
    return before - this.bytes;
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  private evictOne(): void {
    const entry = this.entries[this.head]!;
    this.entries[this.head] = undefined as unknown as Entry;
    this.head += 1;
    this.bytes -= entry.data.length;
    if (this.size === 0) {
      this.clear();
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
