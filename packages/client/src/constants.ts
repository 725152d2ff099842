/**
 * Limits and defaults of the SDK, each with its unit in the name. Where limits relate, the
 * relation is asserted when the module loads.
 */

/** A unary call that is given no deadline gets this one. */
export const CALL_DEADLINE_MS_DEFAULT = 10_000;
/** An endpoint that failed to connect is skipped by round robin for this long. */
export const ENDPOINT_DOWN_MS = 1_000;
/** Pause between two full rounds over the endpoints when every one refused the call. */
export const FAILOVER_ROUND_PAUSE_MS = 100;
/** gRPC message size limit, as the public port's (32 MiB): room for 5 MiB batches and 8 MiB reads. */
export const GRPC_MESSAGE_BYTES_MAX = 32 * 1_048_576;
/** grpc-js reconnect backoff to a node that went away: short, since a restarted node is back soon. */
export const RECONNECT_BACKOFF_MS_INITIAL = 100;
export const RECONNECT_BACKOFF_MS_MAX = 1_000;

/** Kinesis limits of one PutRecords request. */
export const PUT_RECORDS_RECORDS_MAX = 500;
export const PUT_RECORDS_BYTES_MAX = 5 * 1_048_576;
/** Kinesis limit of one record's data plus partition key. */
export const RECORD_BYTES_MAX = 1_048_576;
export const PARTITION_KEY_LENGTH_MAX = 256;

/** Producer defaults (see ProducerOptions). */
export const PRODUCER_BATCH_RECORDS_DEFAULT = PUT_RECORDS_RECORDS_MAX;
export const PRODUCER_BATCH_BYTES_DEFAULT = PUT_RECORDS_BYTES_MAX;
export const PRODUCER_LINGER_MS_DEFAULT = 10;
export const PRODUCER_IN_FLIGHT_REQUESTS_DEFAULT = 8;
export const PRODUCER_BUFFER_BYTES_DEFAULT = 8 * 1_048_576;
export const PRODUCER_RECORD_TIMEOUT_MS_DEFAULT = 120_000;
export const PRODUCER_RETRY_BACKOFF_MS_BASE = 50;
export const PRODUCER_RETRY_BACKOFF_MS_MAX = 2_000;
/** Each PutRecords request of the producer gets this deadline. */
export const PRODUCER_REQUEST_DEADLINE_MS = 30_000;
/** The producer's shard map (for per-shard throttling counters) is refreshed at most this often. */
export const PRODUCER_SHARD_MAP_REFRESH_MS = 5_000;
/** Records taken from the ready queue per batch are bounded by this many skipped keys too. */
export const LINGER_MS_MAX = 10_000;

/** Reader defaults (see ShardReaderOptions). */
export const READ_LIMIT_RECORDS_DEFAULT = 10_000;
export const READ_LIMIT_RECORDS_MAX = 10_000;
/** Pause between two GetRecords calls that found nothing at the tip of an open shard. */
export const READ_IDLE_POLL_MS = 200;
/** Backoff after a throttled read, doubled up to the max. */
export const READ_THROTTLE_BACKOFF_MS_BASE = 200;
export const READ_THROTTLE_BACKOFF_MS_MAX = 5_000;
/** A stream reader lists the shards again this often to find children of reshards. */
export const STREAM_READER_RELIST_MS = 1_000;
/** A subscription is resubscribed after a retriable failure after this pause (doubled up to the max). */
export const SUBSCRIBE_RETRY_MS_BASE = 100;
export const SUBSCRIBE_RETRY_MS_MAX = 3_000;
/** A subscription gives up when resubscribing failed for this long in a row. */
export const SUBSCRIBE_RETRY_WINDOW_MS = 60_000;

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`@sluice/client constants: ${what}`);
}
check(PRODUCER_BATCH_RECORDS_DEFAULT <= PUT_RECORDS_RECORDS_MAX, "a default batch fits one PutRecords");
check(PRODUCER_BATCH_BYTES_DEFAULT <= PUT_RECORDS_BYTES_MAX, "a default batch fits one PutRecords");
check(PUT_RECORDS_BYTES_MAX < GRPC_MESSAGE_BYTES_MAX, "a full batch fits one gRPC message");
check(PRODUCER_BUFFER_BYTES_DEFAULT >= PUT_RECORDS_BYTES_MAX, "the buffer holds at least one full batch");
check(PRODUCER_RETRY_BACKOFF_MS_BASE <= PRODUCER_RETRY_BACKOFF_MS_MAX, "backoff base ≤ max");
check(READ_THROTTLE_BACKOFF_MS_BASE <= READ_THROTTLE_BACKOFF_MS_MAX, "backoff base ≤ max");
