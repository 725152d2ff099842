/** Limits and defaults of the test harness, each with its unit in the name. */

/** Every node of a harness cluster uses this many consecutive ports from its base. */
export const PORTS_PER_NODE = 4;
/** A started or restarted node must serve (gRPC health SERVING) within this time. */
export const NODE_START_TIMEOUT_MS_DEFAULT = 30_000;
/** A node sent SIGTERM must exit within this time before the harness sends SIGKILL. */
export const NODE_STOP_TIMEOUT_MS_DEFAULT = 25_000;
/** Deadline of one admin call. */
export const ADMIN_CALL_TIMEOUT_MS_DEFAULT = 10_000;
/** Interval between two evaluations of a `waitFor` condition. */
export const WAIT_INTERVAL_MS_DEFAULT = 25;
/** How many lines of a node's log a failure message quotes. */
export const LOG_TAIL_LINES = 15;
/** gRPC client message limit, matching the node's. */
export const GRPC_MESSAGE_BYTES_MAX = 32 * 1_048_576;
/** HTTP/2 receive window of the admin client's connections (responses), in bytes. */
export const GRPC_STREAM_WINDOW_BYTES = 4 * 1_048_576;
/** A reconnecting admin client retries a restarted node this often at least. */
export const RECONNECT_BACKOFF_MS_MAX = 500;
/** Deadline of one public-API call from the harness's StreamsClient. */
export const STREAMS_CALL_TIMEOUT_MS_DEFAULT = 15_000;
/**
 * The first Raft group id the metadata controller gives a shard (metadata's FIRST_SHARD_GROUP_ID,
 * 2^20); a stream created alone in a fresh cluster holds the consecutive ids from here, shard i
 * in group SHARD_GROUP_ID_MIN + i. Lower ids are groups made through the admin API.
 */
export const SHARD_GROUP_ID_MIN = 1_048_576;
/** Records asked for by one GetRecords call of `readShard` (the Kinesis maximum). */
export const READ_SHARD_PAGE_RECORDS_MAX = 10_000;
/** A throttled GetRecords (5 calls/s per shard by default) is tried again after this long. */
export const READ_SHARD_THROTTLE_BACKOFF_MS = 200;
/** The public API's service name, as gRPC health knows it. */
export const STREAMS_SERVICE_NAME = "sluice.v1.StreamsService";
/** Deadline of a whole `readStreamByLineage` read. */
export const LINEAGE_READ_TIMEOUT_MS_DEFAULT = 60_000;
/** Records per PutRecords of a KeyedLoad producer at most (the Kinesis maximum). */
export const KEYED_LOAD_BATCH_RECORDS_MAX = 500;
/** Deadline of one KeyedLoad PutRecords call. */
export const KEYED_LOAD_CALL_TIMEOUT_MS = 15_000;
/** A KeyedLoad producer with nothing due checks again after this long. */
export const KEYED_LOAD_PACE_INTERVAL_MS = 5;
/** Data bytes of a keyed record: the key and its counter, two big-endian u32. */
export const KEYED_RECORD_BYTES = 8;
