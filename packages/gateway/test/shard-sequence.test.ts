// Proves a shard's sequence numbers carry its sequenceIndexBase: they decode back to the log position only for that shard and at or above its base, a child's numbers sort after its parent's ending one, and EndingSequenceNumber appears only once the shard is closed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  endingSequenceNumberOf,
  shardPositionOf,
  shardSequenceNumber,
  startingSequenceNumberOf,
} from "../src/index.js";

describe("shard sequence numbers", () => {
  it("round-trip (index, offset) through the shard's base", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 99_999 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (base, index, offset, shardNumber) => {
          const shard = { shardNumber, sequenceIndexBase: base };
          expect(shardPositionOf(shard, shardSequenceNumber(shard, index, offset))).toEqual({
            index,
            offset,
          });
        },
      ),
    );
  });

  it("treats a missing base as 0", () => {
    expect(shardSequenceNumber({ shardNumber: 3 }, 42, 7)).toBe("1000000000000004200007000000000003");
  });

  it("refuses another shard's number and one below the base", () => {
    const shard = { shardNumber: 5, sequenceIndexBase: 100 };
    expect(
      shardPositionOf(shard, shardSequenceNumber({ shardNumber: 4, sequenceIndexBase: 100 }, 1, 0)),
    ).toBeNull();
    expect(shardPositionOf(shard, shardSequenceNumber({ shardNumber: 5 }, 99, 0))).toBeNull();
    expect(shardPositionOf(shard, "12345")).toBeNull();
    expect(shardPositionOf(shard, startingSequenceNumberOf(shard))).toEqual({ index: 0, offset: 0 });
  });

  it("puts every child record after the parent's records and its ending sequence number", () => {
    const parent = { shardNumber: 0, sequenceIndexBase: 0, endingIndex: 500 };
    const child = { shardNumber: 2, sequenceIndexBase: parent.sequenceIndexBase + parent.endingIndex };
    const lastParentRecord = shardSequenceNumber(parent, 499, 99_999);
    const ending = endingSequenceNumberOf(parent);
    expect(lastParentRecord < ending).toBe(true);
    expect(ending <= startingSequenceNumberOf(child)).toBe(true);
    expect(startingSequenceNumberOf(child) < shardSequenceNumber(child, 1, 0)).toBe(true);
  });

  it("gives an open shard no EndingSequenceNumber", () => {
    expect(endingSequenceNumberOf({ shardNumber: 1, sequenceIndexBase: 7 })).toBe("");
  });
});
