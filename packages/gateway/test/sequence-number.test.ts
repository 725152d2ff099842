// Proves sequence numbers are 34-digit decimals that decode back to their (index, offset, shard), sort as their positions do, and that anything else decodes to null.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSequenceNumber, encodeSequenceNumber, startingSequenceNumber } from "../src/index.js";

const position = fc.record({
  index: fc.maxSafeNat(),
  offset: fc.integer({ min: 0, max: 99_999 }),
  shardNumber: fc.integer({ min: 0, max: 999_999_999_999 }),
});

describe("sequence numbers", () => {
  it("decode(encode(p)) = p, with 34 digits and no leading zero", () => {
    fc.assert(
      fc.property(position, (p) => {
        const s = encodeSequenceNumber(p.index, p.offset, p.shardNumber);
        expect(s).toMatch(/^1\d{33}$/);
        expect(decodeSequenceNumber(s)).toEqual(p);
      }),
    );
  });

  it("string order and numeric order are (index, offset) order within a shard", () => {
    fc.assert(
      fc.property(position, position, (a, b) => {
        const shard = a.shardNumber;
        const sa = encodeSequenceNumber(a.index, a.offset, shard);
        const sb = encodeSequenceNumber(b.index, b.offset, shard);
        const expected = a.index !== b.index ? Math.sign(a.index - b.index) : Math.sign(a.offset - b.offset);
        expect(Math.sign(sa < sb ? -1 : sa > sb ? 1 : 0)).toBe(expected);
        expect(Math.sign(Number(BigInt(sa) - BigInt(sb)))).toBe(expected);
      }),
    );
  });

  it("is unique across shards of a stream", () => {
    expect(encodeSequenceNumber(5, 1, 0)).not.toBe(encodeSequenceNumber(5, 1, 1));
  });

  it("starts every shard below its first record", () => {
    expect(startingSequenceNumber(3)).toBe(`1${"0".repeat(21)}000000000003`);
    expect(startingSequenceNumber(3) < encodeSequenceNumber(1, 0, 3)).toBe(true);
  });

  it("decodes anything else to null", () => {
    const good = encodeSequenceNumber(42, 7, 9);
    for (const bad of [
      "",
      "0",
      good.slice(1),
      `${good}0`,
      `2${good.slice(1)}`,
      `${good.slice(0, 10)}x${good.slice(11)}`,
      `1${"9".repeat(16)}${"0".repeat(17)}`,
    ]) {
      expect(decodeSequenceNumber(bad)).toBeNull();
    }
  });

  it("refuses arguments outside the format", () => {
    expect(() => encodeSequenceNumber(-1, 0, 0)).toThrow(RangeError);
    expect(() => encodeSequenceNumber(2 ** 53, 0, 0)).toThrow(RangeError);
    expect(() => encodeSequenceNumber(0, 100_000, 0)).toThrow(RangeError);
    expect(() => encodeSequenceNumber(0, 0, 1e12)).toThrow(RangeError);
  });
});
