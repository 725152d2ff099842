// Proves shard iterators round-trip, stay within 512 URL-safe characters, and that any altered, foreign or malformed token is INVALID_ITERATOR while an old one is ExpiredIterator.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createShardIterator,
  ExpiredIteratorError,
  GatewayErrorCode,
  InvalidArgumentError,
  ITERATOR_TTL_MS,
  readShardIterator,
  type ShardIteratorFields,
} from "../src/index.js";

const secret = randomBytes(32);
const NOW = 1_700_000_000_000;

const fields = fc.record({
  streamId: fc.integer({ min: 0, max: 0xffff_ffff }),
  streamName: fc.stringMatching(/^[a-zA-Z0-9_.-]{1,128}$/),
  shardNumber: fc.integer({ min: 0, max: 0xffff_ffff }),
  groupId: fc.integer({ min: 0, max: 0xffff_ffff }),
  index: fc.maxSafeNat(),
  offset: fc.integer({ min: 0, max: 0xffff }),
  expiresAtMs: fc.integer({ min: NOW, max: NOW + ITERATOR_TTL_MS }),
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe("shard iterators", () => {
  it("round-trip within 512 URL-safe characters", () => {
    fc.assert(
      fc.property(fields, (f: ShardIteratorFields) => {
        const token = createShardIterator(f, secret);
        expect(token.length).toBeLessThanOrEqual(512);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(readShardIterator(token, secret, NOW)).toEqual(f);
      }),
    );
  });

  it("can be reused until they expire, then fail with ExpiredIteratorError", () => {
    const f = {
      streamId: 1,
      streamName: "orders",
      shardNumber: 2,
      groupId: 3,
      index: 4,
      offset: 5,
      expiresAtMs: NOW + ITERATOR_TTL_MS,
    };
    const token = createShardIterator(f, secret);
    expect(readShardIterator(token, secret, NOW)).toEqual(f);
    expect(readShardIterator(token, secret, NOW + ITERATOR_TTL_MS)).toEqual(f);
    expect(() => readShardIterator(token, secret, NOW + ITERATOR_TTL_MS + 1)).toThrow(ExpiredIteratorError);
    expect(codeOf(() => readShardIterator(token, secret, NOW + ITERATOR_TTL_MS + 1))).toBe(
      GatewayErrorCode.ExpiredIterator,
    );
  });

  it("rejects every single-character alteration, another secret, and garbage", () => {
    const token = createShardIterator(
      {
        streamId: 9,
        streamName: "s",
        shardNumber: 1,
        groupId: 2,
        index: 3,
        offset: 0,
        expiresAtMs: NOW + 1000,
      },
      secret,
    );
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < token.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(token[i] as string) + 1) % alphabet.length] as string;
      const forged = token.slice(0, i) + replacement + token.slice(i + 1);
      expect(codeOf(() => readShardIterator(forged, secret, NOW))).toBe(GatewayErrorCode.InvalidIterator);
    }
    expect(codeOf(() => readShardIterator(token, randomBytes(32), NOW))).toBe(
      GatewayErrorCode.InvalidIterator,
    );
    for (const garbage of [
      "",
      "x",
      "AAAA",
      `${token}=`,
      `${token}A`,
      token.slice(0, -1),
      "not a token!",
      "A".repeat(513),
    ]) {
      expect(codeOf(() => readShardIterator(garbage, secret, NOW))).toBe(GatewayErrorCode.InvalidIterator);
    }
    let caught: unknown;
    try {
      readShardIterator("AAAA", secret, NOW);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as InvalidArgumentError).kinesisName).toBe("InvalidArgumentException");
  });

  it("checks the signature before the expiry (a forged old token is invalid, not expired)", () => {
    const token = createShardIterator(
      { streamId: 1, streamName: "s", shardNumber: 1, groupId: 1, index: 1, offset: 0, expiresAtMs: NOW - 1 },
      secret,
    );
    expect(codeOf(() => readShardIterator(token, randomBytes(32), NOW))).toBe(
      GatewayErrorCode.InvalidIterator,
    );
  });

  it("refuses a secret that is not 32 bytes", () => {
    const f = {
      streamId: 1,
      streamName: "s",
      shardNumber: 1,
      groupId: 1,
      index: 1,
      offset: 0,
      expiresAtMs: NOW,
    };
    expect(() => createShardIterator(f, Buffer.alloc(16))).toThrow(RangeError);
  });
});
