/**
 * What a benchmark target is: a running system (Sluice over gRPC or HTTP, a Kinesis emulator, the
 * null endpoint, NATS JetStream) reached through one driver that speaks its client API, so every
 * workload runs the identical sequence of calls against each.
 */

export const TARGET_NAMES = [
  "sluice-grpc",
  "sluice-http",
  "null",
  "kinesalite",
  "kinesis-local",
  "jetstream",
  "jetstream-sync",
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/**
 * What `scripts/bench` runs without --targets: every target but `jetstream-sync`, which needs
 * nats-server 2.10 or later (`sync_interval`); Debian's package is 2.9.
 */
export const DEFAULT_TARGET_NAMES: readonly TargetName[] = TARGET_NAMES.filter(
  (name) => name !== "jetstream-sync",
);

/** How a consumer learns of new records: GetRecords every POLL_INTERVAL_MS, or a push subscription. */
export type ConsumeMode = "poll" | "subscribe";

export interface BenchRecord {
  readonly partitionKey: string;
  /** Owned by the caller; drivers only read it. */
  readonly data: Buffer;
}

/** Called for every record a consumer receives, with the time it arrived (ms, see `nowMs`). */
export type RecordHandler = (data: Uint8Array, receivedAtMs: number) => void;

export interface Consumption {
  /** Stops reading on every shard; resolves once no more records will be handed over. */
  close(): Promise<void>;
  /** Errors the consumer met and survived (throttling excluded), for the report. */
  readonly errors: () => number;
}

export interface BenchDriver {
  /** Creates a stream of `shardCount` shards and resolves once every endpoint accepts writes to it. */
  createStream(streamName: string, shardCount: number): Promise<void>;
  /**
   * Puts `records` in one call (JetStream: one publish per record, awaited together) through the
   * endpoint of `caller` (callers are spread over the endpoints); resolves to the number of records
   * that failed, rejects when the whole call failed.
   */
  putRecords(streamName: string, records: readonly BenchRecord[], caller: number): Promise<number>;
  /** Puts one record and resolves once it is acknowledged. */
  putRecord(streamName: string, record: BenchRecord, caller: number): Promise<void>;
  /** The consume modes this target offers; the others are reported as not available. */
  readonly consumeModes: readonly ConsumeMode[];
  /** Reads every shard of the stream from its tip (LATEST) on, handing each record to `onRecord`. */
  consume(streamName: string, mode: ConsumeMode, onRecord: RecordHandler): Promise<Consumption>;
  /** Closes the driver's connections. */
  close(): Promise<void>;
}

export interface BenchTarget {
  readonly name: TargetName;
  /** What runs, in a few words: "3 nodes, gRPC", "kinesalite 3.3.3, in memory". */
  readonly description: string;
  /** When an acknowledged record is safe: "quorum of 3, fsync before ack", "memory only". */
  readonly durability: string;
  readonly driver: BenchDriver;
  /** The server processes (CPU and memory are measured per process); empty when none. */
  pids(): readonly number[];
  /** Stops the driver and every process the target started. */
  stop(): Promise<void>;
}

/** Milliseconds on one clock shared by sender and receiver (this process), sub-ms precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Byte 8 of a delivery record tells the warm-up records (0) from the measured ones (1); bytes
 * 0–7 hold the send time (float64 LE, `nowMs`).
 */
export const DELIVERY_PHASE_OFFSET = 8;
export const DELIVERY_PHASE_WARM_UP = 0;
export const DELIVERY_PHASE_MEASURED = 1;
