// Proves the JavaScript MD5 of partition keys gives node:crypto's digest byte for byte: every length around the block and padding boundaries, non-ASCII and lone surrogates, keys past the inline limit, and arbitrary strings.
import { hash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MD5_INLINE_BYTES_MAX, md5, md5Into } from "../src/md5.js";

const reference = (text: string): Buffer => hash("md5", text, "buffer");

describe("md5", () => {
  it("matches node:crypto for every ASCII length from 0 to two past the inline limit", () => {
    for (let length = 0; length <= MD5_INLINE_BYTES_MAX + 2; length++) {
      const text = "k".repeat(length);
      expect(md5(text).toString("hex"), `length ${length}`).toBe(reference(text).toString("hex"));
    }
  });

  it("matches the RFC 1321 test suite", () => {
    const suite: Array<[string, string]> = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
      ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
    ];
    for (const [text, digest] of suite) expect(md5(text).toString("hex")).toBe(digest);
  });

  it("hashes the UTF-8 bytes of non-ASCII keys, lone surrogates included, as node:crypto does", () => {
    for (const text of [
      "é",
      "日本語のキー",
      "😀".repeat(64),
      "é".repeat(384),
      "é".repeat(385),
      "\ud800",
      "a\udc00b",
      "ключ-42",
    ]) {
      expect(md5(text).equals(reference(text)), JSON.stringify(text)).toBe(true);
    }
  });

  it("matches node:crypto for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        expect(md5(text).equals(reference(text))).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it("writes into a buffer at an offset and touches only those 16 bytes", () => {
    const out = Buffer.alloc(40, 0xaa);
    md5Into("partition-key-7", out, 9);
    expect(out.subarray(9, 25).equals(reference("partition-key-7"))).toBe(true);
    expect(out.subarray(0, 9).every((byte) => byte === 0xaa)).toBe(true);
    expect(out.subarray(25).every((byte) => byte === 0xaa)).toBe(true);
  });

  it("leaves no state behind between calls: a long key, then a short one", () => {
    const long = "x".repeat(700);
    md5(long);
    expect(md5("y").equals(reference("y"))).toBe(true);
    expect(md5(long).equals(reference(long))).toBe(true);
  });
});
