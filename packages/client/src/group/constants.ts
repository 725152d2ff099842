/** Timings and limits of the consumer-group worker. */

/** Pause between GetRecords calls that returned nothing (Kinesis allows 5 reads/s per shard). */
export const GROUP_IDLE_POLL_MS = 250;
/** Records per GetRecords call. */
export const GROUP_GET_RECORDS_LIMIT = 1_000;
/** Deadline of each call to the cluster. */
export const GROUP_CALL_TIMEOUT_MS = 10_000;
/** Backoff after a retriable failure (throttled, unavailable), doubling up to the max. */
export const GROUP_RETRY_BACKOFF_MS_MIN = 100;
export const GROUP_RETRY_BACKOFF_MS_MAX = 2_000;
