/**
 * The AWS event-stream framing (`application/vnd.amazon.eventstream`), what SubscribeToShard
 * answers with. One message:
 *
 *   total length u32 BE | headers length u32 BE | CRC32 of those 8 bytes |
 *   headers | payload | CRC32 of everything before it
 *
 * A header is: name length u8, name (UTF-8), value type u8, value. This server writes string
 * headers only (type 7: length u16 BE, UTF-8); the decoder reads every type the format has so a
 * test can read what any peer writes. CRC32 is the IEEE polynomial (zlib's).
 *
 * `encodeEventStreamMessage` returns a fresh Buffer the caller owns. `EventStreamDecoder` takes
 * chunks as they arrive and returns whole messages; it throws EventStreamError on a bad length,
 * a CRC mismatch or a malformed header, and the stream cannot be read past that point.
 */
import { crc32 } from "node:zlib";
import { EVENT_STREAM_HEADERS_BYTES_MAX, EVENT_STREAM_MESSAGE_BYTES_MAX } from "./constants.js";

/** Stable codes of event-stream decoding failures. */
export const EventStreamErrorCode = {
  /** A length out of bounds, or headers longer than the message. */
  BadLength: "EVENT_STREAM_BAD_LENGTH",
  /** The prelude's or the message's CRC32 does not match. */
  BadChecksum: "EVENT_STREAM_BAD_CHECKSUM",
  /** A header runs past the headers section or has an unknown value type. */
  BadHeader: "EVENT_STREAM_BAD_HEADER",
} as const;
export type EventStreamErrorCode = (typeof EventStreamErrorCode)[keyof typeof EventStreamErrorCode];

export class EventStreamError extends Error {
  override readonly name = "EventStreamError";
  readonly code: EventStreamErrorCode;
  readonly retriable = false;
  constructor(code: EventStreamErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A header value as decoded: strings, booleans, numbers, bytes (6), timestamps (8, as Date), UUIDs (9, as hex). */
export type EventStreamHeaderValue = string | boolean | number | bigint | Buffer | Date;

export interface EventStreamMessage {
  readonly headers: Readonly<Record<string, EventStreamHeaderValue>>;
  readonly payload: Buffer;
}

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
/** The smallest message: prelude and message CRC, no headers, no payload. */
export const EVENT_STREAM_MESSAGE_BYTES_MIN = PRELUDE_BYTES + CRC_BYTES;
const HEADER_TYPE_STRING = 7;
const HEADER_NAME_BYTES_MAX = 255;
const HEADER_STRING_BYTES_MAX = 32_767;

/**
 * One message with string headers. Throws RangeError when a header name or value, the headers or
 * the message exceed the format's limits (a bug of the caller: events are bounded upstream).
 */
export function encodeEventStreamMessage(
  headers: Readonly<Record<string, string>>,
  payload: Uint8Array,
): Buffer {
  const encoded: [Buffer, Buffer][] = [];
  let headersBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    const nameBytes = Buffer.from(name, "utf8");
    const valueBytes = Buffer.from(value, "utf8");
    if (nameBytes.length > HEADER_NAME_BYTES_MAX || valueBytes.length > HEADER_STRING_BYTES_MAX) {
      throw new RangeError(`event-stream header ${name} is over the format's limits`);
    }
    encoded.push([nameBytes, valueBytes]);
    headersBytes += 1 + nameBytes.length + 1 + 2 + valueBytes.length;
  }
  const total = PRELUDE_BYTES + headersBytes + payload.length + CRC_BYTES;
  if (headersBytes > EVENT_STREAM_HEADERS_BYTES_MAX || total > EVENT_STREAM_MESSAGE_BYTES_MAX) {
    throw new RangeError(`an event-stream message of ${total} bytes is over the format's limits`);
  }
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headersBytes, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  let at = PRELUDE_BYTES;
  for (const [nameBytes, valueBytes] of encoded) {
    out[at++] = nameBytes.length;
    at += nameBytes.copy(out, at);
    out[at++] = HEADER_TYPE_STRING;
    out.writeUInt16BE(valueBytes.length, at);
    at += 2;
    at += valueBytes.copy(out, at);
  }
  out.set(payload, at);
  at += payload.length;
  out.writeUInt32BE(crc32(out.subarray(0, at)), at);
  return out;
}

/** Reads messages out of a byte stream delivered in arbitrary chunks. */
export class EventStreamDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Bytes received but not yet part of a whole message. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Appends `chunk` and returns every message now complete, in order. */
  push(chunk: Buffer): EventStreamMessage[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: EventStreamMessage[] = [];
    while (this.pending.length >= PRELUDE_BYTES) {
      const total = this.pending.readUInt32BE(0);
      const headersBytes = this.pending.readUInt32BE(4);
      if (crc32(this.pending.subarray(0, 8)) !== this.pending.readUInt32BE(8)) {
        throw new EventStreamError(EventStreamErrorCode.BadChecksum, "the prelude's CRC32 does not match");
      }
      if (
        total < EVENT_STREAM_MESSAGE_BYTES_MIN ||
        total > EVENT_STREAM_MESSAGE_BYTES_MAX ||
        headersBytes > EVENT_STREAM_HEADERS_BYTES_MAX ||
        headersBytes > total - EVENT_STREAM_MESSAGE_BYTES_MIN
      ) {
        throw new EventStreamError(
          EventStreamErrorCode.BadLength,
          `a message of ${total} bytes with ${headersBytes} bytes of headers is out of bounds`,
        );
      }
      if (this.pending.length < total) break;
      const message = this.pending.subarray(0, total);
      this.pending = this.pending.subarray(total);
      if (crc32(message.subarray(0, total - CRC_BYTES)) !== message.readUInt32BE(total - CRC_BYTES)) {
        throw new EventStreamError(EventStreamErrorCode.BadChecksum, "the message's CRC32 does not match");
      }
      messages.push({
        headers: decodeHeaders(message.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headersBytes)),
        payload: message.subarray(PRELUDE_BYTES + headersBytes, total - CRC_BYTES),
      });
    }
    return messages;
  }
}

function decodeHeaders(bytes: Buffer): Record<string, EventStreamHeaderValue> {
  const out: Record<string, EventStreamHeaderValue> = Object.create(null);
  let at = 0;
  const need = (count: number): void => {
    if (bytes.length - at < count) {
      throw new EventStreamError(EventStreamErrorCode.BadHeader, "a header runs past the headers section");
    }
  };
  while (at < bytes.length) {
    const nameLength = bytes[at++] as number;
    need(nameLength + 1);
    const name = bytes.toString("utf8", at, at + nameLength);
    at += nameLength;
    const type = bytes[at++] as number;
    let value: EventStreamHeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = type === 0;
        break;
      case 2:
        need(1);
        value = bytes.readInt8(at);
        at += 1;
        break;
      case 3:
        need(2);
        value = bytes.readInt16BE(at);
        at += 2;
        break;
      case 4:
        need(4);
        value = bytes.readInt32BE(at);
        at += 4;
        break;
      case 5:
        need(8);
        value = bytes.readBigInt64BE(at);
        at += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const length = bytes.readUInt16BE(at);
        at += 2;
        need(length);
        value = type === 6 ? bytes.subarray(at, at + length) : bytes.toString("utf8", at, at + length);
        at += length;
        break;
      }
      case 8:
        need(8);
        value = new Date(Number(bytes.readBigInt64BE(at)));
        at += 8;
        break;
      case 9:
        need(16);
        value = bytes.toString("hex", at, at + 16);
        at += 16;
        break;
      default:
        throw new EventStreamError(
          EventStreamErrorCode.BadHeader,
          `header ${name} has unknown value type ${type}`,
        );
    }
    out[name] = value;
  }
  return out;
}
