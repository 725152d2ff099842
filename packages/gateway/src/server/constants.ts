/**
 * Bounds of the gateway's request handling (the request-shape limits of Kinesis are in
 * ../constants.ts). Every duration is in ms, every size in bytes, named with its unit.
 */
const MIB = 1_048_576;

/** How long a PutRecord(s) keeps retrying a shard's records on a (new) leader before failing them. */
export const PUT_DEADLINE_MS = 10_000;
/**
 * How many times a plain (not idempotent) put sends a shard's records again after an outcome that
 * leaves them possibly written (leadership lost, append timeout, unreachable peer); then they fail
 * with InternalFailure (see put-retry.ts). Bounds the copies one request can write to this + 1.
 */
export const AMBIGUOUS_RESENDS_MAX = 1;
/** First and largest pause between retries of a shard's records (jittered, doubling). */
export const PUT_RETRY_BACKOFF_MS_MIN = 10;
export const PUT_RETRY_BACKOFF_MS_MAX = 200;
/** One forwarded call to a peer may take at most this long (then the peer counts as unreachable). */
export const FORWARD_CALL_TIMEOUT_MS = 3_000;
/** Largest forwarded message: a full PutRecords (5 MiB) with its framing. */
export const FORWARD_MESSAGE_BYTES_MAX = 8 * MIB;
/**
 * The forwarder gathers shard batches for one node into one call up to this many bytes (batches
 * plus FORWARD_BATCH_OVERHEAD_BYTES each); one larger batch (a shard's share of a 5 MiB
 * PutRecords) still goes, alone.
 */
export const FORWARD_BATCHES_BYTES_MAX = 6 * MIB;
/** What a shard batch adds to a ForwardPutRecords message beyond its bytes, at most (ids, tags, lengths). */
export const FORWARD_BATCH_OVERHEAD_BYTES = 32;
if (FORWARD_BATCHES_BYTES_MAX + 64 * 1_024 > FORWARD_MESSAGE_BYTES_MAX) {
  throw new Error("gateway constants: gathered forward batches must fit in one forwarded message");
}
/**
 * Forward requests written to one peer's ForwardStream and not yet answered (or past their
 * deadline), and their bytes, before a new one is refused with PeerUnavailableError (retriable).
 */
export const FORWARD_STREAM_REQUESTS_IN_FLIGHT_MAX = 256;
export const FORWARD_STREAM_BYTES_IN_FLIGHT_MAX = 64 * MIB;
/**
 * Requests of one ForwardStream the leader appends at once; a sender past it is cut off
 * (RESOURCE_EXHAUSTED). Above the sender's own bound, since requests the sender gave up on (past
 * their deadline) may still be appending here.
 */
export const FORWARD_STREAM_REQUESTS_SERVED_MAX = 4 * FORWARD_STREAM_REQUESTS_IN_FLIGHT_MAX;
/** First and largest pause before a failed ForwardStream is opened again (jittered, doubling). */
export const FORWARD_STREAM_RECONNECT_BACKOFF_MS_MIN = 100;
export const FORWARD_STREAM_RECONNECT_BACKOFF_MS_MAX = 1_000;
/** A peer that answered ForwardStream with UNIMPLEMENTED (an older version) gets unary calls this long. */
export const FORWARD_STREAM_UNSUPPORTED_RETRY_MS = 60_000;
/** The sender's receive window on a ForwardStream (answers are small), in bytes. */
export const FORWARD_STREAM_WINDOW_BYTES = 1 * MIB;
/** HTTP/2 state (mostly requests not yet sent) a ForwardStream's session may hold, in MiB. */
export const FORWARD_STREAM_SESSION_MEMORY_MIB = 2 * (FORWARD_STREAM_BYTES_IN_FLIGHT_MAX / MIB);
if (FORWARD_MESSAGE_BYTES_MAX > FORWARD_STREAM_BYTES_IN_FLIGHT_MAX) {
  throw new Error("gateway constants: a whole forwarded message must fit in a stream's bytes in flight");
}
if (FORWARD_STREAM_RECONNECT_BACKOFF_MS_MIN > FORWARD_STREAM_RECONNECT_BACKOFF_MS_MAX) {
  throw new Error("gateway constants: forward stream backoff bounds are ordered");
}
/** Largest public request or response message (GetRecords answers up to 10 MiB of data). */
export const PUBLIC_MESSAGE_BYTES_MAX = 16 * MIB;
/** AT_TIMESTAMP may be this far ahead of this node's clock (clock skew) before it is "in the future". */
export const AT_TIMESTAMP_FUTURE_SKEW_MS = 1_000;
/** A SubscribeToShard stream ends after this long, as in Kinesis; the client resubscribes. */
export const SUBSCRIPTION_DURATION_MS = 300_000;
/** An idle subscription still gets an (empty) event this often. */
export const SUBSCRIBE_IDLE_EVENT_INTERVAL_MS = 1_000;
/** Records and bytes of one SubscribeToShard event at most. */
export const SUBSCRIBE_EVENT_RECORDS_MAX = 10_000;
export const SUBSCRIBE_EVENT_BYTES_MAX = 2 * MIB;
/** How often each node trims its shard replicas past their stream's retention. */
export const RETENTION_SWEEP_INTERVAL_MS = 60_000;
/** ListStreams / DescribeStream / ListShards / ListStreamConsumers page sizes when the request gives none. */
export const LIST_STREAMS_LIMIT_DEFAULT = 100;
/**
 * Streams the cluster keeps for itself start with one of these: the definitions of delivery
 * streams and analytics applications, a Firehose DirectPut delivery's input, an application's
 * state. ListStreams leaves them out (a Kinesis user never sees them); every other operation
 * still reaches them by name. The owners' constants (packages/delivery, packages/analytics) must
 * each start with one of these, which packages/cli/test/internal-streams.test.ts checks.
 */
export const INTERNAL_STREAM_NAME_PREFIXES: readonly string[] = ["__sluice-", "__firehose-", "__analytics-"];
export const DESCRIBE_STREAM_LIMIT_DEFAULT = 100;
export const LIST_SHARDS_LIMIT_DEFAULT = 1_000;
export const LIST_STREAM_CONSUMERS_LIMIT_DEFAULT = 100;
/** A pagination token is valid this long (Kinesis: 300 s). */
export const NEXT_TOKEN_TTL_MS = 300_000;
/** The shard limit DescribeLimits reports (open shards in the cluster). */
export const CLUSTER_SHARD_LIMIT = 4_096;
/** ON_DEMAND streams per cluster, as DescribeLimits reports. */
export const ON_DEMAND_STREAM_COUNT_LIMIT = 50;
/** Without a metadata change listener, how often a wait for a new shard map checks the view. */
export const METADATA_CHANGE_POLL_MS = 5;
/** Longest wait for a new shard map before a put re-routes a sealed shard's records anyway. */
export const PUT_REROUTE_WAIT_MS_MAX = 100;
/** Longest wait, at a sealed shard's end, for the metadata to close it before a reader looks again. */
export const SEALED_SHARD_WAIT_MS_MAX = 100;
/**
 * Idempotent producers remembered per shard by its leader's dedup table (producer-dedup.ts); the
 * least recently used is forgotten beyond it, and a retry from a forgotten producer is not
 * recognised as a duplicate.
 */
export const PRODUCERS_PER_SHARD_MAX = 4_096;
/** Batches remembered per producer per shard: a retry of any of them is answered from the table. */
export const PRODUCER_BATCHES_KEPT = 8;
/**
 * A new leader rebuilds the table from the newest entries of its log, at most this many entries
 * and bytes: a producer whose last write is older is unknown to it (its next sequence is taken
 * as is).
 */
export const PRODUCER_REBUILD_ENTRIES_MAX = 20_000;
export const PRODUCER_REBUILD_BYTES_MAX = 256 * MIB;
/** Longest wait of a duplicate for its original entry to commit before the put retries it. */
export const PRODUCER_DUPLICATE_WAIT_MS_MAX = 5_000;
