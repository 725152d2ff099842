/**
 * Keys and values of the small state kept in LevelDB. One key per group and kind:
 *   "g" + group id (u64 big-endian, so groups sort numerically) + kind byte
 * where kind is 'm' (log metadata), 'h' (hard state), 'c' (conf state) or 's' (snapshot).
 * Values are small binary records; the conf state is JSON (two short arrays of node ids).
 */
import type { ConfState, HardState, Snapshot } from "raft-ts";
import { readU64, writeU64 } from "./format.js";

export const KEY_PREFIX_GROUP = 0x67; // "g"
export const KEY_BYTES = 10;

export const StateKind = {
  Meta: 0x6d, // "m"
  HardState: 0x68, // "h"
  ConfState: 0x63, // "c"
  Snapshot: 0x73, // "s"
} as const;
export type StateKind = (typeof StateKind)[keyof typeof StateKind];

/** Where a group's log starts: what recovery needs to know which journal records still count. */
export interface GroupMeta {
  /** The first index still in the log; entries below it were compacted or replaced by a snapshot. */
  readonly firstIndex: number;
  /** The term of the entry at firstIndex - 1 (the compaction point or the snapshot). */
  readonly prevTerm: number;
  /** Journal records from flushes with a smaller sequence number predate the log (a snapshot reset it, or the group was re-created). */
  readonly logStartSeq: number;
}

const META_VERSION = 1;

export function stateKey(groupId: number, kind: StateKind): Buffer {
  const key = Buffer.alloc(KEY_BYTES);
  key[0] = KEY_PREFIX_GROUP;
  key.writeUInt32BE(Math.floor(groupId / 4_294_967_296), 1);
  key.writeUInt32BE(groupId % 4_294_967_296, 5);
  key[9] = kind;
  return key;
}

export function parseStateKey(key: Buffer): { groupId: number; kind: number } | null {
  if (key.length !== KEY_BYTES || key[0] !== KEY_PREFIX_GROUP) return null;
  return { groupId: key.readUInt32BE(1) * 4_294_967_296 + key.readUInt32BE(5), kind: key[9]! };
}

export function encodeMeta(meta: GroupMeta): Buffer {
  const value = Buffer.alloc(25);
  value[0] = META_VERSION;
  writeU64(value, 1, meta.firstIndex);
  writeU64(value, 9, meta.prevTerm);
  writeU64(value, 17, meta.logStartSeq);
  return value;
}

export function decodeMeta(value: Buffer): GroupMeta {
  if (value.length !== 25 || value[0] !== META_VERSION) throw new Error("bad group metadata record");
  return { firstIndex: readU64(value, 1), prevTerm: readU64(value, 9), logStartSeq: readU64(value, 17) };
}

export function encodeHardState(hardState: HardState): Buffer {
  const value = Buffer.alloc(24);
  writeU64(value, 0, hardState.term);
  writeU64(value, 8, hardState.vote);
  writeU64(value, 16, hardState.commit);
  return value;
}

export function decodeHardState(value: Buffer): HardState {
  if (value.length !== 24) throw new Error("bad hard state record");
  return { term: readU64(value, 0), vote: readU64(value, 8), commit: readU64(value, 16) };
}

export function encodeConfState(confState: ConfState): Buffer {
  return Buffer.from(JSON.stringify({ voters: confState.voters, learners: confState.learners }));
}

export function decodeConfState(value: Buffer): ConfState {
  const parsed = JSON.parse(value.toString("utf8")) as { voters?: unknown; learners?: unknown };
  const ids = (list: unknown): number[] => {
    if (!Array.isArray(list) || !list.every((id) => Number.isSafeInteger(id)))
      throw new Error("bad conf state record");
    return list as number[];
  };
  return { voters: ids(parsed.voters), learners: ids(parsed.learners) };
}

export function encodeSnapshot(snapshot: Snapshot): Buffer {
  const conf = encodeConfState(snapshot.metadata.confState);
  const value = Buffer.alloc(20 + conf.length + snapshot.data.length);
  writeU64(value, 0, snapshot.metadata.index);
  writeU64(value, 8, snapshot.metadata.term);
  value.writeUInt32LE(conf.length, 16);
  conf.copy(value, 20);
  value.set(snapshot.data, 20 + conf.length);
  return value;
}

export function decodeSnapshot(value: Buffer): Snapshot {
  if (value.length < 20) throw new Error("bad snapshot record");
  const confBytes = value.readUInt32LE(16);
  if (value.length < 20 + confBytes) throw new Error("bad snapshot record");
  return {
    metadata: {
      index: readU64(value, 0),
      term: readU64(value, 8),
      confState: decodeConfState(value.subarray(20, 20 + confBytes)),
    },
    // Copy: the snapshot outlives LevelDB's buffer and is handed to raft.
    data: Uint8Array.prototype.slice.call(value, 20 + confBytes),
  };
}
