/**
 * Limits and defaults of raft-ts, each a named constant with its unit in the name. Relations
 * between them are asserted when this module loads, so a bad edit fails at once, not in
 * production (TigerBeetle's constants.zig).
 */

/** Ticks without hearing from a leader before a follower campaigns (randomized up to twice this). */
export const DEFAULT_ELECTION_TICKS = 10;
/** Ticks between leader heartbeats. */
export const DEFAULT_HEARTBEAT_TICKS = 1;
/** Largest accepted election timeout, in ticks. */
export const MAX_ELECTION_TICKS = 1_000_000;
/** Default number of append messages in flight to one follower in the replicate state. */
export const MAX_INFLIGHT_APPENDS = 256;
/** Largest accepted `maxInflightAppends`. */
export const MAX_INFLIGHT_APPENDS_LIMIT = 65_536;
/** Default upper bound of entry data bytes in one append message. */
export const DEFAULT_MAX_APPEND_BYTES = 1_048_576;
/** Default bytes of uncommitted entry data a leader accepts before dropping proposals. */
export const DEFAULT_MAX_UNCOMMITTED_BYTES = 64 * 1_048_576;
/** Default largest single entry, in bytes (a Kinesis PutRecords batch is at most 5 MiB). */
export const DEFAULT_MAX_PROPOSAL_BYTES = 8 * 1_048_576;
/** Default committed entry bytes handed out in one Ready. */
export const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 8 * 1_048_576;
/** Largest accepted `maxReadiesInFlight` (Readys handed out and not yet advanced). */
export const MAX_READIES_IN_FLIGHT_LIMIT = 1024;
/** ReadIndex requests a leader queues before it has committed an entry of its term, or awaiting a heartbeat round. */
export const MAX_PENDING_READ_INDEX_REQUESTS = 4096;
/** Largest ReadIndex context, in bytes. */
export const MAX_READ_INDEX_CONTEXT_BYTES = 1024;

function assertConstant(condition: boolean, message: string): void {
  if (!condition) throw new Error(`raft-ts constants: ${message}`);
}

assertConstant(DEFAULT_HEARTBEAT_TICKS >= 1, "heartbeat ticks must be at least 1");
assertConstant(
  DEFAULT_HEARTBEAT_TICKS < DEFAULT_ELECTION_TICKS,
  "heartbeats must come more often than elections",
);
assertConstant(DEFAULT_ELECTION_TICKS <= MAX_ELECTION_TICKS, "default election ticks within the limit");
assertConstant(
  MAX_INFLIGHT_APPENDS >= 1 && MAX_INFLIGHT_APPENDS <= MAX_INFLIGHT_APPENDS_LIMIT,
  "inflight default within limit",
);
assertConstant(
  DEFAULT_MAX_PROPOSAL_BYTES <= DEFAULT_MAX_UNCOMMITTED_BYTES,
  "one proposal must fit in the uncommitted budget",
);
assertConstant(
  DEFAULT_MAX_APPEND_BYTES <= DEFAULT_MAX_UNCOMMITTED_BYTES,
  "an append fits in the uncommitted budget",
);
assertConstant(
  DEFAULT_MAX_COMMITTED_BYTES_PER_READY >= DEFAULT_MAX_APPEND_BYTES,
  "a Ready can apply what one append carries",
);
