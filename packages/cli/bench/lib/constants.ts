/**
 * Limits and defaults of `scripts/bench` (issue #11), units in the names. Every server the bench
 * starts listens on 127.0.0.1 in the range BENCH_PORT_MIN … BENCH_PORT_MAX.
 */

/** Bytes of every record of every workload (the 1 KiB). */
export const RECORD_BYTES = 1_024;
/** Shards of every stream (JetStream: subjects `<stream>.<shard>`). */
export const SHARD_COUNT_DEFAULT = 4;
/** Concurrent producers of the PutRecords workload. */
export const PRODUCERS_DEFAULT = 8;
/** Records per PutRecords call (Kinesis allows 500). */
export const BATCH_RECORDS_DEFAULT = 100;
/** Kinesis's limit on records per PutRecords call. */
export const BATCH_RECORDS_MAX = 500;
/** Callers of the closed-loop PutRecord workload, one run each. */
export const PUT_RECORD_CALLERS_DEFAULT: readonly number[] = [1, 32];
/** Records per second the open-loop sender of the delivery workload puts. */
export const DELIVERY_RATE_PER_SECOND_DEFAULT = 1_000;
/** The delivery sender wakes this often and puts the records due in one PutRecords (a 5 ms linger). */
export const DELIVERY_PACE_INTERVAL_MS = 5;
/** Records per warm-up batch of the delivery workload: enough random keys to reach every shard. */
export const DELIVERY_WARM_UP_RECORDS = 64;
/** How long the delivery workload waits for the records still in flight after the sender stopped. */
export const DELIVERY_DRAIN_TIMEOUT_MS = 15_000;
/** How long the consumers may take to deliver a warm-up batch in full before the workload gives up. */
export const CONSUMER_LIVE_TIMEOUT_MS = 60_000;
/**
 * A polling consumer calls GetRecords on each shard at most this often: Kinesis allows 5 calls per
 * second per shard (Sluice enforces the same), so 200 ms is the fastest a polling consumer may go.
 */
export const POLL_INTERVAL_MS = 200;
/** Records one GetRecords call asks for. */
export const POLL_LIMIT_RECORDS = 10_000;
/** Seconds each workload runs, after its warm-up. */
export const SECONDS_DEFAULT = 10;
/** Warm-up before each measured workload: min(this, --seconds). */
export const WARM_UP_SECONDS_MAX = 2;
/** `--smoke`: seconds per workload, warm-up and delivery rate (a quick run that proves the bench works). */
export const SMOKE_SECONDS = 1;
export const SMOKE_WARM_UP_SECONDS = 0.25;
export const SMOKE_DELIVERY_RATE_PER_SECOND = 200;
/** Distinct random partition keys the producers draw from (a fresh MD5 spread, no hot shard). */
export const KEY_POOL_SIZE = 65_536;
/** Timeout of one call of any workload. */
export const CALL_TIMEOUT_MS = 30_000;
/** How long a server the bench starts may take to serve. */
export const SERVER_START_TIMEOUT_MS = 120_000;
/** How long a server may take to exit after SIGTERM before it gets SIGKILL. */
export const SERVER_STOP_TIMEOUT_MS = 10_000;
/** Resident memory of the server processes is sampled this often; the peak is reported. */
export const RSS_SAMPLE_INTERVAL_MS = 250;
/** /proc/<pid>/stat counts CPU time in ticks of 1/100 s on Linux. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The bench's ports: 20800 … 20899. */
export const BENCH_PORT_MIN = 20_800;
export const BENCH_PORT_MAX = 20_899;
/** The Sluice cluster takes 12 ports from here (harness: 4 per node). */
export const SLUICE_BASE_PORT = 20_800;
export const NULL_ENDPOINT_PORT = 20_820;
export const KINESALITE_PORT = 20_821;
export const KINESIS_LOCAL_PORT = 20_822;
export const KINESIS_LOCAL_TLS_PORT = 20_823;
/** NATS client ports of the three JetStream servers, then their cluster (route) ports. */
export const JETSTREAM_CLIENT_PORT_FIRST = 20_830;
export const JETSTREAM_ROUTE_PORT_FIRST = 20_840;
export const JETSTREAM_SERVERS = 3;
export const JETSTREAM_REPLICAS = 3;

if (
  SLUICE_BASE_PORT + 12 > NULL_ENDPOINT_PORT ||
  JETSTREAM_ROUTE_PORT_FIRST + JETSTREAM_SERVERS > BENCH_PORT_MAX
) {
  throw new Error("bench constants: the port blocks overlap or leave 20800-20899");
}
if (BATCH_RECORDS_DEFAULT > BATCH_RECORDS_MAX || DELIVERY_WARM_UP_RECORDS > BATCH_RECORDS_MAX) {
  throw new Error("bench constants: a batch exceeds Kinesis's 500 records");
}
