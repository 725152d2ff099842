/** Limits, defaults and timings of delivery streams, each with its unit in the name. */

const MIB = 1_048_576;

/** Buffering hints: a batch closes at whichever of size and interval comes first (Firehose's ranges). */
export const BUFFER_SIZE_MIB_MIN = 1;
export const BUFFER_SIZE_MIB_MAX = 128;
export const BUFFER_SIZE_BYTES_DEFAULT = 5 * MIB;
export const BUFFER_INTERVAL_S_MIN = 0;
export const BUFFER_INTERVAL_S_MAX = 900;
export const BUFFER_INTERVAL_MS_DEFAULT = 300_000;
export const BYTES_PER_MIB = MIB;

/** Delivery stream names: as stream names, shorter, so the backing names fit. */
export const DELIVERY_STREAM_NAME_LENGTH_MAX = 64;
export const DELIVERY_STREAM_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** The internal stream that holds every definition (create and delete events, in order). */
export const DEFINITIONS_STREAM_NAME = "__sluice-delivery-definitions";
// The definitions stream's limits and the runner's poll interval are the SDK's (DefinitionsStream).
export {
  DEFINITIONS_POLL_INTERVAL_MS,
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
} from "@sluice/client";

/** Direct-put delivery streams are backed by a Sluice stream of this name prefix. */
export const DIRECT_PUT_STREAM_PREFIX = "__firehose-";
/** Shards of the backing stream of a direct-put delivery stream. */
export const DIRECT_PUT_SHARD_COUNT_DEFAULT = 2;
export const DIRECT_PUT_SHARD_COUNT_MAX = 64;
/** Consumer groups of delivery workers are named with this prefix, the name and the definition id. */
export const DELIVERY_GROUP_PREFIX = "__delivery-";

/** Firehose's put limits. */
export const FIREHOSE_RECORD_BYTES_MAX = 1_024_000;
export const FIREHOSE_BATCH_RECORDS_MAX = 500;
export const FIREHOSE_BATCH_BYTES_MAX = 4 * MIB;

/** Backoff between attempts to write a batch the destination refused, doubling up to the max. */
export const DELIVERY_RETRY_BACKOFF_MS_MIN = 100;
export const DELIVERY_RETRY_BACKOFF_MS_MAX = 5_000;
/** A batch the destination keeps refusing with a permanent error goes to the error output after this. @default Firehose's 300 s */
export const DELIVERY_RETRY_DURATION_MS_DEFAULT = 300_000;
/** How long `stop()` tries to deliver what is buffered before it leaves the rest to the next owner. */
export const STOP_FLUSH_TIMEOUT_MS = 10_000;

/** Folder (files) or key prefix (S3) of the per-shard intent of the batch being written. */
export const INTENTS_FOLDER = ".sluice-intents";

/** PostgreSQL: rows per COPY statement inside one batch's transaction. */
export const POSTGRES_COPY_ROWS_MAX = 50_000;
/** The ledger table of the last sequence number delivered per delivery stream and shard. */
export const POSTGRES_LEDGER_TABLE = "sluice_delivery_ledger";

/** Delivery latencies kept for the p50/p99 of the metrics (a ring). */
export const LATENCY_SAMPLES_MAX = 1_024;

if (BUFFER_SIZE_BYTES_DEFAULT > BUFFER_SIZE_MIB_MAX * MIB)
  throw new Error("default buffer size over the max");
if (DELIVERY_RETRY_BACKOFF_MS_MIN > DELIVERY_RETRY_BACKOFF_MS_MAX) throw new Error("backoff range is empty");
