// Proves event-stream messages are framed as the format says (lengths, prelude and message CRC32, string headers), decode back from any chunking, and that corrupt, truncated or random input fails with a typed EventStreamError, never a crash.
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventStreamDecoder, EventStreamError, encodeEventStreamMessage } from "../src/http/event-stream.js";

const headers = {
  ":message-type": "event",
  ":event-type": "SubscribeToShardEvent",
  ":content-type": "application/json",
};

describe("event-stream messages", () => {
  it("lays out the prelude, headers, payload and CRCs", () => {
    const payload = Buffer.from('{"Records":[]}');
    const message = encodeEventStreamMessage({ ":message-type": "event" }, payload);
    const headersBytes = 1 + ":message-type".length + 1 + 2 + "event".length;
    expect(message.readUInt32BE(0)).toBe(message.length);
    expect(message.readUInt32BE(4)).toBe(headersBytes);
    expect(message.readUInt32BE(8)).toBe(crc32(message.subarray(0, 8)));
    expect(message[12]).toBe(":message-type".length);
    expect(message.subarray(13, 26).toString()).toBe(":message-type");
    expect(message[26]).toBe(7); // string
    expect(message.readUInt16BE(27)).toBe(5);
    expect(message.subarray(12 + headersBytes, message.length - 4)).toEqual(payload);
    expect(message.readUInt32BE(message.length - 4)).toBe(crc32(message.subarray(0, message.length - 4)));
  });

  it("decodes a stream of messages from any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        (payloads, cuts) => {
          const wire = Buffer.concat(payloads.map((p) => encodeEventStreamMessage(headers, p)));
          const decoder = new EventStreamDecoder();
          const got: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < wire.length; i++) {
            const size = cuts[i % cuts.length] as number;
            for (const message of decoder.push(wire.subarray(at, at + size))) {
              expect(message.headers).toEqual(headers);
              got.push(message.payload);
            }
            at += size;
          }
          expect(got).toEqual(payloads.map((p) => Buffer.from(p)));
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it("refuses a flipped bit with a checksum or length error", () => {
    const message = encodeEventStreamMessage(headers, Buffer.from("payload"));
    for (let bit = 0; bit < message.length * 8; bit += 7) {
      const copy = Buffer.from(message);
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(() => new EventStreamDecoder().push(copy)).toThrowError(EventStreamError);
    }
  });

  it("answers random input with EventStreamError or a wait for more bytes (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          expect(new EventStreamDecoder().push(Buffer.from(bytes))).toEqual([]);
        } catch (error) {
          expect(error).toBeInstanceOf(EventStreamError);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("answers random header sections inside valid framing with EventStreamError or headers (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (headerBytes) => {
        const total = 16 + headerBytes.length;
        const raw = Buffer.alloc(total);
        raw.writeUInt32BE(total, 0);
        raw.writeUInt32BE(headerBytes.length, 4);
        raw.writeUInt32BE(crc32(raw.subarray(0, 8)), 8);
        raw.set(headerBytes, 12);
        raw.writeUInt32BE(crc32(raw.subarray(0, total - 4)), total - 4);
        try {
          expect(new EventStreamDecoder().push(raw)).toHaveLength(1);
        } catch (error) {
          expect(error).toBeInstanceOf(EventStreamError);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("refuses headers over the format's limits when encoding", () => {
    expect(() => encodeEventStreamMessage({ x: "v".repeat(40_000) }, Buffer.alloc(0))).toThrowError(
      RangeError,
    );
  });
});
