/**
 * Options of NodeStorage.open, their defaults (gathered in one function) and their validation,
 * done once when the storage opens.
 */
import {
  COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT,
  FLUSH_BYTES_MAX,
  INLINE_WRITE_BYTES_MAX_DEFAULT,
  REWRITE_BYTES_PER_FLUSH_MAX_DEFAULT,
  REWRITE_LIVE_RATIO_MAX_DEFAULT,
  SEGMENT_SIZE_BYTES_DEFAULT,
  SEGMENT_SIZE_BYTES_MAX,
  SEGMENT_SIZE_BYTES_MIN,
  TAIL_CACHE_BYTES_PER_GROUP_DEFAULT,
  TAIL_CACHE_BYTES_PER_NODE_DEFAULT,
} from "./constants.js";
import { InvalidOptionsError } from "./errors.js";

export interface NodeStorageOptions {
  /**
   * Size in bytes at which the journal rolls over to a new segment file. A single flush larger
   * than this still goes into one segment (a segment holds at least one frame).
   * @default SEGMENT_SIZE_BYTES_DEFAULT (64 MiB)
   */
  readonly segmentSizeBytes?: number;
  /**
   * Bytes of the most recent entry data each group keeps in memory.
   * @default TAIL_CACHE_BYTES_PER_GROUP_DEFAULT (1 MiB)
   */
  readonly tailCacheBytesPerGroup?: number;
  /**
   * Bound on the tail caches of all groups together, in bytes; the least recently appended
   * groups give back memory first.
   * @default TAIL_CACHE_BYTES_PER_NODE_DEFAULT (256 MiB)
   */
  readonly tailCacheBytesPerNode?: number;
  /**
   * Whether flushes are made durable (fdatasync of the segment, sync LevelDB writes). Turning it
   * off is for tests and benchmarks of the CPU path only: a crash of the machine loses data.
   * @default true
   */
  readonly sync?: boolean;
  /**
   * Live-entry rewrite threshold: when the oldest sealed segment's live bytes are at most this
   * fraction of its size, its live entries are copied forward so the segment can be deleted.
   * 0 turns rewriting off.
   * @default REWRITE_LIVE_RATIO_MAX_DEFAULT (0.25)
   */
  readonly rewriteLiveRatioMax?: number;
  /**
   * At most this many bytes of live entries are rewritten in one flush.
   * @default REWRITE_BYTES_PER_FLUSH_MAX_DEFAULT (4 MiB)
   */
  readonly rewriteBytesPerFlushMax?: number;
  /**
   * Journal frames of at most this many bytes are written on the calling thread, larger ones
   * through libuv's thread pool; 0 sends every frame through the pool.
   * @default INLINE_WRITE_BYTES_MAX_DEFAULT (64 KiB)
   */
  readonly inlineWriteBytesMax?: number;
  /**
   * Commit indexes that are a flush's only change to a group's state are written to LevelDB with
   * the next batch written anyway, or by the first flush this many ms after they were last
   * written; 0 writes them with every flush.
   * @default COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT (1000 ms)
   */
  readonly commitIndexWriteIntervalMs?: number;
  /**
   * Called after every synced write with its kind ("segment": the journal's synced append,
   * "state": a synced LevelDB batch) and how long it took, in ms (for latency histograms). Keep
   * it short; it runs in the flush. @default no-op
   */
  readonly onSync?: (kind: SyncKind, durationMs: number) => void;
}

/** What a synced write made durable: the journal's append, or LevelDB's small state. */
export type SyncKind = "segment" | "state";

export type ResolvedNodeStorageOptions = Required<NodeStorageOptions>;

export function defaultNodeStorageOptions(): ResolvedNodeStorageOptions {
  return {
    segmentSizeBytes: SEGMENT_SIZE_BYTES_DEFAULT,
    tailCacheBytesPerGroup: TAIL_CACHE_BYTES_PER_GROUP_DEFAULT,
    tailCacheBytesPerNode: TAIL_CACHE_BYTES_PER_NODE_DEFAULT,
    sync: true,
    rewriteLiveRatioMax: REWRITE_LIVE_RATIO_MAX_DEFAULT,
    rewriteBytesPerFlushMax: REWRITE_BYTES_PER_FLUSH_MAX_DEFAULT,
    inlineWriteBytesMax: INLINE_WRITE_BYTES_MAX_DEFAULT,
    commitIndexWriteIntervalMs: COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT,
    onSync: () => {},
  };
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Fills defaults and checks every field; throws InvalidOptionsError naming the first bad one. */
export function resolveNodeStorageOptions(options: NodeStorageOptions = {}): ResolvedNodeStorageOptions {
  const known = new Set(Object.keys(defaultNodeStorageOptions()));
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new InvalidOptionsError(`unknown option ${JSON.stringify(key)}`);
  }
  const resolved: ResolvedNodeStorageOptions = { ...defaultNodeStorageOptions() };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  checkInteger("segmentSizeBytes", resolved.segmentSizeBytes, SEGMENT_SIZE_BYTES_MIN, SEGMENT_SIZE_BYTES_MAX);
  checkInteger("tailCacheBytesPerGroup", resolved.tailCacheBytesPerGroup, 0, Number.MAX_SAFE_INTEGER);
  checkInteger("tailCacheBytesPerNode", resolved.tailCacheBytesPerNode, 0, Number.MAX_SAFE_INTEGER);
  if (resolved.tailCacheBytesPerGroup > resolved.tailCacheBytesPerNode) {
    throw new InvalidOptionsError(
      `tailCacheBytesPerGroup (${resolved.tailCacheBytesPerGroup}) must not exceed tailCacheBytesPerNode (${resolved.tailCacheBytesPerNode})`,
    );
  }
  if (typeof resolved.onSync !== "function") {
    throw new InvalidOptionsError(`onSync must be a function, got ${typeof resolved.onSync}`);
  }
  if (typeof resolved.sync !== "boolean")
    throw new InvalidOptionsError(`sync must be a boolean, got ${String(resolved.sync)}`);
  const ratio = resolved.rewriteLiveRatioMax;
  if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
    throw new InvalidOptionsError(`rewriteLiveRatioMax must be a number in [0, 1], got ${String(ratio)}`);
  }
  checkInteger("rewriteBytesPerFlushMax", resolved.rewriteBytesPerFlushMax, 1, 2 ** 31);
  checkInteger("inlineWriteBytesMax", resolved.inlineWriteBytesMax, 0, FLUSH_BYTES_MAX);
  checkInteger("commitIndexWriteIntervalMs", resolved.commitIndexWriteIntervalMs, 0, 2 ** 31);
  return resolved;
}
