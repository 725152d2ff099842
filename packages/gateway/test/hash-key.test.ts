// Proves hash keys convert between 16 bytes and canonical decimals exactly as BigInt would, refuse non-canonical and out-of-range input, and hash partition keys with MD5.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compareHashKeys,
  formatHashKey,
  HASH_KEY_MAX,
  HASH_KEY_MAX_DECIMAL,
  parseHashKey,
  partitionKeyHash,
} from "../src/index.js";

const toBigInt = (bytes: Buffer): bigint => BigInt(`0x${bytes.toString("hex")}`);
const fromBigInt = (value: bigint): Buffer => Buffer.from(value.toString(16).padStart(32, "0"), "hex");
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));

describe("hash keys", () => {
  it("format and parse agree with BigInt and invert each other", () => {
    fc.assert(
      fc.property(bytes16, (bytes) => {
        const decimal = formatHashKey(bytes);
        expect(decimal).toBe(toBigInt(bytes).toString());
        expect(parseHashKey(decimal)?.equals(bytes)).toBe(true);
      }),
    );
  });

  it("parses every canonical decimal in range like BigInt", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
        expect(parseHashKey(value.toString())?.equals(fromBigInt(value))).toBe(true);
      }),
    );
  });

  it("handles the bounds", () => {
    expect(formatHashKey(Buffer.alloc(16))).toBe("0");
    expect(formatHashKey(HASH_KEY_MAX)).toBe(HASH_KEY_MAX_DECIMAL);
    expect(parseHashKey(HASH_KEY_MAX_DECIMAL)?.equals(HASH_KEY_MAX)).toBe(true);
    expect(parseHashKey("0")?.equals(Buffer.alloc(16))).toBe(true);
  });

  it("refuses values above 2^128 - 1 and non-canonical strings", () => {
    expect(parseHashKey(((1n << 128n) + 0n).toString())).toBeNull();
    expect(parseHashKey("999999999999999999999999999999999999999")).toBeNull();
    for (const bad of ["", "00", "01", "-1", "1.5", " 1", "1e3", "１", "1".repeat(40)]) {
      expect(parseHashKey(bad)).toBeNull();
    }
  });

  it("orders keys numerically", () => {
    fc.assert(
      fc.property(bytes16, bytes16, (a, b) => {
        const expected = toBigInt(a) < toBigInt(b) ? -1 : toBigInt(a) > toBigInt(b) ? 1 : 0;
        expect(Math.sign(compareHashKeys(a, b))).toBe(expected);
      }),
    );
  });

  it("hashes the partition key's UTF-8 bytes with MD5", () => {
    expect(partitionKeyHash("").toString("hex")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(partitionKeyHash("a").toString("hex")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(partitionKeyHash("é").equals(partitionKeyHash("\u00e9"))).toBe(true);
    expect(partitionKeyHash("é")).toHaveLength(16);
  });
});
