// Proves the idempotent producer's dedup table answers new, duplicate, in-flight, out-of-order and
// too-old requests by its rules, forgets the least recently used producer beyond its bound, and that
// a table rebuilt from the log (newest first, as a new leader does) answers exactly like the table
// that lived through the writes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DedupVerdict, ProducerDedupTable } from "../src/server/producer-dedup.js";

function table(producersMax = 16, batchesKept = 4): ProducerDedupTable {
  return new ProducerDedupTable({ producersMax, batchesKept });
}

/** Writes one batch the way the put path does: check says new, begin, then commit at `index`. */
function write(
  dedup: ProducerDedupTable,
  producer: string,
  first: number,
  count: number,
  index: number,
): void {
  expect(dedup.check(producer, first, count).kind).toBe("new");
  dedup.commit(dedup.begin(producer, first, count), index);
}

describe("ProducerDedupTable", () => {
  it("refuses options that are not positive integers", () => {
    expect(() => table(0, 1)).toThrow(RangeError);
    expect(() => table(1, 0.5)).toThrow(RangeError);
  });

  it("accepts an unknown producer at any sequence, then expects the next one", () => {
    const dedup = table();
    expect(dedup.check("p", 41, 3)).toEqual({ kind: "new" });
    write(dedup, "p", 41, 3, 7);
    expect(dedup.nextSequence("p")).toBe(44);
    expect(dedup.check("p", 44, 1)).toEqual({ kind: "new" });
  });

  it("answers a retry from its original entry, a retried tail by its offset, and says how much is covered", () => {
    const dedup = table();
    write(dedup, "p", 0, 3, 10);
    write(dedup, "p", 3, 2, 11);
    expect(dedup.check("p", 0, 3)).toEqual({ kind: "duplicate", index: 10, firstOffset: 0, covered: 3 });
    expect(dedup.check("p", 1, 2)).toEqual({ kind: "duplicate", index: 10, firstOffset: 1, covered: 2 });
    // A request spanning two original batches is covered up to the first one's end.
    expect(dedup.check("p", 2, 3)).toEqual({ kind: "duplicate", index: 10, firstOffset: 2, covered: 1 });
    expect(dedup.check("p", 4, 1)).toEqual({ kind: "duplicate", index: 11, firstOffset: 1, covered: 1 });
  });

  it("refuses a gap as out of order and a sequence older than every kept batch as too old", () => {
    const dedup = table(16, 2);
    write(dedup, "p", 0, 1, 1);
    expect(dedup.check("p", 5, 1)).toEqual({ kind: "out-of-order", expected: 1 });
    write(dedup, "p", 1, 1, 2);
    write(dedup, "p", 2, 1, 3);
    expect(dedup.check("p", 0, 1)).toEqual({ kind: "too-old", oldestKept: 1 });
    expect(dedup.check("p", 1, 1).kind).toBe("duplicate");
  });

  it("makes a retry of an in-flight batch wait, then answers it from the committed entry", async () => {
    const dedup = table();
    const handle = dedup.begin("p", 0, 2);
    const verdict = dedup.check("p", 0, 2);
    expect(verdict.kind).toBe("in-flight");
    let woken = false;
    const waiting = (verdict as Extract<DedupVerdict, { kind: "in-flight" }>).settled.then(() => {
      woken = true;
    });
    await Promise.resolve();
    expect(woken).toBe(false);
    dedup.commit(handle, 9);
    await waiting;
    expect(dedup.check("p", 0, 2)).toEqual({ kind: "duplicate", index: 9, firstOffset: 0, covered: 2 });
  });

  it("takes an aborted newest batch back, and cannot take back one that newer batches followed", async () => {
    const dedup = table();
    write(dedup, "p", 0, 1, 1);
    const refused = dedup.begin("p", 1, 2);
    const waiter = dedup.check("p", 1, 2);
    expect(dedup.abort(refused)).toBe(true);
    if (waiter.kind === "in-flight") await waiter.settled;
    expect(dedup.nextSequence("p")).toBe(1);
    expect(dedup.check("p", 1, 2)).toEqual({ kind: "new" });

    const older = dedup.begin("p", 1, 1);
    dedup.begin("p", 2, 1);
    expect(dedup.abort(older)).toBe(false);

    // A producer known only by its refused batch is forgotten.
    const lone = dedup.begin("q", 5, 1);
    expect(dedup.abort(lone)).toBe(true);
    expect(dedup.nextSequence("q")).toBeUndefined();
  });

  it("forgets the least recently used producer beyond its bound, waking its waiters", async () => {
    const dedup = table(2, 4);
    write(dedup, "a", 0, 1, 1);
    write(dedup, "b", 0, 1, 2);
    // A retry touches "a", so "b" is now the least recently used.
    expect(dedup.check("a", 0, 1).kind).toBe("duplicate");
    write(dedup, "c", 0, 1, 3);
    expect(dedup.size).toBe(2);
    expect(dedup.nextSequence("b")).toBeUndefined();
    expect(dedup.nextSequence("a")).toBe(1);

    const inFlight = dedup.begin("a", 1, 1);
    const waiter = dedup.check("a", 1, 1);
    write(dedup, "c", 1, 1, 4);
    write(dedup, "d", 0, 1, 5); // evicts "a", in flight or not
    expect(dedup.nextSequence("a")).toBeUndefined();
    if (waiter.kind !== "in-flight") throw new Error(`expected in-flight, got ${waiter.kind}`);
    await waiter.settled;
    dedup.commit(inFlight, 6); // a late commit of a forgotten batch changes nothing
    expect(dedup.nextSequence("a")).toBeUndefined();
  });

  it("releaseAll wakes every waiter", async () => {
    const dedup = table();
    dedup.begin("p", 0, 1);
    const waiter = dedup.check("p", 0, 1);
    dedup.releaseAll();
    if (waiter.kind !== "in-flight") throw new Error(`expected in-flight, got ${waiter.kind}`);
    await waiter.settled;
  });

  it("rebuilt from the log newest first, answers every request like the table that saw the writes", () => {
    const producers = ["a", "b", "c"];
    const batch = fc.record({
      producer: fc.constantFrom(...producers),
      count: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(batch, { maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (batches, batchesKept) => {
          // Room for every producer: an evicted one would be known better by the rebuilt table.
          const live = table(producers.length, batchesKept);
          const log: { producer: string; first: number; count: number; index: number }[] = [];
          for (const [position, { producer, count }] of batches.entries()) {
            const first = live.nextSequence(producer) ?? 0;
            write(live, producer, first, count, position + 1);
            log.push({ producer, first, count, index: position + 1 });
          }
          const rebuilt = table(producers.length, batchesKept);
          for (const entry of [...log].reverse()) {
            rebuilt.noteFromLog(entry.producer, entry.first, entry.count, entry.index);
          }
          rebuilt.finishRebuild();
          expect(rebuilt.size).toBe(live.size);
          for (const producer of producers) {
            expect(rebuilt.nextSequence(producer)).toBe(live.nextSequence(producer));
            const end = (live.nextSequence(producer) ?? 0) + 2;
            for (let first = 0; first <= end; first++) {
              expect(rebuilt.check(producer, first, 2)).toEqual(live.check(producer, first, 2));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rebuilt with more producers in the log than it keeps, keeps the most recent ones in LRU order", () => {
    const rebuilt = table(2, 4);
    // Newest first: c wrote last, then a, then b.
    rebuilt.noteFromLog("c", 0, 1, 3);
    rebuilt.noteFromLog("a", 1, 1, 2);
    rebuilt.noteFromLog("b", 0, 1, 1);
    rebuilt.noteFromLog("a", 0, 1, 0);
    rebuilt.finishRebuild();
    expect(rebuilt.nextSequence("b")).toBeUndefined();
    expect(rebuilt.check("a", 0, 1)).toEqual({ kind: "duplicate", index: 0, firstOffset: 0, covered: 1 });
    // "a" was least recently used after the rebuild until that retry; now "c" is, and goes first.
    rebuilt.commit(rebuilt.begin("d", 0, 1), 4);
    expect(rebuilt.nextSequence("c")).toBeUndefined();
    expect(rebuilt.nextSequence("a")).toBe(2);
  });
});
