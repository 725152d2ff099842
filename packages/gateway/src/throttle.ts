/**
 * Per-shard throughput limits as token buckets, checked on the shard's leader: write bytes and
 * records per second, read bytes and GetRecords calls per second (Kinesis's defaults: 1 MiB/s
 * and 1,000 records/s in, 2 MiB/s and 5 calls/s out). Each bucket holds at most one second of
 * tokens and starts full. Time is the caller's `nowMs` (no timers, no clock reads), so tests
 * drive it directly; a clock that steps back refills nothing.
 *
 * A write takes the longest prefix of its records that fits; Kinesis fails the rest with
 * ProvisionedThroughputExceededException and the others succeed. A read is admitted while a call
 * token is left and the byte bucket is not in debt; its bytes are charged after the read, and may
 * take the bucket into debt (a 10 MiB read at 2 MiB/s keeps the next reads out for about four
 * seconds, as Kinesis does).
 */
import {
  GET_RECORDS_BYTES_MAX,
  READ_BYTES_PER_SECOND_DEFAULT,
  READ_CALLS_PER_SECOND_DEFAULT,
  THROTTLE_EVICTION_SCAN_MAX,
  THROTTLED_SHARDS_MAX,
  WRITE_BYTES_PER_SECOND_DEFAULT,
  WRITE_RECORDS_PER_SECOND_DEFAULT,
} from "./constants.js";

/** Rates per shard. `Infinity` turns a limit off (ON_DEMAND streams). */
export interface ThrottleLimits {
  /** @default 1 MiB (WRITE_BYTES_PER_SECOND_DEFAULT) */
  readonly writeBytesPerSecond: number;
  /** @default 1,000 (WRITE_RECORDS_PER_SECOND_DEFAULT) */
  readonly writeRecordsPerSecond: number;
  /** @default 2 MiB (READ_BYTES_PER_SECOND_DEFAULT) */
  readonly readBytesPerSecond: number;
  /** @default 5 (READ_CALLS_PER_SECOND_DEFAULT) */
  readonly readCallsPerSecond: number;
}

/** Kinesis's per-shard limits. */
export function defaultThrottleLimits(): ThrottleLimits {
  return {
    writeBytesPerSecond: WRITE_BYTES_PER_SECOND_DEFAULT,
    writeRecordsPerSecond: WRITE_RECORDS_PER_SECOND_DEFAULT,
    readBytesPerSecond: READ_BYTES_PER_SECOND_DEFAULT,
    readCallsPerSecond: READ_CALLS_PER_SECOND_DEFAULT,
  };
}

/** No limit at all (ON_DEMAND streams are not throttled per shard). */
export const UNLIMITED_THROTTLE_LIMITS: ThrottleLimits = Object.freeze({
  writeBytesPerSecond: Number.POSITIVE_INFINITY,
  writeRecordsPerSecond: Number.POSITIVE_INFINITY,
  readBytesPerSecond: Number.POSITIVE_INFINITY,
  readCallsPerSecond: Number.POSITIVE_INFINITY,
});

/** Throws RangeError unless every rate is a positive number (finite or Infinity). */
export function validateThrottleLimits(limits: ThrottleLimits): void {
  for (const key of [
    "writeBytesPerSecond",
    "writeRecordsPerSecond",
    "readBytesPerSecond",
    "readCallsPerSecond",
  ] as const) {
    const value = limits[key];
    if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
      throw new RangeError(`throttle limits: ${key} must be a positive number or Infinity, got ${value}`);
    }
  }
}

/** One token bucket: `capacity` tokens (one second's worth), refilled at `capacity` per second. */
class TokenBucket {
  private capacity: number;
  private tokens: number;
  private lastMs: number;

  constructor(perSecond: number, nowMs: number) {
    this.capacity = perSecond;
    this.tokens = perSecond;
    this.lastMs = nowMs;
  }

  get unlimited(): boolean {
    return this.capacity === Number.POSITIVE_INFINITY;
  }

  /** Tokens available at `nowMs` (negative while in debt). */
  available(nowMs: number): number {
    if (nowMs > this.lastMs) {
      if (!this.unlimited) {
        this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) * this.capacity) / 1000);
      }
      this.lastMs = nowMs;
    }
    return this.tokens;
  }

  /** True when the bucket holds its full second of tokens. */
  full(nowMs: number): boolean {
    return this.unlimited || this.available(nowMs) >= this.capacity;
  }

  /** Takes `amount` tokens; the caller checked `available` first, or accepts debt down to −`debtMax`. */
  take(amount: number, debtMax = 0): void {
    if (this.unlimited) return;
    this.tokens = Math.max(this.tokens - amount, -debtMax);
  }

  setRate(perSecond: number, nowMs: number): void {
    this.available(nowMs);
    this.capacity = perSecond;
    this.tokens = Math.min(this.tokens, perSecond);
    if (this.unlimited) this.tokens = perSecond;
  }
}

/** The four buckets of one shard. */
export class ShardThrottle {
  private readonly writeBytes: TokenBucket;
  private readonly writeRecords: TokenBucket;
  private readonly readBytes: TokenBucket;
  private readonly readCalls: TokenBucket;
  private limitsValue: ThrottleLimits;

  /** Buckets start full at `nowMs`. Throws RangeError for invalid limits. */
  constructor(limits: ThrottleLimits = defaultThrottleLimits(), nowMs = 0) {
    validateThrottleLimits(limits);
    this.limitsValue = limits;
    this.writeBytes = new TokenBucket(limits.writeBytesPerSecond, nowMs);
    this.writeRecords = new TokenBucket(limits.writeRecordsPerSecond, nowMs);
    this.readBytes = new TokenBucket(limits.readBytesPerSecond, nowMs);
    this.readCalls = new TokenBucket(limits.readCallsPerSecond, nowMs);
  }

  get limits(): ThrottleLimits {
    return this.limitsValue;
  }

  /** Changes the rates; tokens above the new capacity are dropped. Throws RangeError for invalid limits. */
  setLimits(limits: ThrottleLimits, nowMs: number): void {
    validateThrottleLimits(limits);
    this.limitsValue = limits;
    this.writeBytes.setRate(limits.writeBytesPerSecond, nowMs);
    this.writeRecords.setRate(limits.writeRecordsPerSecond, nowMs);
    this.readBytes.setRate(limits.readBytesPerSecond, nowMs);
    this.readCalls.setRate(limits.readCallsPerSecond, nowMs);
  }

  /**
   * Admits the longest prefix of `records` records that fits and takes its tokens; returns its
   * length (0 … records). `sizes` gives each record's bytes (data plus partition key), as an
   * array or as a function of the record's position. A full byte bucket admits one record of any
   * size (going into debt), so a limit below the largest record cannot starve a shard.
   */
  tryWrite(
    records: number,
    sizes: ArrayLike<number> | ((position: number) => number),
    nowMs: number,
  ): number {
    let recordTokens = this.writeRecords.available(nowMs);
    let byteTokens = this.writeBytes.available(nowMs);
    const byteCapacity = this.limitsValue.writeBytesPerSecond;
    const sizeOf = typeof sizes === "function" ? sizes : (position: number) => sizes[position] as number;
    let admitted = 0;
    let admittedBytes = 0;
    while (admitted < records && recordTokens >= 1) {
      const size = sizeOf(admitted);
      if (size > byteTokens && byteTokens < byteCapacity) break;
      byteTokens -= size;
      recordTokens -= 1;
      admittedBytes += size;
      admitted++;
    }
    this.writeRecords.take(admitted);
    this.writeBytes.take(admittedBytes, byteCapacity);
    return admitted;
  }

  /**
   * Admits one GetRecords call when a call token is left and the read byte bucket is not in
   * debt, taking the call token. False means: fail with ProvisionedThroughputExceededException.
   */
  tryRead(nowMs: number): boolean {
    if (this.readCalls.available(nowMs) < 1 || this.readBytes.available(nowMs) <= 0) return false;
    this.readCalls.take(1);
    return true;
  }

  /** Charges the bytes a GetRecords call returned; the bucket may go into debt (down to one call's maximum). */
  chargeRead(bytes: number, nowMs: number): void {
    this.readBytes.available(nowMs);
    this.readBytes.take(bytes, GET_RECORDS_BYTES_MAX);
  }

  /** True when every bucket is full: forgetting this throttle changes nothing. */
  idle(nowMs: number): boolean {
    return (
      this.writeBytes.full(nowMs) &&
      this.writeRecords.full(nowMs) &&
      this.readBytes.full(nowMs) &&
      this.readCalls.full(nowMs)
    );
  }
}

export interface ThrottleRegistryOptions {
  /** Limits of a shard whose `get` names none. @default defaultThrottleLimits() */
  readonly limits?: ThrottleLimits;
  /** Shards kept at most; beyond it the least recently used is forgotten. @default THROTTLED_SHARDS_MAX */
  readonly shardsMax?: number;
}

/**
 * The throttles of the shards this node leads, keyed by the shard's group id. Bounded: past
 * `shardsMax` the least recently used throttle is forgotten (idle ones first in practice, as
 * they are the least recently used; a forgotten one comes back full, which at worst admits one
 * extra second of traffic).
 */
export class ThrottleRegistry {
  private readonly throttles = new Map<number, ShardThrottle>();
  private readonly limits: ThrottleLimits;
  private readonly shardsMax: number;

  constructor(options: ThrottleRegistryOptions = {}) {
    this.limits = options.limits ?? defaultThrottleLimits();
    validateThrottleLimits(this.limits);
    this.shardsMax = options.shardsMax ?? THROTTLED_SHARDS_MAX;
    if (!Number.isSafeInteger(this.shardsMax) || this.shardsMax < 1) {
      throw new RangeError(`ThrottleRegistry: shardsMax must be a positive integer, got ${this.shardsMax}`);
    }
  }

  /** Shards tracked. */
  get size(): number {
    return this.throttles.size;
  }

  /**
   * The throttle of group `groupId`, created full at `nowMs` if unknown. With `limits`, a
   * throttle whose limits object differs takes the new ones (per-stream configuration).
   */
  get(groupId: number, nowMs: number, limits?: ThrottleLimits): ShardThrottle {
    let throttle = this.throttles.get(groupId);
    if (throttle === undefined) {
      throttle = new ShardThrottle(limits ?? this.limits, nowMs);
      if (this.throttles.size >= this.shardsMax) this.evictOne(nowMs);
    } else {
      this.throttles.delete(groupId); // re-inserted below: the Map's order is recency
      if (limits !== undefined && limits !== throttle.limits) throttle.setLimits(limits, nowMs);
    }
    this.throttles.set(groupId, throttle);
    return throttle;
  }

  /** Forgets the throttle of `groupId` (the node stopped leading the shard). */
  delete(groupId: number): void {
    this.throttles.delete(groupId);
  }

  /** Forgets every throttle that is idle at `nowMs`; returns how many. */
  sweep(nowMs: number): number {
    let removed = 0;
    for (const [groupId, throttle] of this.throttles) {
      if (throttle.idle(nowMs)) {
        this.throttles.delete(groupId);
        removed++;
      }
    }
    return removed;
  }

  private evictOne(nowMs: number): void {
    // The least recently used first; prefer an idle one among the oldest few.
    let scanned = 0;
    for (const [groupId, throttle] of this.throttles) {
      if (throttle.idle(nowMs)) {
        this.throttles.delete(groupId);
        return;
      }
      if (++scanned >= THROTTLE_EVICTION_SCAN_MAX) break;
    }
    const oldest = this.throttles.keys().next();
    if (oldest.done !== true) this.throttles.delete(oldest.value);
  }
}
