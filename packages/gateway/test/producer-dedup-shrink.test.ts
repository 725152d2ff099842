// Proves a batch begun in the dedup table at its check holds off a copy until it settles, and that
// `shrink` (the throttle took a prefix) makes the table expect the first record past that prefix,
// refusing when newer batches of the producer followed (the caller then drops the table).
import { describe, expect, it } from "vitest";
import { ProducerDedupTable } from "../src/server/producer-dedup.js";

function table(): ProducerDedupTable {
  return new ProducerDedupTable({ producersMax: 16, batchesKept: 4 });
}

describe("ProducerDedupTable, a batch begun at its check", () => {
  it("makes a copy checked meanwhile wait for it, then answers the copy from it", async () => {
    const dedup = table();
    const handle = dedup.begin("p", 0, 3);
    const copy = dedup.check("p", 0, 3);
    expect(copy.kind).toBe("in-flight");
    dedup.commit(handle, 42);
    if (copy.kind === "in-flight") await copy.settled;
    expect(dedup.check("p", 0, 3)).toEqual({ kind: "duplicate", index: 42, firstOffset: 0, covered: 3 });
  });

  it("shrinks a throttled batch to its prefix, so the rest is new again", () => {
    const dedup = table();
    const handle = dedup.begin("p", 10, 5);
    expect(dedup.shrink(handle, 2)).toBe(true);
    expect(dedup.nextSequence("p")).toBe(12);
    dedup.commit(handle, 7);
    expect(dedup.check("p", 12, 3).kind).toBe("new");
    expect(dedup.check("p", 10, 5)).toEqual({ kind: "duplicate", index: 7, firstOffset: 0, covered: 2 });
  });

  it("refuses to shrink a batch that newer batches of its producer followed", () => {
    const dedup = table();
    const older = dedup.begin("p", 0, 2);
    dedup.begin("p", 2, 2);
    expect(dedup.shrink(older, 1)).toBe(false);
    expect(dedup.nextSequence("p")).toBe(4);
  });
});
