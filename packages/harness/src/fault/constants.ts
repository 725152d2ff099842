/** Limits and defaults of the fault-injection suite, each with its unit in the name. */

/** Nodes of a campaign cluster (the Raft groups have three voters). */
export const FAULT_CLUSTER_NODES = 3;
/** Shards of the campaign's stream when it starts. */
export const FAULT_STREAM_SHARDS_INITIAL = 2;
/** Producers of the workload; each owns a sequence and sends one PutRecords at a time. */
export const FAULT_PRODUCERS_DEFAULT = 4;
/** Partition keys the producers draw from. */
export const FAULT_KEYS_DEFAULT = 16;
/** Target rate of all producers together: modest, so timeouts reflect faults, not a busy CPU. */
export const FAULT_RECORDS_PER_SECOND_DEFAULT = 200;
/** Records per PutRecords at most. */
export const FAULT_BATCH_RECORDS_MAX = 50;
/** Deadline of one workload PutRecords; a call past it is an unknown outcome. */
export const FAULT_PUT_TIMEOUT_MS = 5_000;
/** The idempotent producer gives a record up (an unknown outcome) after this long. */
export const FAULT_IDEMPOTENT_RECORD_TIMEOUT_MS = 60_000;
/** How long the idempotent producer lets a partial batch wait for more records. */
export const FAULT_IDEMPOTENT_LINGER_MS = 20;
/** Deadline of one live-reader call. */
export const FAULT_READ_TIMEOUT_MS = 3_000;
/** A live reader at a shard's tip polls again after this long. */
export const FAULT_READ_POLL_MS = 250;
/** A producer whose call failed waits this long before its next call. */
export const FAULT_PRODUCER_BACKOFF_MS = 100;
/** Quiet time between two faults (healed cluster, load running). */
export const FAULT_QUIET_MS_MIN = 2_000;
export const FAULT_QUIET_MS_MAX = 5_000;
/** How long one fault lasts before it is healed. */
export const FAULT_DURATION_MS_MIN = 3_000;
export const FAULT_DURATION_MS_MAX = 10_000;
/** Added one-way latency of a slow link. */
export const FAULT_SLOW_LINK_DELAY_MS_MIN = 50;
export const FAULT_SLOW_LINK_DELAY_MS_MAX = 400;
/** After the last fault is healed, the load runs on this long so every shard recovers. */
export const FAULT_SETTLE_MS = 5_000;
/** The cluster must converge (every replica at the same commit index) within this time at the end. */
export const FAULT_CONVERGE_TIMEOUT_MS = 60_000;
/** A restarted or resumed node must serve again within this time. */
export const FAULT_RECOVER_TIMEOUT_MS = 60_000;
/** Size of the small filesystem holding one node's data for the full-disk fault. */
export const FAULT_SMALL_DISK_BYTES = 256 * 1_048_576;
/**
 * Space left free on the small filesystem while it is "full": far below the node's 32 MiB reserve
 * (DISK_RESERVE_BYTES_DEFAULT), so the node must refuse writes, and above one flush, so a flush
 * that passed its space check just before the ballast landed still fits (a disk filled faster
 * than that by another process can still stop the node: see docs/decisions.md).
 */
export const FAULT_DISK_FULL_HEADROOM_BYTES = 8 * 1_048_576;
/** Proxy ports of a campaign: one per ordered pair of nodes, after the nodes' ports. */
export const FAULT_PROXY_PORTS_PER_CLUSTER = FAULT_CLUSTER_NODES * (FAULT_CLUSTER_NODES - 1);
/** Bad-input cases of the default campaign. */
export const FUZZ_CASES_DEFAULT = 2_000;
/** Deadline of one bad-input case (an answer, an error or a closed connection). */
export const FUZZ_CASE_TIMEOUT_MS = 5_000;
/** The largest body a bad-input case sends (above the node's message limits). */
export const FUZZ_BODY_BYTES_MAX = 40 * 1_048_576;
