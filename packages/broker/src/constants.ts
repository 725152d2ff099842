/**
 * Limits and defaults of the multi-Raft host and the shard state machine, each a named constant
 * with its unit in its name. Relations between them are asserted when this module loads, so a bad
 * edit fails at once, not in production (TigerBeetle's constants.zig). The transport's own limits
 * are in transport/constants.ts.
 */
import { constants as raftConstants } from "raft-ts";

const DEFAULT_MAX_PROPOSAL_BYTES = raftConstants.DEFAULT_MAX_PROPOSAL_BYTES;

const KIB = 1024;
const MIB = 1024 * KIB;

// ---- Time --------------------------------------------------------------------------------------

/** Default period of the host's one tick timer. With ELECTION_TICKS_DEFAULT, failover takes 1–2 s. */
export const TICK_INTERVAL_MS_DEFAULT = 100;
/** Accepted range of `tickIntervalMs`. */
export const TICK_INTERVAL_MS_MIN = 1;
export const TICK_INTERVAL_MS_MAX = 10_000;
/** Default ticks without a leader before a follower campaigns (randomized up to twice this). */
export const ELECTION_TICKS_DEFAULT = 10;
/** Default ticks between a leader's heartbeats. */
export const HEARTBEAT_TICKS_DEFAULT = 1;
/** Largest accepted `electionTicks` (fast-forwarding a woken follower ticks this many times). */
export const ELECTION_TICKS_MAX = 1_000;

/**
 * A leader quiesces its group after this many consecutive ticks in which the group was idle
 * (nothing in flight, every live follower caught up and recently heard from). It must exceed
 * the heartbeat interval so that at least one heartbeat carrying the final commit index went to
 * every follower while idle: that heartbeat is what quiesces the followers.
 */
export const QUIESCE_IDLE_TICKS = 3;
/**
 * A new group's preferred leader campaigns at once, but its peers may not have created their
 * replica yet (they learn of the group from the metadata a moment later) and drop its votes.
 * It campaigns again every BOOTSTRAP_CAMPAIGN_INTERVAL_TICKS while the group has no leader, at
 * most BOOTSTRAP_CAMPAIGNS_MAX times, instead of waiting a whole election timeout.
 */
export const BOOTSTRAP_CAMPAIGN_INTERVAL_TICKS = 2;
export const BOOTSTRAP_CAMPAIGNS_MAX = 8;

/**
 * Free space the node keeps on its data filesystem, in bytes: a flush that would leave less waits
 * (the node refuses appends with DiskFullError and stops taking Raft messages, as if partitioned)
 * until space returns. The margin covers LevelDB's small writes and compactions, which must never
 * meet ENOSPC (a failed write stops the storage for good). 0 turns the check off.
 */
export const DISK_RESERVE_BYTES_DEFAULT = 32 * 1_048_576;
/** How often a node waiting for disk space looks again, in ms. */
export const DISK_SPACE_POLL_MS = 250;

/** Default time an append waits to commit before it fails with AppendTimeoutError (outcome unknown). */
export const APPEND_TIMEOUT_MS_DEFAULT = 10_000;
/** Default bound on how long `shutdown()` waits for leadership to move away before it closes anyway. */
export const SHUTDOWN_TRANSFER_TIMEOUT_MS_DEFAULT = 5_000;

// ---- Persist loop -------------------------------------------------------------------------------

/**
 * The persist loop stops collecting Readies into a flush once it holds this many bytes of entries;
 * the rest wait for the next flush (a bound on one flush's latency and memory, far below the
 * storage's FLUSH_BYTES_MAX).
 */
export const FLUSH_BYTES_TARGET = 64 * MIB;

/**
 * The storage's tail cache per group (the entries raft reads back to send and to apply), unless
 * the storage options say otherwise. The storage's own default (1 MiB, 16 entries of 64 KiB) is
 * less than one busy flush holds, so committed entries were read back from the journal (a
 * `readSync` and a CRC per entry) before being applied.
 */
export const STORAGE_TAIL_CACHE_BYTES_PER_GROUP = 16 * MIB;
/**
 * Of the entries a group has applied, the storage's tail cache keeps the newest this many bytes
 * (for a follower a few entries behind); older applied ones leave it at once. Without this the
 * cache held its whole per-group bound of history: 16 busy shards kept ~180 MiB per node alive.
 */
export const STORAGE_TAIL_CACHE_APPLIED_BYTES_PER_GROUP = 1 * MIB;

/**
 * Readys a group may have taken and not yet advanced (raft-ts `maxReadiesInFlight`): those in
 * the flush in flight plus those taken since, staged for the next one. More than one lets a
 * replica send appends, acknowledge commits and apply while its previous write is syncing.
 */
export const READIES_IN_FLIGHT_PER_GROUP_MAX = 8;

// ---- Leader balance ----------------------------------------------------------------------------

/** How often the host looks for groups it leads but should not (their preferred leader is elsewhere). */
export const LEADER_BALANCE_INTERVAL_MS = 1_000;
/** Leadership transfers started per balance round, so a node returning after a restart takes its groups back gradually. */
export const LEADER_TRANSFERS_PER_ROUND_MAX = 64;
/**
 * A group's leadership is balanced only once its leader has been stable for this many balance
 * rounds: a node that is shutting down hands its groups away and must not be handed them back
 * (it refuses, and the group would refuse appends until the transfer times out).
 */
export const LEADER_BALANCE_SETTLE_ROUNDS = 5;
/** A group is not transferred again for this long after a transfer attempt (one that failed must not loop). */
export const LEADER_TRANSFER_COOLDOWN_MS = 5_000;

// ---- Appends -------------------------------------------------------------------------------------

/** Records in one append (one log entry). A Kinesis PutRecords call carries at most 500 in all. */
export const APPEND_RECORDS_MAX = 10_000;
/** Encoded bytes of one append's record batch (a PutRecords call carries at most 5 MiB of data and keys). */
export const APPEND_BYTES_MAX = 6 * MIB;
/** Bytes of one record's data (Kinesis's limit). */
export const RECORD_DATA_BYTES_MAX = 1 * MIB;
/** Characters of a partition key (Kinesis: 1 to 256 Unicode characters). */
export const PARTITION_KEY_CHARS_MAX = 256;
/** UTF-8 bytes of a partition key: 256 characters of at most four bytes each. */
export const PARTITION_KEY_BYTES_MAX = 4 * PARTITION_KEY_CHARS_MAX;
/** Characters of an explicit hash key: a decimal 128-bit integer. */
export const EXPLICIT_HASH_KEY_CHARS_MAX = 39;
/** Appends waiting to commit in one group before new ones are refused with BrokerBusyError. */
export const PENDING_APPENDS_PER_GROUP_MAX = 10_000;
/** Bytes of uncommitted entries a group's leader accepts before refusing appends (raft's budget). */
export const UNCOMMITTED_BYTES_PER_GROUP_MAX = 64 * MIB;

// ---- Reads ---------------------------------------------------------------------------------------

/**
 * Bytes of recently committed entries each group keeps in the shard tail cache, so readers at
 * the tip never touch storage. The cache holds the entries' own buffers (shared with raft and
 * the storage's cache), so it costs little extra memory.
 */
export const SHARD_TAIL_CACHE_BYTES_PER_GROUP = 2 * MIB;
/** Bound on the tail caches of every group of the node; the least recently appended groups give back first. */
export const SHARD_TAIL_CACHE_BYTES_PER_NODE = 256 * MIB;
/** Largest `maxRecords` of one read (Kinesis GetRecords: 10,000). */
export const READ_RECORDS_MAX = 10_000;
/** Largest `maxBytes` of one read (Kinesis GetRecords: 10 MiB). */
export const READ_BYTES_MAX = 10 * MIB;
/** Entry bytes fetched from storage per call when a read is older than the tail cache. */
export const READ_STORAGE_CHUNK_BYTES = 4 * MIB;
/** Entries read per storage chunk when scanning for a checksum. */
export const CHECKSUM_CHUNK_BYTES = 8 * MIB;
/** Entries scanned back from the last index at start-up to recover a group's last arrival timestamp. */
export const ARRIVAL_RECOVERY_SCAN_ENTRIES_MAX = 1_024;

// ---- State-machine groups --------------------------------------------------------------------

/** Bytes of one `propose` on a state-machine group (the metadata service's commands are small). */
export const PROPOSAL_BYTES_MAX = 1 * MIB;
/**
 * A state-machine group takes a snapshot of its state machine after this many applied entries
 * since its last one, and compacts its log behind it: restart replays at most this many entries.
 */
export const STATE_MACHINE_SNAPSHOT_ENTRIES = 1_000;
/**
 * Entries kept before a state-machine snapshot when the log is compacted, so a follower only a
 * little behind catches up from the log instead of being sent the whole snapshot.
 */
export const STATE_MACHINE_SNAPSHOT_TAIL_ENTRIES = 100;
/** Read barriers waiting in one group before new ones are refused with BrokerBusyError. */
export const READ_BARRIERS_PER_GROUP_MAX = 10_000;

// ---- Groups --------------------------------------------------------------------------------------

/** Largest group id: group ids are uint32 on the wire. */
export const GROUP_ID_MAX = 0xffff_ffff;
/** Voters of one group. */
export const GROUP_VOTERS_MAX = 7;

function assertConstant(condition: boolean, message: string): void {
  if (!condition) throw new Error(`@sluice/broker constants: ${message}`);
}

assertConstant(QUIESCE_IDLE_TICKS > HEARTBEAT_TICKS_DEFAULT, "a heartbeat goes out while a group idles");
assertConstant(HEARTBEAT_TICKS_DEFAULT < ELECTION_TICKS_DEFAULT, "heartbeats come more often than elections");
assertConstant(ELECTION_TICKS_DEFAULT <= ELECTION_TICKS_MAX, "default election ticks within the limit");
assertConstant(
  TICK_INTERVAL_MS_MIN <= TICK_INTERVAL_MS_DEFAULT && TICK_INTERVAL_MS_DEFAULT <= TICK_INTERVAL_MS_MAX,
  "default tick interval within its range",
);
assertConstant(APPEND_BYTES_MAX <= DEFAULT_MAX_PROPOSAL_BYTES, "an append fits in one raft proposal");
assertConstant(
  APPEND_BYTES_MAX <= UNCOMMITTED_BYTES_PER_GROUP_MAX,
  "an append fits in the uncommitted budget",
);
assertConstant(RECORD_DATA_BYTES_MAX < APPEND_BYTES_MAX, "one record fits in an append");
assertConstant(
  SHARD_TAIL_CACHE_BYTES_PER_GROUP <= SHARD_TAIL_CACHE_BYTES_PER_NODE,
  "a group's tail cache fits in the node's",
);
assertConstant(READ_BYTES_MAX >= RECORD_DATA_BYTES_MAX, "a read can return the largest record");
assertConstant(FLUSH_BYTES_TARGET >= APPEND_BYTES_MAX, "a flush holds at least one append");
assertConstant(
  LEADER_TRANSFER_COOLDOWN_MS >= LEADER_BALANCE_INTERVAL_MS,
  "a transfer is not retried in the next round",
);
assertConstant(PROPOSAL_BYTES_MAX <= DEFAULT_MAX_PROPOSAL_BYTES, "a proposal fits in one raft proposal");
assertConstant(
  STATE_MACHINE_SNAPSHOT_TAIL_ENTRIES < STATE_MACHINE_SNAPSHOT_ENTRIES,
  "compaction behind a state-machine snapshot removes something",
);

/** Entries read from storage at a time by Broker.forEachProducerBatch (it walks the log backwards). */
export const PRODUCER_SCAN_CHUNK_ENTRIES = 16;
