import { crc32 } from "node:zlib";
import {
  crc32Combine,
  ENTRY_CHECKSUM_CACHE_BYTES_MIN,
  entryDataChecksum,
  rememberEntryDataChecksum,
} from "@sluice/storage";
import type { Entry, EntryType, Message, MessageType, NodeId, Snapshot } from "raft-ts";
import { ENTRY_VIEW_BUFFER_RATIO_MAX, FRAME_MESSAGES_MAX, PEER_FRAME_BYTES_MAX } from "./constants.js";
import { FrameCorruptError, FrameTooLargeError, FrameVersionUnsupportedError } from "./errors.js";
import type { GroupMessage } from "./transport.js";

/**
 * The peer codec: a batch of GroupMessages in one binary frame, with no per-message protobuf or
 * JSON. Layout of version 1 (integers are unsigned LEB128 varints unless a width is given):
 *
 *   frame    := version:u8 flags:u8 count:u16le from to message{count} crc:u32le
 *   message  := type:u8 fields groupId [from] [to] [term] [logTerm] [index] [commit]
 *               [rejectHint] [rejectHintTerm] [context] [entries] [snapshot]
 *   context  := length bytes
 *   entries  := count entry{count};  entry := type:u8 term index length bytes
 *   snapshot := index term voterCount voter* learnerCount learner* length bytes
 *
 * `fields` is a bit set naming the optional parts that follow; a part is written only when it is
 * not zero or empty, and `from`/`to` only when they differ from the frame's, so a heartbeat
 * (type, fields, group, term, commit) takes 5 to 10 bytes and the heartbeats of every group for a
 * peer travel together in one frame.
 *
 * The CRC-32 trailer covers every byte before it. gRPC adds none of its own and TCP's 16-bit sum
 * misses some multi-bit errors; a follower that accepted a corrupted entry would store it under a
 * fresh storage CRC and diverge from its peers without anyone noticing, so the transport checks.
 * The trailer is computed without reading large entries again: the encoder folds each entry's
 * CRC (entryDataChecksum of @sluice/storage, computed once per entry and shared with the journal
 * and with the frame to the other peer) into the frame's by CRC combination, and the decoder
 * checksums each large entry once, combines, compares, and hands the verified entry CRCs on to the
 * journal. The bytes on the wire are the same as with one crc32 over the whole frame.
 *
 * Decoding never trusts the input: every length and count is checked against the bytes left, and
 * anything out of range throws a FrameCorruptError. Decoded entry, snapshot and context bytes are
 * subarrays of the frame (zero-copy): they keep the frame's memory alive while referenced.
 */

export const FRAME_VERSION = 1;

/** version, flags, count. */
const FRAME_FIXED_HEADER_BYTES = 4;
const FRAME_TRAILER_BYTES = 4;
/** Flags are reserved: version 1 writes 0 and refuses anything else. */
const FRAME_FLAGS = 0;

const Field = {
  From: 1 << 0,
  To: 1 << 1,
  Term: 1 << 2,
  LogTerm: 1 << 3,
  Index: 1 << 4,
  Commit: 1 << 5,
  RejectHint: 1 << 6,
  RejectHintTerm: 1 << 7,
  Reject: 1 << 8,
  Context: 1 << 9,
  Entries: 1 << 10,
  Snapshot: 1 << 11,
} as const;
const FIELDS_ALL = (1 << 12) - 1;

/** The highest MessageType and EntryType values this codec version knows. */
const MESSAGE_TYPE_MAX = 18;
const ENTRY_TYPE_MAX = 1;
const GROUP_ID_MAX = 0xffff_ffff;
/** 8 groups of 7 bits hold any safe integer (53 bits). */
const VARINT_BYTES_MAX = 8;
const EMPTY = new Uint8Array(0);

export interface DecodedFrame {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: GroupMessage[];
}

export function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes += 1;
  }
  return bytes;
}

function fieldsOf(message: Message, from: NodeId, to: NodeId): number {
  let fields = 0;
  if (message.from !== from) fields |= Field.From;
  if (message.to !== to) fields |= Field.To;
  if (message.term !== 0) fields |= Field.Term;
  if (message.logTerm !== 0) fields |= Field.LogTerm;
  if (message.index !== 0) fields |= Field.Index;
  if (message.commit !== 0) fields |= Field.Commit;
  if (message.rejectHint !== 0) fields |= Field.RejectHint;
  if (message.rejectHintTerm !== 0) fields |= Field.RejectHintTerm;
  if (message.reject) fields |= Field.Reject;
  if (message.context.byteLength !== 0) fields |= Field.Context;
  if (message.entries.length !== 0) fields |= Field.Entries;
  if (message.snapshot !== null) fields |= Field.Snapshot;
  return fields;
}

function bytesField(length: number): number {
  return varintBytes(length) + length;
}

/** The exact number of bytes `message` takes in a frame whose header names `from` and `to`. */
export function encodedMessageBytes(gm: GroupMessage, from: NodeId, to: NodeId): number {
  const m = gm.message;
  const fields = fieldsOf(m, from, to);
  let bytes = 1 + varintBytes(fields) + varintBytes(gm.groupId);
  if (fields & Field.From) bytes += varintBytes(m.from);
  if (fields & Field.To) bytes += varintBytes(m.to);
  if (fields & Field.Term) bytes += varintBytes(m.term);
  if (fields & Field.LogTerm) bytes += varintBytes(m.logTerm);
  if (fields & Field.Index) bytes += varintBytes(m.index);
  if (fields & Field.Commit) bytes += varintBytes(m.commit);
  if (fields & Field.RejectHint) bytes += varintBytes(m.rejectHint);
  if (fields & Field.RejectHintTerm) bytes += varintBytes(m.rejectHintTerm);
  if (fields & Field.Context) bytes += bytesField(m.context.byteLength);
  if (fields & Field.Entries) {
    bytes += varintBytes(m.entries.length);
    for (const e of m.entries) {
      bytes += 1 + varintBytes(e.term) + varintBytes(e.index) + bytesField(e.data.byteLength);
    }
  }
  const snapshot = m.snapshot;
  if (snapshot !== null) {
    const { metadata } = snapshot;
    bytes += varintBytes(metadata.index) + varintBytes(metadata.term);
    bytes += varintBytes(metadata.confState.voters.length);
    for (const id of metadata.confState.voters) bytes += varintBytes(id);
    bytes += varintBytes(metadata.confState.learners.length);
    for (const id of metadata.confState.learners) bytes += varintBytes(id);
    bytes += bytesField(snapshot.data.byteLength);
  }
  return bytes;
}

function frameHeaderBytes(from: NodeId, to: NodeId): number {
  return FRAME_FIXED_HEADER_BYTES + varintBytes(from) + varintBytes(to);
}

/** Frame bytes besides the messages: header and checksum trailer. */
export function frameOverheadBytes(from: NodeId, to: NodeId): number {
  return frameHeaderBytes(from, to) + FRAME_TRAILER_BYTES;
}

function checkUint(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`cannot encode ${what} ${value}: not a non-negative safe integer`);
  }
}

/** A sealed frame as the buffers that make it up, in order: copy-free for large entry data. */
export interface SealedFrame {
  /** Headroom first, then the frame; the first chunk holds at least headroom and frame header. */
  readonly chunks: Buffer[];
  /** Total bytes of `chunks`. */
  readonly length: number;
}

/**
 * Builds frames for one (from, to) pair. Fields and small entries are copied into the frame as
 * they are appended, so their buffers may be reused once `append` returns; entry data of at
 * least ENTRY_CHECKSUM_CACHE_BYTES_MIN is not copied but referenced by the sealed frame (a chunk
 * of its own), so it must not change until the frame is written. Raft entries never change.
 * A frame may be written after `headroomBytes` of space the caller fills (the transport puts the
 * gRPC prefix and the protobuf envelope there, so a frame reaches the socket with no extra copy).
 */
export class FrameEncoder {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Largest frame, header and trailer included. */
  readonly maxFrameBytes: number;
  readonly headroomBytes: number;
  private readonly initialBytes: number;
  /** Capacity of the next frame's scratch buffer: follows the last frame's copied bytes, so a
   * stream of frames does not regrow (and recopy) each one from a small start. */
  private nextCapacityBytes: number;
  /** Where copied bytes go; `position` is the next byte, `chunkStart` the open chunk's start. */
  private buffer: Buffer;
  private position = 0;
  private chunkStart = 0;
  /** Closed chunks (copied runs and referenced entry data) and their total length. */
  private chunks: Buffer[] = [];
  private chunkedBytes = 0;
  /** Copied bytes of this frame, for sizing the next one's scratch buffer. */
  private copiedBytes = 0;
  /** The buffer holding the frame header (the message count is written there by seal). */
  private headerBuffer: Buffer;
  private count = 0;
  private readonly headerBytes: number;
  /** CRC of the frame's bytes from its fifth byte (after version, flags and count, which seal
   * fills in) up to `crcPosition` of `buffer`; large entry data is folded in by combination. */
  private crc = 0;
  private crcPosition = 0;

  constructor(
    from: NodeId,
    to: NodeId,
    maxFrameBytes = PEER_FRAME_BYTES_MAX,
    headroomBytes = 0,
    initialBytes = 4096,
  ) {
    this.from = from;
    this.to = to;
    this.maxFrameBytes = maxFrameBytes;
    this.headroomBytes = headroomBytes;
    this.initialBytes = initialBytes;
    this.nextCapacityBytes = initialBytes;
    checkUint(from, "frame from");
    checkUint(to, "frame to");
    this.headerBytes = frameHeaderBytes(from, to);
    this.buffer = Buffer.allocUnsafe(0);
    this.headerBuffer = this.buffer;
    this.reset();
  }

  /** Messages in the frame being built. */
  get messageCount(): number {
    return this.count;
  }

  /** Size the frame being built would have if sealed now. */
  get frameBytes(): number {
    return this.writtenBytes - this.headroomBytes + FRAME_TRAILER_BYTES;
  }

  /** Bytes of the frame so far, headroom included. */
  private get writtenBytes(): number {
    return this.chunkedBytes + this.position - this.chunkStart;
  }

  /**
   * Whether a message of `messageBytes` (from encodedMessageBytes) fits in the current frame.
   * An empty frame always has room for a message that fits in any frame.
   */
  fits(messageBytes: number): boolean {
    return this.count < FRAME_MESSAGES_MAX && this.frameBytes + messageBytes <= this.maxFrameBytes;
  }

  /** The largest message any frame of this encoder can hold. */
  get messageBytesMax(): number {
    return this.maxFrameBytes - this.headerBytes - FRAME_TRAILER_BYTES;
  }

  /**
   * Encodes `gm` into the current frame. Throws FrameTooLargeError when it does not fit (callers
   * check `fits` first and seal a full frame), RangeError on a field out of range.
   */
  append(gm: GroupMessage, messageBytes = encodedMessageBytes(gm, this.from, this.to)): void {
    if (!this.fits(messageBytes))
      throw new FrameTooLargeError(this.frameBytes + messageBytes, this.maxFrameBytes);
    const m = gm.message;
    if (!Number.isInteger(gm.groupId) || gm.groupId < 0 || gm.groupId > GROUP_ID_MAX) {
      throw new RangeError(`cannot encode group id ${gm.groupId}: not a uint32`);
    }
    if (!Number.isInteger(m.type) || m.type < 0 || m.type > MESSAGE_TYPE_MAX) {
      throw new RangeError(`cannot encode message type ${m.type}`);
    }
    let copiedBytes = messageBytes;
    for (const e of m.entries) {
      if (e.data.byteLength >= ENTRY_CHECKSUM_CACHE_BYTES_MIN) copiedBytes -= e.data.byteLength;
    }
    this.reserve(copiedBytes);
    const start = this.writtenBytes;
    const fields = fieldsOf(m, this.from, this.to);
    this.buffer[this.position++] = m.type;
    this.varint(fields);
    this.varint(gm.groupId);
    if (fields & Field.From) this.uint(m.from, "from");
    if (fields & Field.To) this.uint(m.to, "to");
    if (fields & Field.Term) this.uint(m.term, "term");
    if (fields & Field.LogTerm) this.uint(m.logTerm, "logTerm");
    if (fields & Field.Index) this.uint(m.index, "index");
    if (fields & Field.Commit) this.uint(m.commit, "commit");
    if (fields & Field.RejectHint) this.uint(m.rejectHint, "rejectHint");
    if (fields & Field.RejectHintTerm) this.uint(m.rejectHintTerm, "rejectHintTerm");
    if (fields & Field.Context) this.bytes(m.context);
    if (fields & Field.Entries) {
      this.varint(m.entries.length);
      for (const e of m.entries) {
        if (e.type !== 0 && e.type !== 1) throw new RangeError(`cannot encode entry type ${e.type}`);
        this.buffer[this.position++] = e.type;
        this.uint(e.term, "entry term");
        this.uint(e.index, "entry index");
        this.entryData(e.data);
      }
    }
    const snapshot = m.snapshot;
    if (snapshot !== null) {
      const { metadata } = snapshot;
      this.uint(metadata.index, "snapshot index");
      this.uint(metadata.term, "snapshot term");
      this.varint(metadata.confState.voters.length);
      for (const id of metadata.confState.voters) this.uint(id, "voter");
      this.varint(metadata.confState.learners.length);
      for (const id of metadata.confState.learners) this.uint(id, "learner");
      this.bytes(snapshot.data);
    }
    if (this.writtenBytes - start !== messageBytes) {
      throw new Error(
        `codec bug: wrote ${this.writtenBytes - start} bytes for a ${messageBytes}-byte message`,
      );
    }
    this.count += 1;
  }

  /**
   * Finishes the current frame and starts the next. Returns it as chunks: `headroomBytes` for the
   * caller at the start of the first chunk, then the frame (header, messages, CRC). The chunks are
   * the caller's; those that are entry data are shared with the entries.
   */
  sealChunks(): SealedFrame {
    this.foldCrc();
    const frameStart = this.headroomBytes;
    this.headerBuffer.writeUInt16LE(this.count, frameStart + 2);
    const restBytes = this.writtenBytes - frameStart - FRAME_FIXED_HEADER_BYTES;
    const head = crc32(this.headerBuffer.subarray(frameStart, frameStart + FRAME_FIXED_HEADER_BYTES));
    // reserve() keeps FRAME_TRAILER_BYTES free at the end of the buffer.
    this.buffer.writeUInt32LE(crc32Combine(head, this.crc, restBytes), this.position);
    this.position += FRAME_TRAILER_BYTES;
    this.closeChunk();
    const sealed: SealedFrame = { chunks: this.chunks, length: this.chunkedBytes };
    this.nextCapacityBytes = Math.max(this.initialBytes, Math.min(this.maxFrameBytes, this.copiedBytes));
    this.reset();
    return sealed;
  }

  /** `sealChunks` as one buffer (copied together when there are several chunks). */
  seal(): Buffer {
    const { chunks, length } = this.sealChunks();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
  }

  private reset(): void {
    this.buffer = Buffer.allocUnsafe(
      this.headroomBytes + this.headerBytes + FRAME_TRAILER_BYTES + this.nextCapacityBytes,
    );
    this.headerBuffer = this.buffer;
    this.chunks = [];
    this.chunkedBytes = 0;
    this.copiedBytes = 0;
    this.chunkStart = 0;
    this.count = 0;
    this.position = this.headroomBytes;
    this.buffer[this.position++] = FRAME_VERSION;
    this.buffer[this.position++] = FRAME_FLAGS;
    this.position += 2; // count, written by seal
    this.crc = 0;
    this.crcPosition = this.position;
    this.varint(this.from);
    this.varint(this.to);
  }

  /** Folds the copied bytes not yet in the running CRC into it. */
  private foldCrc(): void {
    this.crc = crc32(this.buffer.subarray(this.crcPosition, this.position), this.crc);
    this.crcPosition = this.position;
  }

  /** Ends the open chunk of copied bytes (if it has any) and adds it to the frame's chunks. */
  private closeChunk(): void {
    if (this.position === this.chunkStart) return;
    this.chunks.push(this.buffer.subarray(this.chunkStart, this.position));
    this.chunkedBytes += this.position - this.chunkStart;
    this.copiedBytes += this.position - this.chunkStart;
    this.chunkStart = this.position;
  }

  /**
   * Makes room for `bytes` more copied bytes plus the trailer. When the buffer is short, the open
   * chunk moves to a new buffer of at least twice the size (closed chunks stay where they are).
   */
  private reserve(bytes: number): void {
    const needed = this.position + bytes + FRAME_TRAILER_BYTES;
    if (needed <= this.buffer.length) return;
    this.foldCrc();
    const open = this.position - this.chunkStart;
    const size = Math.max(this.buffer.length * 2, open + bytes + FRAME_TRAILER_BYTES);
    const grown = Buffer.allocUnsafe(
      Math.min(size, this.headroomBytes + this.maxFrameBytes + FRAME_TRAILER_BYTES),
    );
    this.buffer.copy(grown, 0, this.chunkStart, this.position);
    // The header must stay writable by seal: it moves along while it is in the open chunk.
    if (this.headerBuffer === this.buffer && this.chunkStart === 0) this.headerBuffer = grown;
    this.buffer = grown;
    this.chunkStart = 0;
    this.position = open;
    this.crcPosition = open;
  }

  private uint(value: number, what: string): void {
    checkUint(value, what);
    this.varint(value);
  }

  private varint(value: number): void {
    const buffer = this.buffer;
    while (value >= 0x80) {
      buffer[this.position++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buffer[this.position++] = value;
  }

  /**
   * Writes entry data: a large entry becomes a chunk of its own (not copied) and its CRC, computed
   * once per entry and shared with the journal, is combined into the frame's.
   */
  private entryData(data: Uint8Array): void {
    this.varint(data.byteLength);
    if (data.byteLength < ENTRY_CHECKSUM_CACHE_BYTES_MIN) {
      this.buffer.set(data, this.position);
      this.position += data.byteLength;
      return;
    }
    this.foldCrc();
    this.crc = crc32Combine(this.crc, entryDataChecksum(data), data.byteLength);
    this.closeChunk();
    this.chunks.push(
      Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    );
    this.chunkedBytes += data.byteLength;
  }

  private bytes(data: Uint8Array): void {
    this.varint(data.byteLength);
    this.buffer.set(data, this.position);
    this.position += data.byteLength;
  }
}

/** Encodes `messages` as one frame (no headroom). For tests and tools; the transport streams. */
export function encodeFrame(
  from: NodeId,
  to: NodeId,
  messages: readonly GroupMessage[],
  maxFrameBytes = PEER_FRAME_BYTES_MAX,
): Buffer {
  const encoder = new FrameEncoder(from, to, maxFrameBytes);
  for (const gm of messages) encoder.append(gm);
  return encoder.seal();
}

/**
 * Decodes one frame. Throws FrameCorruptError (bad checksum, truncation, a value out of range,
 * trailing bytes), FrameVersionUnsupportedError or FrameTooLargeError; never anything else.
 */
export function decodeFrame(frame: Uint8Array, maxFrameBytes = PEER_FRAME_BYTES_MAX): DecodedFrame {
  if (frame.byteLength > maxFrameBytes) throw new FrameTooLargeError(frame.byteLength, maxFrameBytes);
  if (frame.byteLength < FRAME_FIXED_HEADER_BYTES + 2 + FRAME_TRAILER_BYTES) {
    throw new FrameCorruptError(`frame of ${frame.byteLength} bytes is shorter than any frame`, 0);
  }
  const version = frame[0] as number;
  if (version !== FRAME_VERSION) throw new FrameVersionUnsupportedError(version, FRAME_VERSION);
  const end = frame.byteLength - FRAME_TRAILER_BYTES;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const expected = view.getUint32(end, true);
  const checksumMismatch = () => new FrameCorruptError("checksum mismatch", end);
  // Parse first (checksumming each large entry once as it passes), then compare the combined CRC.
  // Damage must still be reported as a checksum mismatch, so a parse failure is checked against
  // the plain CRC of the whole frame before it is believed.
  const reader = new FrameReader(frame, end);
  let decoded: DecodedFrame;
  try {
    if (frame[1] !== FRAME_FLAGS) throw new FrameCorruptError(`unknown flags ${frame[1]}`, 1);
    decoded = reader.frame(view.getUint16(2, true));
  } catch (error) {
    if (crc32(frame.subarray(0, end)) !== expected) throw checksumMismatch();
    throw error;
  }
  if (reader.checksum() !== expected) throw checksumMismatch();
  reader.rememberEntryChecksums();
  return decoded;
}

class FrameReader {
  private position = FRAME_FIXED_HEADER_BYTES;
  private readonly buffer: Uint8Array;
  private readonly end: number;
  /** CRC of the frame's bytes up to `crcPosition`, large entries folded in by combination. */
  private crc = 0;
  private crcPosition = 0;
  /** Large entries seen and their CRCs, remembered for the journal once the frame checks out. */
  private readonly entryData: Uint8Array[] = [];
  private readonly entryChecksums: number[] = [];

  constructor(buffer: Uint8Array, end: number) {
    this.buffer = buffer;
    this.end = end;
  }

  frame(count: number): DecodedFrame {
    const from = this.varint("from");
    const to = this.varint("to");
    // Each message takes at least 3 bytes; a count the bytes cannot hold is a lie.
    if (count * 3 > this.end - this.position) this.fail(`${count} messages cannot fit`);
    const messages: GroupMessage[] = new Array(count);
    for (let i = 0; i < count; i++) messages[i] = this.message(from, to);
    if (this.position !== this.end) this.fail(`${this.end - this.position} trailing bytes`);
    return { from, to, messages };
  }

  private message(frameFrom: NodeId, frameTo: NodeId): GroupMessage {
    const type = this.byte("message type");
    if (type > MESSAGE_TYPE_MAX) this.fail(`unknown message type ${type}`);
    const fields = this.varint("fields");
    if ((fields & ~FIELDS_ALL) !== 0 || fields > FIELDS_ALL) this.fail(`unknown field bits ${fields}`);
    const groupId = this.varint("group id");
    if (groupId > GROUP_ID_MAX) this.fail(`group id ${groupId} is not a uint32`);
    const from = fields & Field.From ? this.varint("from") : frameFrom;
    const to = fields & Field.To ? this.varint("to") : frameTo;
    const term = fields & Field.Term ? this.varint("term") : 0;
    const logTerm = fields & Field.LogTerm ? this.varint("logTerm") : 0;
    const index = fields & Field.Index ? this.varint("index") : 0;
    const commit = fields & Field.Commit ? this.varint("commit") : 0;
    const rejectHint = fields & Field.RejectHint ? this.varint("rejectHint") : 0;
    const rejectHintTerm = fields & Field.RejectHintTerm ? this.varint("rejectHintTerm") : 0;
    const context = fields & Field.Context ? this.bytes("context") : EMPTY;
    let entries: Entry[] = [];
    if (fields & Field.Entries) {
      const count = this.varint("entry count");
      // Each entry takes at least 4 bytes.
      if (count * 4 > this.end - this.position) this.fail(`${count} entries cannot fit`);
      entries = new Array(count);
      for (let i = 0; i < count; i++) {
        const entryType = this.byte("entry type");
        if (entryType > ENTRY_TYPE_MAX) this.fail(`unknown entry type ${entryType}`);
        const entryTerm = this.varint("entry term");
        const entryIndex = this.varint("entry index");
        let data = this.bytes("entry data");
        // A small view of a big buffer is copied out, so caches holding the entry do not pin the frame.
        if (data.byteLength > 0 && data.buffer.byteLength > ENTRY_VIEW_BUFFER_RATIO_MAX * data.byteLength) {
          // Its own buffer, not a slice of Buffer's shared pool (which would pin a pool slab instead).
          const copy = Buffer.allocUnsafeSlow(data.byteLength);
          copy.set(data);
          data = copy;
        }
        if (data.byteLength >= ENTRY_CHECKSUM_CACHE_BYTES_MIN) this.foldEntry(data);
        entries[i] = { type: entryType as EntryType, term: entryTerm, index: entryIndex, data };
      }
    }
    const snapshot = fields & Field.Snapshot ? this.snapshot() : null;
    const message: Message = {
      type: type as MessageType,
      from,
      to,
      term,
      logTerm,
      index,
      entries,
      commit,
      reject: (fields & Field.Reject) !== 0,
      rejectHint,
      rejectHintTerm,
      snapshot,
      context,
    };
    return { groupId, message };
  }

  /** Checksums a large entry once and folds it into the frame CRC. `data` was just read. */
  private foldEntry(data: Uint8Array): void {
    const dataStart = this.position - data.byteLength;
    this.crc = crc32(this.buffer.subarray(this.crcPosition, dataStart), this.crc);
    const checksum = crc32(data);
    this.crc = crc32Combine(this.crc, checksum, data.byteLength);
    this.crcPosition = this.position;
    this.entryData.push(data);
    this.entryChecksums.push(checksum);
  }

  /** The CRC of every byte before the trailer; call after `frame`. */
  checksum(): number {
    return crc32(this.buffer.subarray(this.crcPosition, this.end), this.crc);
  }

  /** Hands the verified CRCs of large entries to the journal (call once the frame CRC matched). */
  rememberEntryChecksums(): void {
    for (let i = 0; i < this.entryData.length; i++) {
      rememberEntryDataChecksum(this.entryData[i] as Uint8Array, this.entryChecksums[i] as number);
    }
  }

  private snapshot(): Snapshot {
    const index = this.varint("snapshot index");
    const term = this.varint("snapshot term");
    const voters = this.ids("voters");
    const learners = this.ids("learners");
    const data = this.bytes("snapshot data");
    return { metadata: { index, term, confState: { voters, learners } }, data };
  }

  private ids(what: string): NodeId[] {
    const count = this.varint(`${what} count`);
    if (count > this.end - this.position) this.fail(`${count} ${what} cannot fit`);
    const ids: NodeId[] = new Array(count);
    for (let i = 0; i < count; i++) ids[i] = this.varint(what);
    return ids;
  }

  private byte(what: string): number {
    if (this.position >= this.end) this.fail(`truncated before ${what}`);
    return this.buffer[this.position++] as number;
  }

  private varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.position >= this.end) this.fail(`truncated inside ${what}`);
      const byte = this.buffer[this.position++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) this.fail(`${what} ${value} is not a safe integer`);
        return value;
      }
      scale *= 128;
    }
    return this.fail(`${what} varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  private bytes(what: string): Uint8Array {
    const length = this.varint(`${what} length`);
    if (length > this.end - this.position) this.fail(`${what} of ${length} bytes overruns the frame`);
    const data = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return data;
  }

  private fail(message: string): never {
    throw new FrameCorruptError(message, this.position);
  }
}
