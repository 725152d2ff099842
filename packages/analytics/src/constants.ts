/** Limits, defaults and timings of stream analytics, each with its unit in the name. */

/** Application names: as stream names, shorter, so the internal names built from them fit. */
export const APPLICATION_NAME_LENGTH_MAX = 64;
export const APPLICATION_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
/** The SQL text of one application. */
export const SQL_LENGTH_MAX = 16_384;

/** The internal stream that holds every application definition (create and delete events, in order). */
export const DEFINITIONS_STREAM_NAME = "__sluice-analytics-definitions";
// The definitions stream's limits and the runner's poll interval are the SDK's (DefinitionsStream).
export {
  DEFINITIONS_POLL_INTERVAL_MS,
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
} from "@sluice/client";

/** Each application keeps its snapshots in a one-shard stream of this prefix, name and id. */
export const STATE_STREAM_PREFIX = "__analytics-state-";
/** The state stream's retention: a snapshot older than this is gone, so keep it well above the snapshot interval. */
export const STATE_RETENTION_HOURS = 168;
/** The consumer group whose one lease (the state stream's shard) says which node runs an application. */
export const APPLICATION_GROUP_PREFIX = "__analytics-";

/** Allowed lateness: how far behind the newest time seen a record may be and still count. @default 0 */
export const ALLOWED_LATENESS_MS_DEFAULT = 0;
export const ALLOWED_LATENESS_MS_MAX = 24 * 3_600_000;
/** Window sizes and slides. */
export const WINDOW_MS_MIN = 1;
export const WINDOW_MS_MAX = 7 * 24 * 3_600_000;
/** Windows a record may fall into with HOP (size / slide). */
export const HOP_WINDOWS_PER_RECORD_MAX = 1_000;
/** Groups (window × key) held open at once; a record that would open one more is dropped and counted. */
export const OPEN_GROUPS_MAX = 1_000_000;
/** Distinct values kept per COUNT(DISTINCT) per group (exact up to this; counted as overflow beyond). */
export const DISTINCT_VALUES_PER_GROUP_MAX = 100_000;

/** Records per GetRecords call on the input. */
export const INPUT_READ_LIMIT_RECORDS = 10_000;
/** Pause when every input shard was at its tip. */
export const INPUT_IDLE_POLL_MS = 200;
/** How often the input's shard list is read again (reshards, new shards). */
export const INPUT_SHARD_REFRESH_MS = 10_000;
/**
 * An input shard with no record for this long, at its tip, no longer holds the watermark back;
 * when every shard is idle the watermark follows the wall clock (the idle-shard timer).
 */
export const IDLE_SHARD_TIMEOUT_MS = 2_000;

/** A snapshot is written at least this often while input flows (bounds the replay after a crash). */
export const SNAPSHOT_INTERVAL_MS = 5_000;
/** Bytes of one state record (gzip-compressed snapshot chunk); a snapshot is at most 500 of them in one PutRecords. */
export const SNAPSHOT_CHUNK_BYTES = 900_000;
export const SNAPSHOT_CHUNKS_MAX = 5;
/** Output records per PutRecords (Kinesis' limit) and bytes per request. */
export const OUTPUT_BATCH_RECORDS_MAX = 500;
export const OUTPUT_BATCH_BYTES_MAX = 4 * 1_048_576;
/** An output record's size limit (Kinesis'). */
export const OUTPUT_RECORD_BYTES_MAX = 1_048_576;

/** Backoff between attempts of a failed call (read, snapshot, output), doubling up to the max. */
export const RETRY_BACKOFF_MS_MIN = 100;
export const RETRY_BACKOFF_MS_MAX = 5_000;
/** How long `stop()` waits for a running application to reach a safe point. */
export const STOP_TIMEOUT_MS = 10_000;

/** Rows `preview` prints by default. */
export const PREVIEW_ROWS_DEFAULT = 20;

if (SNAPSHOT_CHUNK_BYTES * SNAPSHOT_CHUNKS_MAX > 5 * 1_048_576)
  throw new Error("a snapshot must fit one PutRecords");
if (RETRY_BACKOFF_MS_MIN > RETRY_BACKOFF_MS_MAX) throw new Error("backoff range is empty");
if (WINDOW_MS_MIN > WINDOW_MS_MAX) throw new Error("window range is empty");
