// Proves the peer codec round-trips every message type (snapshots and large entries included),
// keeps heartbeats to a few bytes, decodes entry data without copying, and rejects garbled or
// hostile frames with a typed error only; the CRC trailer, built by combining each large entry's
// shared checksum, is the plain CRC-32 of the frame.
import { crc32 } from "node:zlib";
import { entryDataChecksum } from "@sluice/storage";
import fc from "fast-check";
import { type Entry, type Message, MessageType, type Snapshot } from "raft-ts";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodedMessageBytes, encodeFrame, FrameEncoder } from "../src/transport/codec.js";
import { FrameTooLargeError, TransportError } from "../src/transport/errors.js";
import type { GroupMessage } from "../src/transport/transport.js";
import { groupMessage, message } from "./transport-fixtures.js";

const uint = (max = Number.MAX_SAFE_INTEGER) =>
  fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max }));
const nodeId = fc.integer({ min: 1, max: 2 ** 40 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: uint(),
  index: uint(),
  type: fc.constantFrom(0 as const, 1 as const),
  data: fc.oneof({ weight: 5, arbitrary: bytes(64) }, { weight: 1, arbitrary: bytes(70_000) }),
});

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: uint(),
    term: uint(),
    confState: fc.record({
      voters: fc.array(nodeId, { maxLength: 5 }),
      learners: fc.array(nodeId, { maxLength: 3 }),
    }),
  }),
  data: bytes(5000),
});

const messageArb = (from: number, to: number): fc.Arbitrary<Message> =>
  fc.record({
    type: fc.integer({ min: 0, max: 18 }) as fc.Arbitrary<MessageType>,
    from: fc.oneof(fc.constant(from), nodeId),
    to: fc.oneof(fc.constant(to), nodeId),
    term: uint(),
    logTerm: uint(),
    index: uint(),
    entries: fc.array(entryArb, { maxLength: 4 }),
    commit: uint(),
    reject: fc.boolean(),
    rejectHint: uint(),
    rejectHintTerm: uint(),
    snapshot: fc.option(snapshotArb, { nil: null, freq: 4 }),
    context: bytes(16),
  });

const batchArb = (from: number, to: number): fc.Arbitrary<GroupMessage[]> =>
  fc.array(fc.record({ groupId: fc.integer({ min: 0, max: 0xffff_ffff }), message: messageArb(from, to) }), {
    maxLength: 12,
  });

/** Plain-data view for deep equality: Buffers and Uint8Arrays compare by content. */
function plain(messages: readonly GroupMessage[]): unknown {
  return messages.map((gm) => ({
    ...gm,
    message: {
      ...gm.message,
      context: [...gm.message.context],
      entries: gm.message.entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString("base64") })),
      snapshot:
        gm.message.snapshot === null
          ? null
          : { ...gm.message.snapshot, data: Buffer.from(gm.message.snapshot.data).toString("base64") },
    },
  }));
}

/** Re-seals a frame after tampering, so the parser (not the checksum) meets the damage. */
function reseal(frame: Uint8Array): Uint8Array {
  const copy = Buffer.from(frame);
  if (copy.length >= 4) copy.writeUInt32LE(crc32(copy.subarray(0, copy.length - 4)), copy.length - 4);
  return copy;
}

function decodesOrThrowsTyped(frame: Uint8Array): void {
  try {
    decodeFrame(frame);
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
  }
}

describe("peer codec", () => {
  it("round-trips arbitrary batches of every message type", () => {
    fc.assert(
      fc.property(batchArb(3, 5), (batch) => {
        const frame = encodeFrame(3, 5, batch);
        const decoded = decodeFrame(frame);
        expect(decoded.from).toBe(3);
        expect(decoded.to).toBe(5);
        expect(plain(decoded.messages)).toEqual(plain(batch));
        let total = 0;
        for (const gm of batch) total += encodedMessageBytes(gm, 3, 5);
        expect(frame.length).toBe(total + 10);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a coalesced heartbeat to a few bytes per group", () => {
    const heartbeats = Array.from({ length: 1000 }, (_, group) =>
      groupMessage(
        group + 1,
        message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 7, commit: 123_456 }),
      ),
    );
    const frame = encodeFrame(1, 2, heartbeats);
    expect(frame.length / 1000).toBeLessThan(8);
    const responses = heartbeats.map((gm) =>
      groupMessage(gm.groupId, message({ type: MessageType.HeartbeatResp, from: 1, to: 2, term: 7 })),
    );
    expect(encodeFrame(1, 2, responses).length / 1000).toBeLessThan(6);
    expect(decodeFrame(frame).messages).toHaveLength(1000);
  });

  it("copies out an entry that is a small part of its frame, so caches holding it do not pin the frame", () => {
    const data = (fill: number) => new Uint8Array(16_384).fill(fill);
    const frame = encodeFrame(
      1,
      2,
      [4, 5, 6, 7].map((groupId) =>
        groupMessage(
          groupId,
          message({
            type: MessageType.App,
            from: 1,
            to: 2,
            entries: [{ term: 1, index: 2, type: 0, data: data(groupId) }],
          }),
        ),
      ),
    );
    const decoded = decodeFrame(frame).messages.map((m) => m.message.entries[0]?.data as Uint8Array);
    expect(decoded.map((d) => d[0])).toEqual([4, 5, 6, 7]);
    for (const d of decoded) {
      expect(d.buffer).not.toBe(frame.buffer);
      expect(d.buffer.byteLength).toBeLessThanOrEqual(2 * d.byteLength);
      expect(Buffer.from(d).equals(Buffer.from(data(d[0] as number)))).toBe(true);
    }
  });

  it("decodes entry data as views of the frame, not copies, when the entry is most of it", () => {
    const data = new Uint8Array(65_536).fill(9);
    const frame = encodeFrame(1, 2, [
      groupMessage(
        4,
        message({ type: MessageType.App, from: 1, to: 2, entries: [{ term: 1, index: 2, type: 0, data }] }),
      ),
    ]);
    const decoded = decodeFrame(frame).messages[0]?.message.entries[0]?.data;
    expect(decoded?.buffer).toBe(frame.buffer);
    expect(decoded?.byteLength).toBe(65_536);
  });

  it("encodes the same frames in chunks, referencing large entries, whatever the buffer growth", () => {
    fc.assert(
      fc.property(batchArb(3, 5), fc.integer({ min: 1, max: 64 }), (batch, initialBytes) => {
        const encoder = new FrameEncoder(3, 5, undefined, 3, initialBytes);
        for (const gm of batch) encoder.append(gm);
        const { chunks, length } = encoder.sealChunks();
        expect(chunks.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(length);
        const frame = Buffer.concat(chunks).subarray(3);
        expect(frame.equals(encodeFrame(3, 5, batch))).toBe(true);
        const large = batch.flatMap((gm) => gm.message.entries.filter((e) => e.data.byteLength >= 4096));
        for (const e of large) expect(chunks.some((chunk) => chunk.buffer === e.data.buffer)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("writes the plain CRC-32 of the frame while combining large entries' shared checksums", () => {
    const entries: Entry[] = [4_095, 4_096, 65_536, 10].map((length, position) => ({
      term: 2,
      index: position + 1,
      type: 0,
      data: new Uint8Array(length).fill(position + 1),
    }));
    const batch = [1, 2].map((group) =>
      groupMessage(group, message({ type: MessageType.App, from: 1, to: 2, commit: 9, entries })),
    );
    const encoder = new FrameEncoder(1, 2, undefined, 6, 64); // headroom, and a buffer that must grow
    for (const gm of batch) encoder.append(gm);
    const frame = encoder.seal().subarray(6);
    const end = frame.length - 4;
    expect(frame.readUInt32LE(end)).toBe(crc32(frame.subarray(0, end)));
    const decoded = decodeFrame(frame).messages[1]?.message.entries[2]?.data as Uint8Array;
    expect(entryDataChecksum(decoded)).toBe(crc32(decoded));
    // Damage inside a large entry is a checksum mismatch, not a parse error.
    const damaged = Buffer.from(frame);
    damaged[end - 2_000] = (damaged[end - 2_000] as number) ^ 0x10;
    expect(() => decodeFrame(damaged)).toThrow(/checksum mismatch/);
  });

  it("starts a new frame when a message would overflow the bound", () => {
    const encoder = new FrameEncoder(1, 2, 1024);
    const big = groupMessage(
      1,
      message({
        type: MessageType.App,
        from: 1,
        to: 2,
        entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array(600) }],
      }),
    );
    const size = encodedMessageBytes(big, 1, 2);
    expect(encoder.fits(size)).toBe(true);
    encoder.append(big, size);
    expect(encoder.fits(size)).toBe(false);
    expect(() => encoder.append(big, size)).toThrow(FrameTooLargeError);
    expect(decodeFrame(encoder.seal()).messages).toHaveLength(1);
    expect(encoder.messageCount).toBe(0);
  });

  it("rejects random bytes with a typed error", () => {
    fc.assert(
      fc.property(bytes(300), fc.boolean(), (garbage, sealed) => {
        decodesOrThrowsTyped(sealed ? reseal(garbage) : garbage);
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects damaged valid frames (flipped, cut, extended) with a typed error", () => {
    fc.assert(
      fc.property(
        batchArb(1, 2),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -8, max: 8 }),
        (batch, flips, resize) => {
          const original = encodeFrame(1, 2, batch);
          const frame = Buffer.from(original);
          for (const [at, mask] of flips)
            frame[at % frame.length] = (frame[at % frame.length] as number) ^ mask;
          // With the checksum kept, damage must be caught by it (two flips may cancel out).
          if (!frame.equals(original)) expect(() => decodeFrame(frame)).toThrow(TransportError);
          // Re-sealed, the parser must catch it or decode something well-formed.
          decodesOrThrowsTyped(reseal(frame));
          const cut =
            resize < 0
              ? frame.subarray(0, Math.max(0, frame.length + resize))
              : Buffer.concat([frame, Buffer.alloc(resize)]);
          decodesOrThrowsTyped(reseal(cut));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses lengths and counts larger than the frame without allocating them", () => {
    // version 1, flags 0, count 65535, from 1, to 2, then a message claiming a 2^50-byte context.
    const header = [1, 0, 0xff, 0xff, 1, 2];
    expect(() => decodeFrame(reseal(new Uint8Array([...header, 0, 0, 0, 0])))).toThrow(/cannot fit/);
    const hugeContext = [1, 0, 1, 0, 1, 2, 3, 0x80, 0x04, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    expect(() => decodeFrame(reseal(new Uint8Array([...hugeContext, 0, 0, 0, 0])))).toThrow(/overruns/);
  });
});
