/**
 * The idempotent producer's dedup table of one shard, kept by the shard's leader (pure logic, no
 * I/O: producer-dedup-registry.ts feeds it from the broker). For each producer (8-byte id, keyed
 * by its latin1 string) it holds the next sequence it expects and the last PRODUCER_BATCHES_KEPT
 * batches: (first sequence, record count, log index), so a retried batch is answered with the
 * original entry's position instead of being written again.
 *
 * Rules, per request (first sequence f, c records) against the producer's next sequence n:
 * - unknown producer, or f = n: new — append it (`begin`, then `commit` or `abort`);
 * - f > n: a gap — OutOfOrderSequence (the producer lost records; it must not go on silently);
 * - f < n inside a kept batch: a duplicate — answered from that batch (the records of the request
 *   past the batch's end are not covered: the caller fails them retriably, the producer resends
 *   them with their own sequences);
 * - f < n inside a batch still in flight (proposed, not committed): wait for it, then check again;
 * - f < n older than every kept batch: too old — refused (it was written, its position is gone).
 *
 * Bounded: PRODUCERS_PER_SHARD_MAX producers, least recently used forgotten first (a Map keeps
 * insertion order; a touched producer is moved to the end).
 */

/** One batch of a producer in the shard log; `index` is 0 while in flight. */
interface KeptBatch {
  readonly firstSequence: number;
  count: number;
  index: number;
  /** Settles once an in-flight batch commits or fails; undefined once committed. */
  settled: Promise<void> | undefined;
  settle: (() => void) | undefined;
}

interface ProducerState {
  nextSequence: number;
  /** Oldest first, at most batchesKept. */
  readonly batches: KeptBatch[];
}

export type DedupVerdict =
  | { readonly kind: "new" }
  | {
      readonly kind: "duplicate";
      readonly index: number;
      readonly firstOffset: number;
      /** How many records of the request, from its first, the original entry holds. */
      readonly covered: number;
    }
  | { readonly kind: "in-flight"; readonly settled: Promise<void> }
  | { readonly kind: "out-of-order"; readonly expected: number }
  | { readonly kind: "too-old"; readonly oldestKept: number };

/** A batch handed to `begin`, to `commit` or `abort` once its append settles. */
export interface DedupHandle {
  readonly producerKey: string;
  readonly batch: KeptBatch;
}

export interface ProducerDedupTableOptions {
  /** Producers kept; the least recently used is forgotten beyond. */
  readonly producersMax: number;
  /** Batches kept per producer. */
  readonly batchesKept: number;
}

export class ProducerDedupTable {
  readonly #producers = new Map<string, ProducerState>();
  readonly #producersMax: number;
  readonly #batchesKept: number;

  constructor(options: ProducerDedupTableOptions) {
    if (!Number.isInteger(options.producersMax) || options.producersMax < 1) {
      throw new RangeError(`producersMax must be a positive integer, not ${options.producersMax}`);
    }
    if (!Number.isInteger(options.batchesKept) || options.batchesKept < 1) {
      throw new RangeError(`batchesKept must be a positive integer, not ${options.batchesKept}`);
    }
    this.#producersMax = options.producersMax;
    this.#batchesKept = options.batchesKept;
  }

  get size(): number {
    return this.#producers.size;
  }

  /** The next sequence expected from a producer, or undefined when it is unknown here. */
  nextSequence(producerKey: string): number | undefined {
    return this.#producers.get(producerKey)?.nextSequence;
  }

  /** What to do with `count` records from `producerKey` starting at `firstSequence` (see the file's rules). */
  check(producerKey: string, firstSequence: number, count: number): DedupVerdict {
    const state = this.#producers.get(producerKey);
    if (state === undefined || firstSequence === state.nextSequence) return { kind: "new" };
    this.#touch(producerKey, state);
    if (firstSequence > state.nextSequence) return { kind: "out-of-order", expected: state.nextSequence };
    for (let k = state.batches.length - 1; k >= 0; k--) {
      const batch = state.batches[k] as KeptBatch;
      if (firstSequence < batch.firstSequence || firstSequence >= batch.firstSequence + batch.count) continue;
      if (batch.settled !== undefined) return { kind: "in-flight", settled: batch.settled };
      const firstOffset = firstSequence - batch.firstSequence;
      return {
        kind: "duplicate",
        index: batch.index,
        firstOffset,
        covered: Math.min(count, batch.count - firstOffset),
      };
    }
    const oldest = state.batches[0];
    return { kind: "too-old", oldestKept: oldest === undefined ? state.nextSequence : oldest.firstSequence };
  }

  /**
   * Records a batch about to be proposed (after `check` answered "new", with no await between):
   * the producer's next sequence moves past it, and a retry of it waits for it (in-flight).
   */
  begin(producerKey: string, firstSequence: number, count: number): DedupHandle {
    let state = this.#producers.get(producerKey);
    if (state === undefined) {
      state = { nextSequence: firstSequence, batches: [] };
      this.#producers.set(producerKey, state);
      this.#evict();
    } else this.#touch(producerKey, state);
    let settle: (() => void) | undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const batch: KeptBatch = { firstSequence, count, index: 0, settled, settle };
    this.#keep(state, batch);
    state.nextSequence = firstSequence + count;
    return { producerKey, batch };
  }

  /**
   * Only the first `count` records of the batch of `handle` are proposed (the throttle took a
   * prefix): the producer's next sequence follows them. Returns false when it cannot (newer
   * batches followed it): the caller must then drop the table and rebuild it from the log.
   */
  shrink(handle: DedupHandle, count: number): boolean {
    const state = this.#producers.get(handle.producerKey);
    if (state === undefined || state.batches[state.batches.length - 1] !== handle.batch) return false;
    handle.batch.count = count;
    state.nextSequence = handle.batch.firstSequence + count;
    return true;
  }

  /** The batch of `handle` committed at log `index`: duplicates of it are now answered. */
  commit(handle: DedupHandle, index: number): void {
    handle.batch.index = index;
    this.#settle(handle.batch);
  }

  /**
   * The batch of `handle` is certainly not in the log (refused before it was proposed). Returns
   * true when the table took it back (it was its producer's newest batch); false when it cannot
   * (newer batches followed it): the caller must then drop the table and rebuild it from the log.
   */
  abort(handle: DedupHandle): boolean {
    this.#settle(handle.batch);
    const state = this.#producers.get(handle.producerKey);
    if (state === undefined) return true;
    const last = state.batches[state.batches.length - 1];
    if (last !== handle.batch) return false;
    state.batches.pop();
    state.nextSequence = handle.batch.firstSequence;
    if (state.batches.length === 0) {
      // Nothing known of it but this refused batch: forget it, as if it never came.
      this.#producers.delete(handle.producerKey);
    }
    return true;
  }

  /**
   * Adds a committed batch found in the log while rebuilding, visited NEWEST FIRST (as
   * Broker.forEachProducerBatch walks): the first batch seen of a producer sets its next
   * sequence, older ones fill its kept batches until full. Producers are added in recency order.
   */
  noteFromLog(producerKey: string, firstSequence: number, count: number, index: number): void {
    let state = this.#producers.get(producerKey);
    if (state === undefined) {
      if (this.#producers.size >= this.#producersMax) return;
      state = { nextSequence: firstSequence + count, batches: [] };
      this.#producers.set(producerKey, state);
    }
    if (state.batches.length >= this.#batchesKept) return;
    const oldest = state.batches[0];
    // A batch older than what is kept, contiguous or not (a reset producer starts over).
    if (oldest !== undefined && firstSequence >= oldest.firstSequence) return;
    state.batches.unshift({ firstSequence, count, index, settled: undefined, settle: undefined });
  }

  /**
   * Ends a rebuild: producers were added most recent first, so the Map's order is reversed into
   * least recently used first.
   */
  finishRebuild(): void {
    const entries = [...this.#producers].reverse();
    this.#producers.clear();
    for (const [key, state] of entries) this.#producers.set(key, state);
  }

  /** Wakes everything waiting on an in-flight batch (the table is being dropped). */
  releaseAll(): void {
    for (const state of this.#producers.values()) for (const batch of state.batches) this.#settle(batch);
  }

  #keep(state: ProducerState, batch: KeptBatch): void {
    state.batches.push(batch);
    if (state.batches.length > this.#batchesKept) state.batches.shift();
  }

  #settle(batch: KeptBatch): void {
    const settle = batch.settle;
    batch.settle = undefined;
    batch.settled = undefined;
    settle?.();
  }

  #touch(producerKey: string, state: ProducerState): void {
    this.#producers.delete(producerKey);
    this.#producers.set(producerKey, state);
  }

  #evict(): void {
    while (this.#producers.size > this.#producersMax) {
      const oldest = this.#producers.keys().next();
      if (oldest.done === true) return;
      const state = this.#producers.get(oldest.value);
      this.#producers.delete(oldest.value);
      if (state !== undefined) for (const batch of state.batches) this.#settle(batch);
    }
  }
}
