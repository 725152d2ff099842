/**
 * The shard tail cache: the most recently committed entries of one group, in memory, so readers at
 * the tip (the common case: consumers keeping up) never touch storage. It holds the entries' own
 * buffers — the same objects raft appended and the storage caches — so its memory is mostly
 * shared; its bound matters when the storage's cache has moved on.
 *
 * Every group's cache is bounded (`maxBytesPerGroup`, oldest entries leave first), and all of a
 * node's caches together are bounded by one `TailCacheBudget`: when the node is over, the caches
 * of the least recently appended groups are emptied first (an idle shard's readers can afford a
 * storage read; a busy shard's cannot).
 */
import type { Entry } from "raft-ts";

/** The node-wide bound shared by every group's cache. */
export class TailCacheBudget {
  readonly maxBytes: number;
  private totalBytes = 0;
  /** Caches in least-recently-appended-first order (a Map keeps insertion order). */
  private readonly recency = new Map<ShardTailCache, true>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** @internal Called by a cache that grew by `bytes`; evicts other caches while over the bound. */
  grew(cache: ShardTailCache, bytes: number): void {
    this.totalBytes += bytes;
    this.recency.delete(cache);
    this.recency.set(cache, true);
    if (this.totalBytes <= this.maxBytes) return;
    for (const victim of this.recency.keys()) {
      if (this.totalBytes <= this.maxBytes) break;
      if (victim === cache) continue;
      victim.clear();
    }
  }

  /** @internal Called by a cache that shrank by `bytes`. */
  shrank(cache: ShardTailCache, bytes: number, empty: boolean): void {
    this.totalBytes -= bytes;
    if (empty) this.recency.delete(cache);
  }
}

export class ShardTailCache {
  private readonly budget: TailCacheBudget;
  private readonly maxBytesPerGroup: number;
  /** Contiguous committed entries; `entries[head]` is the oldest still cached. */
  private entries: Entry[] = [];
  private head = 0;
  private cachedBytes = 0;

  constructor(budget: TailCacheBudget, maxBytesPerGroup: number) {
    this.budget = budget;
    this.maxBytesPerGroup = maxBytesPerGroup;
  }

  get bytes(): number {
    return this.cachedBytes;
  }

  /** Index of the oldest cached entry, or Infinity when the cache is empty. */
  firstIndex(): number {
    const first = this.entries[this.head];
    return first === undefined ? Number.POSITIVE_INFINITY : first.index;
  }

  /** The cached entry at `index`, or undefined. */
  get(index: number): Entry | undefined {
    const first = this.entries[this.head];
    if (first === undefined || index < first.index) return undefined;
    return this.entries[this.head + (index - first.index)];
  }

  /**
   * Adds the next committed entry. An entry that does not follow the last cached one (after a
   * restart or a snapshot) restarts the cache from it.
   */
  push(entry: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && this.size() > 0 && entry.index !== last.index + 1) this.clear();
    const bytes = entryBytes(entry);
    if (bytes > this.maxBytesPerGroup) {
      // Larger than the whole cache: keeping it would mean keeping nothing else.
      this.clear();
      return;
    }
    this.entries.push(entry);
    this.cachedBytes += bytes;
    let freed = 0;
    while (this.cachedBytes > this.maxBytesPerGroup) {
      const oldest = this.entries[this.head] as Entry;
      // Release the slot: until the array is compacted below, it would keep the entry (and its
      // buffer) alive — up to 1,024 evicted entries per group, far past the cache's bound.
      this.entries[this.head] = undefined as unknown as Entry;
      this.head++;
      const oldBytes = entryBytes(oldest);
      this.cachedBytes -= oldBytes;
      freed += oldBytes;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (freed > 0) this.budget.shrank(this, freed, false);
    this.budget.grew(this, bytes);
  }

  /** Drops every cached entry. */
  clear(): void {
    const freed = this.cachedBytes;
    this.entries = [];
    this.head = 0;
    this.cachedBytes = 0;
    this.budget.shrank(this, freed, true);
  }

  private size(): number {
    return this.entries.length - this.head;
  }
}

/** What an entry costs in the cache: its data plus a fixed allowance for the object. */
function entryBytes(entry: Entry): number {
  return entry.data.length + 64;
}
