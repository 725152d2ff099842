/**
 * Limits and defaults of the metadata service, each a named constant with its unit in its name.
 * Relations between them are asserted when this module loads, so a bad edit fails at once.
 */
import { constants as brokerConstants } from "@sluice/broker";

// ---- Identity ----------------------------------------------------------------------------------

/** The Raft group that holds the metadata; shard groups start at FIRST_SHARD_GROUP_ID. */
export const METADATA_GROUP_ID = 0;
/**
 * The first group id given to a shard (`nextGroupId` starts here). Ids below it (except 0) are
 * never touched by the metadata service: they are free for groups created directly through the
 * broker's admin API (broker-level tests and benchmarks), which the reconciler must not remove.
 */
export const FIRST_SHARD_GROUP_ID = 1_048_576;
/** Largest group id a shard may get (the broker's bound). */
export const SHARD_GROUP_ID_MAX = brokerConstants.GROUP_ID_MAX;
/** The region and account in every ARN this cluster hands out. */
export const ARN_REGION = "local";
export const ARN_ACCOUNT = "000000000000";
/** Length of the cluster secret set once by InitCluster (the gateway signs iterators with it). */
export const CLUSTER_SECRET_BYTES = 32;

// ---- Placement ---------------------------------------------------------------------------------

/** Replicas of each shard group: one per distinct zone, at most this many. */
export const REPLICAS_PER_SHARD_MAX = 3;

// ---- Cluster and stream limits -----------------------------------------------------------------

/** Streams in the cluster (any status). */
export const STREAMS_MAX = 500;
/** Open shards across every stream of the cluster (each is a Raft group on three nodes). */
export const OPEN_SHARDS_PER_CLUSTER_MAX = 1_000;
/** Shard count of an ON_DEMAND stream created without one. */
export const ON_DEMAND_SHARD_COUNT_DEFAULT = 4;
/** Shard numbers are printed with 12 digits (`shardId-000000000000`). */
export const SHARD_NUMBER_MAX = 999_999_999_999;
/** Stream and consumer names: 1 to this many characters of [a-zA-Z0-9_.-]. */
export const STREAM_NAME_LENGTH_MAX = 128;
export const CONSUMER_NAME_LENGTH_MAX = 128;
/** Node zones and addresses as registered. */
export const ZONE_LENGTH_MAX = 64;
export const ADDRESS_LENGTH_MAX = 256;
/** Nodes that may register. */
export const NODES_MAX = 64;

/** Retention, in hours (Kinesis: 24 h to 365 days). */
export const RETENTION_HOURS_DEFAULT = 24;
export const RETENTION_HOURS_MIN = 24;
export const RETENTION_HOURS_MAX = 8_760;

/** Tags: per stream, per AddTags / RemoveTags call, and the lengths of keys and values. */
export const TAGS_PER_STREAM_MAX = 50;
export const TAGS_PER_CALL_MAX = 10;
export const TAG_KEY_LENGTH_MAX = 128;
export const TAG_VALUE_LENGTH_MAX = 256;
/** Kinesis's KeyId limit (a key id, alias or ARN) for StartStreamEncryption. */
export const ENCRYPTION_KEY_ID_LENGTH_MAX = 2048;
/**
 * Data keys one stream may have had (each StartStreamEncryption makes one; all are kept, since
 * records sealed by any of them may still be in the log). Far below the record batch's u16.
 */
export const STREAM_DATA_KEYS_MAX = 1024;
/** Characters of a wrapped data key (base64) in a command; the gateway's are 80. */
export const WRAPPED_DATA_KEY_LENGTH_MAX = 512;

// ---- Resharding --------------------------------------------------------------------------------

/**
 * Open shards one stream may have (200, the default shard quota of many Kinesis regions).
 * SplitShard and UpdateShardCount refuse to go past it with LIMIT_EXCEEDED. Pending children of
 * a reshard under way and the short-lived shards of UpdateShardCount's middle rounds do not
 * count: the check is made on the request against the final count.
 */
export const SHARDS_PER_STREAM_MAX = 200;
/** Shards one CreateStream may ask for: the per-stream limit (Kinesis's default shard limit). */
export const SHARDS_PER_CREATE_MAX = SHARDS_PER_STREAM_MAX;
/**
 * Reshard operations (SplitShard, MergeShards, UpdateShardCount that changes the count) one
 * stream may start per RESHARD_WINDOW_MS, counted from the command's time. Kinesis allows ten
 * UpdateShardCount calls per rolling 24 h; ours is looser (100) so that tests and benchmarks
 * that reshard a stream many times are never blocked, and it also counts splits and merges.
 */
export const RESHARDS_PER_WINDOW_MAX = 100;
export const RESHARD_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Longest shard id a SplitShard / MergeShards request may name (Kinesis ShardId: 1–128). */
export const SHARD_ID_LENGTH_MAX = 128;
/** While a parent this node leads is still to be sealed, the reconciler tries again this often. */
export const SEAL_RETRY_MS = 100;

/** Registered (enhanced fan-out) consumers per stream, any status. */
export const CONSUMERS_PER_STREAM_MAX = 20;
/**
 * A new SubscribeToShard of the same consumer and shard takes the subscription over once the
 * current one is this old; sooner it gets ResourceInUseException (Kinesis's rule).
 */
export const SUBSCRIPTION_TAKEOVER_AFTER_MS = 5_000;
/**
 * A holder older than this is stale (its node died without releasing it): a subscription lasts
 * 5 minutes, plus a minute of slack for clocks and a late release.
 */
export const SUBSCRIPTION_HOLD_MS_MAX = 360_000;
/** Bound of a subscription holder id, in characters. */
export const SUBSCRIPTION_HOLDER_ID_LENGTH_MAX = 64;

/** Largest encoded command or forwarded reply, in bytes. */
export const COMMAND_BYTES_MAX = 64 * 1024;
/** Version of the snapshot encoding (restore refuses others). */
export const SNAPSHOT_FORMAT_VERSION = 1;

// ---- Service timing ----------------------------------------------------------------------------

/** How long `MetadataService.start` waits for group 0 to elect a leader. */
export const METADATA_LEADER_WAIT_MS = 30_000;
/** How long a proposal keeps retrying (no leader, leader moved) before it fails. */
export const METADATA_PROPOSE_TIMEOUT_MS = 10_000;
/** Jittered backoff between proposal attempts: uniform in [MIN, current], doubling to MAX. */
export const PROPOSE_BACKOFF_MS_MIN = 5;
export const PROPOSE_BACKOFF_MS_MAX = 200;
/** A failed reconciler pass runs again after this long. */
export const RECONCILE_RETRY_MS = 200;
/** While leading, the controller also looks at the state this often (shard leaders appear without metadata changes). */
export const CONTROLLER_POLL_INTERVAL_MS = 100;
/**
 * The controller records a node as down once its transport has reported the peer Down for this
 * long without a break (the transport's own liveness timeout comes first); a new controller
 * waits this long after taking over before it marks anyone down.
 */
export const NODE_DOWN_AFTER_MS = 3_000;
/** A failed controller pass runs again after this long. */
export const CONTROLLER_RETRY_MS = 100;

// ---- Relations ---------------------------------------------------------------------------------

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`@sluice/metadata constants: ${message}`);
}
check(SHARDS_PER_CREATE_MAX <= OPEN_SHARDS_PER_CLUSTER_MAX, "one stream must fit in the cluster");
check(ON_DEMAND_SHARD_COUNT_DEFAULT <= SHARDS_PER_CREATE_MAX, "the on-demand default must be creatable");
check(RETENTION_HOURS_MIN <= RETENTION_HOURS_DEFAULT, "default retention below the minimum");
check(RETENTION_HOURS_DEFAULT <= RETENTION_HOURS_MAX, "default retention above the maximum");
check(TAGS_PER_CALL_MAX <= TAGS_PER_STREAM_MAX, "a call may not add more tags than a stream holds");
check(PROPOSE_BACKOFF_MS_MIN <= PROPOSE_BACKOFF_MS_MAX, "backoff bounds inverted");
check(PROPOSE_BACKOFF_MS_MAX < METADATA_PROPOSE_TIMEOUT_MS, "backoff must allow several attempts");
check(
  REPLICAS_PER_SHARD_MAX <= brokerConstants.GROUP_VOTERS_MAX,
  "more replicas than a group may have voters",
);
check(SHARDS_PER_STREAM_MAX <= OPEN_SHARDS_PER_CLUSTER_MAX, "one stream's shards must fit in the cluster");
check(RESHARDS_PER_WINDOW_MAX >= 1 && RESHARD_WINDOW_MS >= 1, "resharding must be possible");
check(FIRST_SHARD_GROUP_ID > METADATA_GROUP_ID, "shard groups must not collide with group 0");
