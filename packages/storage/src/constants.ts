/**
 * Limits, defaults and on-disk format constants of @sluice/storage, each a named constant with
 * its unit in the name. Relations between them are asserted when this module loads, so a bad
 * edit fails at once (TigerBeetle's constants.zig).
 */

const KIB = 1024;
const MIB = 1024 * KIB;

/** Default size at which the journal rolls over to a new segment file. */
export const SEGMENT_SIZE_BYTES_DEFAULT = 64 * MIB;
/** Smallest accepted segment size (tests use small segments to exercise rotation). */
export const SEGMENT_SIZE_BYTES_MIN = 4 * KIB;
/** Largest accepted segment size: record offsets are stored as unsigned 32-bit integers. */
export const SEGMENT_SIZE_BYTES_MAX = 2 * 1024 * MIB;

/** Default bytes of recent entry data each group keeps in memory, so readers at the tip never touch the disk. */
export const TAIL_CACHE_BYTES_PER_GROUP_DEFAULT = 1 * MIB;
/** Default bound on the tail caches of all groups together; the least recently appended groups are evicted first. */
export const TAIL_CACHE_BYTES_PER_NODE_DEFAULT = 256 * MIB;

/** Largest entry data accepted in one record (a Kinesis PutRecords batch is at most 5 MiB). */
export const ENTRY_DATA_BYTES_MAX = 64 * MIB;
/** Largest journal frame (one flush): the body length is an unsigned 32-bit integer. */
export const FLUSH_BYTES_MAX = 1024 * MIB;
/** Largest number of records in one flush. */
export const FLUSH_RECORDS_MAX = 1_000_000;
/** Largest group id; ids are stored as unsigned 64-bit integers but handled as JavaScript numbers. */
export const GROUP_ID_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Entry data at least this long has its CRC-32 remembered per buffer (checksum.ts) and folded
 * into record and frame CRCs by combination; shorter data is checksummed in line, where a second
 * pass costs less than the WeakMap and the combination (about a microsecond).
 */
export const ENTRY_CHECKSUM_CACHE_BYTES_MIN = 4 * KIB;

/** Largest run of adjacent records read from a segment with one read call. */
export const READ_COALESCE_BYTES_MAX = 4 * MIB;
/** Size of the window recovery reads segments through. */
export const RECOVERY_READ_CHUNK_BYTES = 8 * MIB;

/**
 * Live-entry rewrite (raft-engine's "rewrite"): when the oldest sealed segment holds at most this
 * fraction of its size in live entries, those entries are copied forward into the next flush so
 * the segment (and every dead one behind it) can be deleted.
 */
export const REWRITE_LIVE_RATIO_MAX_DEFAULT = 0.25;
/** At most this many bytes of live entries are rewritten per flush, so one flush's latency stays bounded. */
export const REWRITE_BYTES_PER_FLUSH_MAX_DEFAULT = 4 * MIB;

/**
 * Journal frames up to this size are written on the calling thread (a synchronous `writev` to
 * the O_DSYNC segment) instead of through libuv's thread pool. On this machine's virtual disk a
 * 1 KiB synced write then costs 72–78 µs of CPU and 147–158 µs of wall time, against 130–149 µs
 * and 189–212 µs through the pool (waking a pool thread and being woken back cost more than the
 * write itself; `bench:write-modes`, README "The write path's two shortcuts"). Larger frames
 * keep the pool, so the event loop is never held for long.
 */
export const INLINE_WRITE_BYTES_MAX_DEFAULT = 64 * KIB;

/**
 * A flush whose only change to a group's small state is its commit index does not write LevelDB;
 * the commit indexes owed are written with the next LevelDB batch, or by the first flush this
 * long after the last write of them. Raft does not need the commit index to be durable (a
 * restarted replica learns it again from its leader), so this bounds how far a restart may find
 * it behind; entries are never at stake.
 */
export const COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT = 1000;

// ---- On-disk format (see README.md, "On-disk format"). All integers are little-endian. ----

/** Version of the segment format written in every segment header. */
export const SEGMENT_FORMAT_VERSION = 1;
/** "SLUICESG" in ASCII: the first eight bytes of every segment file. */
export const SEGMENT_MAGIC = "SLUICESG";
/** Segment header: magic (8), version u32, reserved u32, segment id u64, reserved u32, crc u32. */
export const SEGMENT_HEADER_BYTES = 32;
/** Marks the start of a frame; 0x534c4652 is "RFLS" when read as little-endian bytes. */
export const FRAME_MAGIC = 0x534c4652;
/** Frame header: magic u32, kind u16, reserved u16, seq u64, record count u32, body length u32, reserved u32, crc u32. */
export const FRAME_HEADER_BYTES = 32;
/** Record header: crc u32, kind u8, entry type u8, reserved u16, group u64, index u64, term u64, data length u32. */
export const RECORD_HEADER_BYTES = 36;
/** Frame kind: one flush of the group-commit loop. */
export const FRAME_KIND_FLUSH = 1;
/** Record kind: an entry appended to a group's log (truncates the group's log from its index). */
export const RECORD_KIND_APPEND = 1;
/** Record kind: a copy of a live entry moved forward by a rewrite (never truncates). */
export const RECORD_KIND_REWRITE = 2;

function assertConstant(condition: boolean, message: string): void {
  if (!condition) throw new Error(`@sluice/storage constants: ${message}`);
}

assertConstant(
  SEGMENT_SIZE_BYTES_MIN <= SEGMENT_SIZE_BYTES_DEFAULT,
  "default segment size at least the minimum",
);
assertConstant(
  SEGMENT_SIZE_BYTES_DEFAULT <= SEGMENT_SIZE_BYTES_MAX,
  "default segment size at most the maximum",
);
assertConstant(SEGMENT_SIZE_BYTES_MAX + FLUSH_BYTES_MAX < 2 ** 32, "every record offset fits in 32 bits");
assertConstant(
  SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + RECORD_HEADER_BYTES < SEGMENT_SIZE_BYTES_MIN,
  "a segment of the minimum size holds a frame",
);
assertConstant(ENTRY_DATA_BYTES_MAX + RECORD_HEADER_BYTES <= FLUSH_BYTES_MAX, "one entry fits in a flush");
assertConstant(
  TAIL_CACHE_BYTES_PER_GROUP_DEFAULT <= TAIL_CACHE_BYTES_PER_NODE_DEFAULT,
  "a group's cache fits in the node's",
);
assertConstant(
  REWRITE_LIVE_RATIO_MAX_DEFAULT >= 0 && REWRITE_LIVE_RATIO_MAX_DEFAULT <= 1,
  "rewrite ratio is a fraction",
);
assertConstant(READ_COALESCE_BYTES_MAX >= RECORD_HEADER_BYTES, "a coalesced read holds at least a header");
assertConstant(INLINE_WRITE_BYTES_MAX_DEFAULT <= FLUSH_BYTES_MAX, "an inline write is a frame");
assertConstant(Buffer.byteLength(SEGMENT_MAGIC) === 8, "segment magic is eight bytes");
