/**
 * Reads a segment file front to back on open, checking every frame header and every record CRC,
 * and reports the records of each complete frame in journal order.
 *
 * What a damaged frame means depends on where it is:
 * - in the last segment, with no valid frame after it, it is a torn tail: the flush it held never
 *   completed its sync (so its commit() never resolved), and the segment is cut at its start;
 * - anywhere else, or with a valid frame after it, it is corruption of acknowledged data, and
 *   recovery stops with a CorruptSegmentError rather than skip it.
 * A frame whose header is intact is searched past from its declared end, so entry data that
 * happens to contain frame-like bytes cannot turn a torn tail into a false corruption report.
 */
import { fstatSync, readSync } from "node:fs";
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  RECORD_HEADER_BYTES,
  RECOVERY_READ_CHUNK_BYTES,
  SEGMENT_HEADER_BYTES,
} from "../constants.js";
import { CorruptSegmentError } from "../errors.js";
import { decodeFrameHeader, decodeRecord, decodeSegmentHeader, type RecordHeader } from "./format.js";

export interface ScannedRecord {
  readonly header: RecordHeader;
  /** Byte offset of the record in the segment. */
  readonly offset: number;
  /** Header plus data. */
  readonly recordBytes: number;
}

export interface ScanResult {
  /** Bytes of the file that hold valid frames; the file is cut here when it is a torn tail. */
  readonly validBytes: number;
  readonly fileBytes: number;
  /** The largest flush sequence number seen (the `afterSeq` given when none). */
  readonly lastSeq: number;
  readonly frames: number;
  readonly tornReason: string | null;
  /** True when the segment header itself is missing or damaged (possible only for the last segment). */
  readonly headerTorn: boolean;
}

/** A sliding window over a file, read in large chunks. */
class FileWindow {
  private buffer = Buffer.allocUnsafe(RECOVERY_READ_CHUNK_BYTES);
  private start = 0;
  private end = 0;
  private readonly fd: number;
  readonly fileBytes: number;

  constructor(fd: number, fileBytes: number) {
    this.fd = fd;
    this.fileBytes = fileBytes;
  }

  /** A buffer and the offset in it where file byte `position` lies, holding at least `length` bytes. */
  view(position: number, length: number): { buffer: Buffer; at: number } {
    if (position < this.start || position + length > this.end) this.fill(position, length);
    return { buffer: this.buffer, at: position - this.start };
  }

  private fill(position: number, length: number): void {
    if (length > this.buffer.length) this.buffer = Buffer.allocUnsafe(length);
    const want = Math.min(this.buffer.length, this.fileBytes - position);
    let done = 0;
    while (done < want) {
      const read = readSync(this.fd, this.buffer, done, want - done, position + done);
      if (read === 0) break;
      done += read;
    }
    this.start = position;
    this.end = position + done;
  }
}

/**
 * Scans one segment. `onFrame` receives the records of each valid frame, in order, after the
 * whole frame checked out. Throws CorruptSegmentError for damage that is not a torn tail.
 */
export function scanSegment(
  fd: number,
  path: string,
  expectedSegmentId: number,
  isLast: boolean,
  afterSeq: number,
  onFrame: (seq: number, records: readonly ScannedRecord[]) => void,
): ScanResult {
  const fileBytes = fstatSync(fd).size;
  const window = new FileWindow(fd, fileBytes);
  let lastSeq = afterSeq;
  let frames = 0;

  if (fileBytes < SEGMENT_HEADER_BYTES) {
    if (!isLast) throw new CorruptSegmentError(path, 0, "segment shorter than its header");
    return {
      validBytes: 0,
      fileBytes,
      lastSeq,
      frames,
      tornReason: "segment shorter than its header",
      headerTorn: true,
    };
  }
  const { buffer: headerBuffer, at: headerAt } = window.view(0, SEGMENT_HEADER_BYTES);
  const header = decodeSegmentHeader(headerBuffer.subarray(headerAt, headerAt + SEGMENT_HEADER_BYTES));
  if (!header.ok || header.segmentId !== expectedSegmentId) {
    const reason = header.ok ? `header names segment ${header.segmentId}` : header.reason;
    // A segment is created and its header synced before any frame is written to it, so a bad
    // header with frames behind it is corruption; without frames it is an interrupted creation.
    if (!isLast || findFrameHeader(window, SEGMENT_HEADER_BYTES, afterSeq) >= 0) {
      throw new CorruptSegmentError(path, 0, reason);
    }
    return { validBytes: 0, fileBytes, lastSeq, frames, tornReason: reason, headerTorn: true };
  }

  let position = SEGMENT_HEADER_BYTES;
  const damaged = (reason: string, searchFrom: number): ScanResult => {
    if (!isLast) throw new CorruptSegmentError(path, position, reason);
    if (searchFrom < fileBytes) {
      const next = findFrameHeader(window, searchFrom, lastSeq);
      if (next >= 0)
        throw new CorruptSegmentError(path, position, `${reason} (a valid frame follows at byte ${next})`);
    }
    return { validBytes: position, fileBytes, lastSeq, frames, tornReason: reason, headerTorn: false };
  };

  while (position < fileBytes) {
    if (fileBytes - position < FRAME_HEADER_BYTES) return damaged("short frame header", position + 1);
    const { buffer, at } = window.view(position, FRAME_HEADER_BYTES);
    const frame = decodeFrameHeader(buffer, at);
    if (frame === null) return damaged("bad frame header", position + 1);
    const end = position + FRAME_HEADER_BYTES + frame.bodyBytes;
    if (frame.seq <= lastSeq) return damaged(`frame sequence ${frame.seq} does not follow ${lastSeq}`, end);
    if (end > fileBytes) return damaged("frame extends past the end of the file", end);

    const { buffer: body, at: bodyAt } = window.view(position + FRAME_HEADER_BYTES, frame.bodyBytes);
    const bodyEnd = bodyAt + frame.bodyBytes;
    const records: ScannedRecord[] = [];
    let cursor = bodyAt;
    let bad: string | null = null;
    for (let r = 0; r < frame.recordCount; r++) {
      const record = decodeRecord(body, cursor, bodyEnd);
      if (record === null) {
        bad = `record ${r} of frame ${frame.seq} fails its check`;
        break;
      }
      const recordBytes = RECORD_HEADER_BYTES + record.dataBytes;
      records.push({
        header: record,
        offset: position + FRAME_HEADER_BYTES + (cursor - bodyAt),
        recordBytes,
      });
      cursor += recordBytes;
    }
    if (bad === null && cursor !== bodyEnd) bad = `frame ${frame.seq} has bytes after its last record`;
    if (bad !== null) return damaged(bad, end);

    onFrame(frame.seq, records);
    frames += 1;
    lastSeq = frame.seq;
    position = end;
  }
  return { validBytes: position, fileBytes, lastSeq, frames, tornReason: null, headerTorn: false };
}

/** The offset of the first valid frame header at or after `from` with a sequence above `afterSeq`, or -1. */
function findFrameHeader(window: FileWindow, from: number, afterSeq: number): number {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(FRAME_MAGIC, 0);
  let position = from;
  while (position + FRAME_HEADER_BYTES <= window.fileBytes) {
    const span = Math.min(RECOVERY_READ_CHUNK_BYTES, window.fileBytes - position);
    const { buffer, at } = window.view(position, span);
    const found = buffer.subarray(at, at + span).indexOf(magic);
    if (found < 0) {
      position += Math.max(1, span - 3);
      continue;
    }
    const candidate = position + found;
    if (candidate + FRAME_HEADER_BYTES > window.fileBytes) return -1;
    const { buffer: headerBuffer, at: headerAt } = window.view(candidate, FRAME_HEADER_BYTES);
    const frame = decodeFrameHeader(headerBuffer, headerAt);
    if (frame !== null && frame.seq > afterSeq) return candidate;
    position = candidate + 1;
  }
  return -1;
}
