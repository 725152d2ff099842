/**
 * The byte layout of segment files: the segment header, frames (one per flush) and records (one
 * per entry). See README.md, "On-disk format". Encoders fill caller-provided buffers; decoders
 * check CRCs and report problems as return values, so recovery decides what a bad frame means.
 */
import { crc32 } from "node:zlib";
import { crc32Combine, entryDataChecksum } from "../checksum.js";
import {
  ENTRY_CHECKSUM_CACHE_BYTES_MIN,
  FRAME_HEADER_BYTES,
  FRAME_KIND_FLUSH,
  FRAME_MAGIC,
  RECORD_HEADER_BYTES,
  RECORD_KIND_APPEND,
  RECORD_KIND_REWRITE,
  SEGMENT_FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
} from "../constants.js";

const TWO_POW_32 = 4_294_967_296;

/** Writes a non-negative safe integer as an unsigned 64-bit little-endian value (no BigInt). */
export function writeU64(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32LE(value % TWO_POW_32, offset);
  buffer.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
}

/** Reads an unsigned 64-bit little-endian value; values above 2^53 come back as NaN-free but inexact numbers, which callers reject. */
export function readU64(buffer: Uint8Array, offset: number): number {
  const view = buffer as Buffer;
  return view.readUInt32LE(offset + 4) * TWO_POW_32 + view.readUInt32LE(offset);
}

/** CRC-32 (IEEE) from zlib, native in Node ≥ 22.2. `initial` continues an earlier CRC. */
export function checksum(data: Uint8Array, initial = 0): number {
  return crc32(data, initial);
}

// ---- Segment header ----

export function encodeSegmentHeader(segmentId: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  header.write(SEGMENT_MAGIC, 0, "latin1");
  header.writeUInt32LE(SEGMENT_FORMAT_VERSION, 8);
  writeU64(header, 16, segmentId);
  header.writeUInt32LE(checksum(header.subarray(0, SEGMENT_HEADER_BYTES - 4)), SEGMENT_HEADER_BYTES - 4);
  return header;
}

/** The segment id in a valid header, or a reason the header is not valid. */
export function decodeSegmentHeader(
  header: Buffer,
): { ok: true; segmentId: number } | { ok: false; reason: string } {
  if (header.length < SEGMENT_HEADER_BYTES) return { ok: false, reason: "short segment header" };
  if (header.toString("latin1", 0, 8) !== SEGMENT_MAGIC) return { ok: false, reason: "bad segment magic" };
  const crc = checksum(header.subarray(0, SEGMENT_HEADER_BYTES - 4));
  if (crc !== header.readUInt32LE(SEGMENT_HEADER_BYTES - 4))
    return { ok: false, reason: "bad segment header crc" };
  const version = header.readUInt32LE(8);
  if (version !== SEGMENT_FORMAT_VERSION)
    return { ok: false, reason: `unknown segment format version ${version}` };
  return { ok: true, segmentId: readU64(header, 16) };
}

// ---- Frame header ----

export interface FrameHeader {
  readonly seq: number;
  readonly recordCount: number;
  readonly bodyBytes: number;
}

export function encodeFrameHeader(target: Buffer, seq: number, recordCount: number, bodyBytes: number): void {
  target.fill(0, 0, FRAME_HEADER_BYTES);
  target.writeUInt32LE(FRAME_MAGIC, 0);
  target.writeUInt16LE(FRAME_KIND_FLUSH, 4);
  writeU64(target, 8, seq);
  target.writeUInt32LE(recordCount, 16);
  target.writeUInt32LE(bodyBytes, 20);
  target.writeUInt32LE(checksum(target.subarray(0, FRAME_HEADER_BYTES - 4)), FRAME_HEADER_BYTES - 4);
}

/** Decodes the frame header at `offset` of `buffer`, or null when the bytes are not a valid one. */
export function decodeFrameHeader(buffer: Buffer, offset: number): FrameHeader | null {
  if (buffer.readUInt32LE(offset) !== FRAME_MAGIC) return null;
  const crc = checksum(buffer.subarray(offset, offset + FRAME_HEADER_BYTES - 4));
  if (crc !== buffer.readUInt32LE(offset + FRAME_HEADER_BYTES - 4)) return null;
  if (buffer.readUInt16LE(offset + 4) !== FRAME_KIND_FLUSH) return null;
  return {
    seq: readU64(buffer, offset + 8),
    recordCount: buffer.readUInt32LE(offset + 16),
    bodyBytes: buffer.readUInt32LE(offset + 20),
  };
}

// ---- Records ----

export type RecordKind = typeof RECORD_KIND_APPEND | typeof RECORD_KIND_REWRITE;

export interface RecordHeader {
  readonly kind: RecordKind;
  readonly entryType: number;
  readonly groupId: number;
  readonly index: number;
  readonly term: number;
  readonly dataBytes: number;
}

/**
 * Fills a record header into `target` (RECORD_HEADER_BYTES long), with the CRC covering header and
 * `data`. Large data's CRC comes from entryDataChecksum (computed once per buffer, shared with
 * the transport) and is combined with the header's, so the data is not read again here.
 */
export function encodeRecordHeader(target: Buffer, record: RecordHeader, data: Uint8Array): void {
  target.writeUInt32LE(0, 0);
  target.writeUInt8(record.kind, 4);
  target.writeUInt8(record.entryType, 5);
  target.writeUInt16LE(0, 6);
  writeU64(target, 8, record.groupId);
  writeU64(target, 16, record.index);
  writeU64(target, 24, record.term);
  target.writeUInt32LE(data.length, 32);
  const headerCrc = checksum(target.subarray(4, RECORD_HEADER_BYTES));
  const crc =
    data.byteLength >= ENTRY_CHECKSUM_CACHE_BYTES_MIN
      ? crc32Combine(headerCrc, entryDataChecksum(data), data.byteLength)
      : checksum(data, headerCrc);
  target.writeUInt32LE(crc, 0);
}

/**
 * Decodes and checks the record at `offset` of `buffer`, whose readable bytes end at `end`.
 * Returns null when the record is short or its CRC does not match.
 */
export function decodeRecord(buffer: Buffer, offset: number, end: number): RecordHeader | null {
  if (end - offset < RECORD_HEADER_BYTES) return null;
  const dataBytes = buffer.readUInt32LE(offset + 32);
  if (end - offset - RECORD_HEADER_BYTES < dataBytes) return null;
  const crc = checksum(
    buffer.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + dataBytes),
    checksum(buffer.subarray(offset + 4, offset + RECORD_HEADER_BYTES)),
  );
  if (crc !== buffer.readUInt32LE(offset)) return null;
  const kind = buffer.readUInt8(offset + 4);
  if (kind !== RECORD_KIND_APPEND && kind !== RECORD_KIND_REWRITE) return null;
  return {
    kind,
    entryType: buffer.readUInt8(offset + 5),
    groupId: readU64(buffer, offset + 8),
    index: readU64(buffer, offset + 16),
    term: readU64(buffer, offset + 24),
    dataBytes,
  };
}
