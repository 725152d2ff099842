/**
 * A compact CBOR (RFC 8949) encoder and decoder for the Kinesis HTTP API's
 * `application/x-amz-cbor-1.1` bodies — written here rather than taken from a package because the
 * protocol needs a small subset (maps with text keys, arrays, text and byte strings, integers,
 * floats, booleans, null, tag 1) and the decoder must refuse hostile input with a typed error,
 * never a crash or an allocation the input did not pay for.
 *
 * Decoding reads what the AWS SDKs send (the SDK for Java v2 writes through Jackson's CBOR
 * generator: indefinite-length maps and arrays are common): definite and indefinite lengths,
 * half/single/double floats, 64-bit integers (as numbers; past 2^53 they lose precision, and the
 * shape walker refuses them as not safe integers), tags (`CborTag`; tag 1 is a timestamp). Byte
 * strings come back as Buffers that are VIEWS of the input: the caller must not reuse the input
 * buffer while they live. Maps come back as objects without a prototype (a `__proto__` key is an
 * ordinary member). Every length is checked against the bytes left before anything is allocated,
 * nesting is bounded by CBOR_NESTING_DEPTH_MAX, and bytes after the top-level item are refused.
 *
 * Encoding writes the shortest integer forms, definite lengths, doubles for non-integers, Buffers
 * as byte strings, `CborTag` as a tag, plain objects as maps with text keys (undefined members
 * left out).
 */
import { CBOR_NESTING_DEPTH_MAX } from "./constants.js";

/** Stable codes of CBOR decoding failures. */
export const CborErrorCode = {
  /** The input ends inside an item. */
  Truncated: "CBOR_TRUNCATED",
  /** Reserved additional information, a break outside an indefinite item, a chunk of the wrong type, a non-text map key, bytes after the item. */
  Malformed: "CBOR_MALFORMED",
  /** Text that is not valid UTF-8. */
  InvalidUtf8: "CBOR_INVALID_UTF8",
  /** Arrays, maps and tags nested deeper than CBOR_NESTING_DEPTH_MAX. */
  TooDeep: "CBOR_TOO_DEEP",
} as const;
export type CborErrorCode = (typeof CborErrorCode)[keyof typeof CborErrorCode];

/** Input that is not one well-formed CBOR item. Never retriable: the same bytes fail the same way. */
export class CborError extends Error {
  override readonly name = "CborError";
  readonly code: CborErrorCode;
  readonly retriable = false;
  /** Byte offset in the input where decoding stopped. */
  readonly offset: number;
  constructor(code: CborErrorCode, message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.code = code;
    this.offset = offset;
  }
}

/** A tagged item (major type 6). Tag 1 is an epoch-based date/time; AWS's CBOR puts epoch milliseconds in it. */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

/** The CBOR tag of an epoch-based date/time. */
export const CBOR_TAG_EPOCH_TIME = 1;

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;
const INDEFINITE = 31;
const BREAK = 0xff;
const TWO_POW_32 = 4_294_967_296;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes exactly one CBOR item from `input`; throws CborError when it is not one well-formed item. */
export function decodeCbor(input: Buffer): unknown {
  const decoder = new Decoder(input);
  const value = decoder.item(0);
  if (decoder.offset !== input.length) {
    throw new CborError(
      CborErrorCode.Malformed,
      `${input.length - decoder.offset} bytes follow the top-level item`,
      decoder.offset,
    );
  }
  return value;
}

class Decoder {
  offset = 0;
  constructor(private readonly input: Buffer) {}

  private need(bytes: number): void {
    if (this.input.length - this.offset < bytes) {
      throw new CborError(
        CborErrorCode.Truncated,
        `the input ends inside an item (${bytes} more bytes needed, ${this.input.length - this.offset} left)`,
        this.offset,
      );
    }
  }

  /** The argument of an initial byte's additional information `info` (not 31). */
  private argument(info: number): number {
    if (info < 24) return info;
    const input = this.input;
    switch (info) {
      case 24:
        this.need(1);
        return input[this.offset++] as number;
      case 25: {
        this.need(2);
        const value = input.readUInt16BE(this.offset);
        this.offset += 2;
        return value;
      }
      case 26: {
        this.need(4);
        const value = input.readUInt32BE(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.need(8);
        const value = input.readUInt32BE(this.offset) * TWO_POW_32 + input.readUInt32BE(this.offset + 4);
        this.offset += 8;
        return value;
      }
      default:
        throw new CborError(
          CborErrorCode.Malformed,
          `reserved additional information ${info}`,
          this.offset - 1,
        );
    }
  }

  /** A definite length, checked against the bytes left (each element takes at least `unitBytes`). */
  private length(info: number, unitBytes: number): number {
    const at = this.offset;
    const length = this.argument(info);
    if (length * unitBytes > this.input.length - this.offset) {
      throw new CborError(
        CborErrorCode.Truncated,
        `a length of ${length} is more than the ${this.input.length - this.offset} bytes left`,
        at,
      );
    }
    return length;
  }

  private isBreak(): boolean {
    this.need(1);
    if (this.input[this.offset] !== BREAK) return false;
    this.offset += 1;
    return true;
  }

  item(depth: number): unknown {
    this.need(1);
    const start = this.offset;
    const initial = this.input[this.offset++] as number;
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case MAJOR_UNSIGNED:
        if (info === INDEFINITE) break;
        return this.argument(info);
      case MAJOR_NEGATIVE:
        if (info === INDEFINITE) break;
        return -1 - this.argument(info);
      case MAJOR_BYTES:
      case MAJOR_TEXT: {
        if (info !== INDEFINITE) return this.string(major, this.length(info, 1));
        const chunks: Buffer[] = [];
        while (!this.isBreak()) {
          const chunkAt = this.offset;
          const head = this.input[this.offset++] as number;
          if (head >> 5 !== major || (head & 0x1f) === INDEFINITE) {
            throw new CborError(
              CborErrorCode.Malformed,
              "a chunk of an indefinite-length string is not a definite string of the same type",
              chunkAt,
            );
          }
          const length = this.length(head & 0x1f, 1);
          chunks.push(this.input.subarray(this.offset, this.offset + length));
          this.offset += length;
        }
        const joined = Buffer.concat(chunks);
        return major === MAJOR_BYTES ? joined : this.text(joined, start);
      }
      case MAJOR_ARRAY: {
        this.deeper(depth, start);
        if (info === INDEFINITE) {
          const out: unknown[] = [];
          while (!this.isBreak()) out.push(this.item(depth + 1));
          return out;
        }
        const length = this.length(info, 1);
        const out = new Array<unknown>(length);
        for (let i = 0; i < length; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case MAJOR_MAP: {
        this.deeper(depth, start);
        const out: Record<string, unknown> = Object.create(null);
        if (info === INDEFINITE) {
          while (!this.isBreak()) this.entry(out, depth);
          return out;
        }
        const length = this.length(info, 2);
        for (let i = 0; i < length; i++) this.entry(out, depth);
        return out;
      }
      case MAJOR_TAG: {
        if (info === INDEFINITE) break;
        const tag = this.argument(info);
        this.deeper(depth, start);
        return new CborTag(tag, this.item(depth + 1));
      }
      case MAJOR_SIMPLE:
        return this.simple(info, start);
    }
    throw new CborError(
      CborErrorCode.Malformed,
      `major type ${major} cannot have an indefinite length`,
      start,
    );
  }

  private deeper(depth: number, at: number): void {
    if (depth >= CBOR_NESTING_DEPTH_MAX) {
      throw new CborError(
        CborErrorCode.TooDeep,
        `items are nested deeper than ${CBOR_NESTING_DEPTH_MAX} levels`,
        at,
      );
    }
  }

  private entry(out: Record<string, unknown>, depth: number): void {
    const keyAt = this.offset;
    const key = this.item(depth + 1);
    if (typeof key !== "string") {
      throw new CborError(CborErrorCode.Malformed, "a map key is not a text string", keyAt);
    }
    out[key] = this.item(depth + 1);
  }

  private string(major: number, length: number): Buffer | string {
    const at = this.offset;
    const bytes = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return major === MAJOR_BYTES ? bytes : this.text(bytes, at);
  }

  private text(bytes: Buffer, at: number): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new CborError(CborErrorCode.InvalidUtf8, "a text string is not valid UTF-8", at);
    }
  }

  private simple(info: number, at: number): unknown {
    const input = this.input;
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
      case 23: // undefined: read as absent, like null
        return null;
      case 25: {
        this.need(2);
        const value = halfToNumber(input.readUInt16BE(this.offset));
        this.offset += 2;
        return value;
      }
      case 26: {
        this.need(4);
        const value = input.readFloatBE(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.need(8);
        const value = input.readDoubleBE(this.offset);
        this.offset += 8;
        return value;
      }
      case INDEFINITE:
        throw new CborError(CborErrorCode.Malformed, "a break outside an indefinite-length item", at);
      default:
        throw new CborError(CborErrorCode.Malformed, `simple value ${info} is not supported`, at);
    }
  }
}

function halfToNumber(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  const sign = half & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Encodes a document as CBOR. Throws TypeError for a value it has no form for (a function, a symbol). */
export function encodeCbor(value: unknown): Buffer {
  const encoder = new Encoder();
  encoder.value(value);
  return encoder.finish();
}

const ENCODER_INITIAL_BYTES = 256;

class Encoder {
  private buffer = Buffer.allocUnsafe(ENCODER_INITIAL_BYTES);
  private offset = 0;

  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.offset + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  /** An initial byte with the shortest argument form for `argument` (a non-negative integer ≤ 2^64-1). */
  private head(major: number, argument: number): void {
    this.reserve(9);
    const buffer = this.buffer;
    const type = major << 5;
    if (argument < 24) {
      buffer[this.offset++] = type | argument;
    } else if (argument < 0x100) {
      buffer[this.offset++] = type | 24;
      buffer[this.offset++] = argument;
    } else if (argument < 0x1_0000) {
      buffer[this.offset++] = type | 25;
      buffer.writeUInt16BE(argument, this.offset);
      this.offset += 2;
    } else if (argument < TWO_POW_32) {
      buffer[this.offset++] = type | 26;
      buffer.writeUInt32BE(argument, this.offset);
      this.offset += 4;
    } else {
      buffer[this.offset++] = type | 27;
      buffer.writeUInt32BE(Math.floor(argument / TWO_POW_32), this.offset);
      buffer.writeUInt32BE(argument % TWO_POW_32, this.offset + 4);
      this.offset += 8;
    }
  }

  private bytes(major: number, bytes: Uint8Array): void {
    this.head(major, bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  private text(text: string): void {
    const length = Buffer.byteLength(text, "utf8");
    this.head(MAJOR_TEXT, length);
    this.reserve(length);
    this.offset += this.buffer.write(text, this.offset, length, "utf8");
  }

  value(value: unknown): void {
    switch (typeof value) {
      case "string":
        this.text(value);
        return;
      case "number":
        // -0 is an integer to JavaScript but not to CBOR: it goes out as a float so it comes back -0.
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
          if (value >= 0) this.head(MAJOR_UNSIGNED, value);
          else this.head(MAJOR_NEGATIVE, -1 - value);
        } else {
          this.reserve(9);
          this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | 27;
          this.buffer.writeDoubleBE(value, this.offset);
          this.offset += 8;
        }
        return;
      case "bigint":
        if (value >= 0n) this.head(MAJOR_UNSIGNED, Number(value));
        else this.head(MAJOR_NEGATIVE, Number(-1n - value));
        return;
      case "boolean":
        this.reserve(1);
        this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | (value ? 21 : 20);
        return;
      case "undefined":
        this.reserve(1);
        this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | 22;
        return;
      case "object": {
        if (value === null) {
          this.reserve(1);
          this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | 22;
        } else if (value instanceof Uint8Array) {
          this.bytes(MAJOR_BYTES, value);
        } else if (Array.isArray(value)) {
          this.head(MAJOR_ARRAY, value.length);
          for (const entry of value) this.value(entry);
        } else if (value instanceof CborTag) {
          this.head(MAJOR_TAG, value.tag);
          this.value(value.value);
        } else {
          const record = value as Record<string, unknown>;
          const keys = Object.keys(record).filter((key) => record[key] !== undefined);
          this.head(MAJOR_MAP, keys.length);
          for (const key of keys) {
            this.text(key);
            this.value(record[key]);
          }
        }
        return;
      }
      default:
        throw new TypeError(`CBOR has no form for a ${typeof value}`);
    }
  }
}
