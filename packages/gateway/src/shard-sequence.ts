/**
 * Sequence numbers of one shard. A shard's records live in its own Raft group at log indexes
 * 1, 2, …; its sequence numbers carry `sequenceIndexBase + index` in the index digits, where the
 * base is 0 for a shard made by CreateStream and, for a reshard's child, the largest
 * `parent.sequenceIndexBase + parent.endingIndex` of its parents. So every record of a child
 * sorts after every record of its parents, as in Kinesis, and after the parents' ending sequence
 * numbers. Decoding maps back: a sequence number names a shard by its number, and the index
 * minus that shard's base is the log index. A number below the shard's base (or of another
 * shard) is not one of the shard's: null.
 */
import { decodeSequenceNumber, encodeSequenceNumber } from "./sequence-number.js";

/** What sequence numbers need of a shard (metadata's ShardInfo has these fields). */
export interface SequencedShard {
  readonly shardNumber: number;
  /** Added to the log index in every sequence number of the shard; absent means 0. */
  readonly sequenceIndexBase?: number | undefined;
  /** The log index of the shard's seal entry once it is closed by a reshard. */
  readonly endingIndex?: number | undefined;
}

/** A position in a shard's log: the entry index and the record's offset in the entry. */
export interface ShardLogPosition {
  readonly index: number;
  readonly offset: number;
}

/** The shard's base (0 when the metadata has none). */
export function sequenceIndexBaseOf(shard: SequencedShard): number {
  return shard.sequenceIndexBase ?? 0;
}

/** The sequence number of the record at log (`index`, `offset`) of `shard`. */
export function shardSequenceNumber(shard: SequencedShard, index: number, offset: number): string {
  return encodeSequenceNumber(sequenceIndexBaseOf(shard) + index, offset, shard.shardNumber);
}

/**
 * The log position a sequence number names in `shard`, or null when it is not one of ours, names
 * another shard, or lies below the shard's base.
 */
export function shardPositionOf(shard: SequencedShard, sequenceNumber: string): ShardLogPosition | null {
  const decoded = decodeSequenceNumber(sequenceNumber);
  if (decoded === null || decoded.shardNumber !== shard.shardNumber) return null;
  const base = sequenceIndexBaseOf(shard);
  if (decoded.index < base) return null;
  return { index: decoded.index - base, offset: decoded.offset };
}

/** StartingSequenceNumber: log index 0, offset 0 — before every record of the shard. */
export function startingSequenceNumberOf(shard: SequencedShard): string {
  return shardSequenceNumber(shard, 0, 0);
}

/**
 * EndingSequenceNumber: the seal entry's position (after every record of the shard) once the
 * shard is closed; "" while it is open.
 */
export function endingSequenceNumberOf(shard: SequencedShard): string {
  return shard.endingIndex === undefined ? "" : shardSequenceNumber(shard, shard.endingIndex, 0);
}
