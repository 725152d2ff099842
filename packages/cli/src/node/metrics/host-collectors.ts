/**
 * The node-wide figures of the broker (Raft groups, the persist loop, storage) and of the peer
 * transport, read from `Broker.metrics()`, `Broker.groupStatus()` and
 * `GrpcPeerTransport.metrics()` when Prometheus scrapes: nothing is counted twice and nothing
 * runs between scrapes. Counters of the host only grow while the process lives; a restart
 * starts them at 0 again, which Prometheus's rate() handles.
 */
import type { BrokerMetrics, GroupStatus, PeerMetrics } from "@sluice/broker";
import { Counter, Gauge, type Registry } from "prom-client";

/** What the collectors read; the broker and the transport of the node fit. */
export interface HostSources {
  metrics(): BrokerMetrics;
  groupIds(): readonly number[];
  groupStatus(groupId: number): GroupStatus;
  transportMetrics(): ReadonlyMap<number, Readonly<PeerMetrics>>;
  peerStates(): ReadonlyMap<number, string>;
}

type NumericKey<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

/** Broker counters exported as `<name>` with their help, in base units. */
const BROKER_COUNTERS: readonly (readonly [string, NumericKey<BrokerMetrics>, string])[] = [
  ["sluice_raft_leader_changes_total", "leaderChanges", "Leader changes seen by the local replicas."],
  ["sluice_raft_leader_transfers_total", "leaderTransfers", "Leadership transfers started here."],
  ["sluice_raft_proposals_total", "appendsProposed", "Appends proposed by local leaders."],
  [
    "sluice_raft_proposals_dropped_total",
    "proposalsDropped",
    "Appends refused before entering the log (busy).",
  ],
  ["sluice_raft_appends_committed_total", "appendsCommitted", "Appends committed and acknowledged."],
  ["sluice_raft_append_timeouts_total", "appendTimeouts", "Appends that missed their deadline."],
  ["sluice_raft_read_timeouts_total", "readTimeouts", "Reads that missed their deadline."],
  ["sluice_raft_entries_applied_total", "entriesApplied", "Log entries applied by the local replicas."],
  ["sluice_raft_messages_sent_total", "messagesSent", "Raft messages sent to peers."],
  ["sluice_raft_messages_received_total", "messagesReceived", "Raft messages received from peers."],
  ["sluice_raft_messages_refused_total", "messagesRefused", "Raft messages the transport refused."],
  ["sluice_raft_ticks_total", "groupTicks", "Group ticks (active groups only)."],
  ["sluice_raft_quiesces_total", "quiesces", "Times a group went idle."],
  ["sluice_raft_wakes_total", "wakes", "Times an idle group woke."],
  ["sluice_raft_log_trims_total", "logTrims", "Log prefixes trimmed (retention)."],
  ["sluice_persist_flushes_total", "flushes", "Flushes of the persist loop."],
  ["sluice_persist_syncs_total", "syncs", "Synced flushes (one fsync covers every group: group commit)."],
  ["sluice_persist_entries_total", "entriesPersisted", "Log entries persisted."],
  ["sluice_persist_journal_written_bytes_total", "journalBytesWritten", "Bytes written to the journal."],
];

const BROKER_GAUGES: readonly (readonly [string, NumericKey<BrokerMetrics>, string])[] = [
  ["sluice_raft_groups", "groups", "Raft groups with a replica on this node."],
  ["sluice_raft_active_groups", "activeGroups", "Groups ticking (not idle) here."],
  ["sluice_raft_leader_groups", "leaderGroups", "Groups this node leads (leaders per node)."],
  [
    "sluice_persist_entries_per_sync",
    "entriesPerSync",
    "Entries per synced flush since start (group commit).",
  ],
  ["sluice_tail_cache_bytes", "tailCacheBytes", "Bytes held by the shard tail caches."],
];

const STORAGE_COUNTERS: readonly (readonly [string, NumericKey<BrokerMetrics["storage"]>, string])[] = [
  ["sluice_storage_segment_syncs_total", "segmentSyncs", "fdatasync calls on segment files."],
  ["sluice_storage_state_syncs_total", "stateSyncs", "LevelDB batches written with sync."],
  [
    "sluice_storage_state_writes_total",
    "stateWrites",
    "LevelDB batches written without sync (owed commit indexes).",
  ],
  [
    "sluice_storage_inline_appends_total",
    "inlineAppends",
    "Journal appends written on the event loop's thread (small frames).",
  ],
  ["sluice_storage_entries_appended_total", "entriesAppended", "Entries appended to segments."],
  ["sluice_storage_segment_written_bytes_total", "segmentBytesWritten", "Bytes appended to segments."],
  ["sluice_storage_entry_data_bytes_total", "entryDataBytesAppended", "Entry payload bytes appended."],
  ["sluice_storage_segments_created_total", "segmentsCreated", "Segment files created."],
  ["sluice_storage_segments_deleted_total", "segmentsDeleted", "Segment files deleted (retention)."],
];

const STORAGE_GAUGES: readonly (readonly [string, NumericKey<BrokerMetrics["storage"]>, string])[] = [
  ["sluice_storage_segments", "segmentCount", "Segment files on disk."],
  [
    "sluice_storage_commit_indexes_owed",
    "commitIndexesOwed",
    "Groups whose commit index moved since LevelDB last had it.",
  ],
  ["sluice_storage_leveldb_bytes", "stateBytes", "Bytes of LevelDB's files (hard state, index, snapshots)."],
];

const PEER_COUNTERS: readonly (readonly [string, NumericKey<PeerMetrics>, string])[] = [
  ["sluice_transport_sent_bytes_total", "bytesSent", "Bytes sent to the peer (frame payloads)."],
  ["sluice_transport_sent_messages_total", "messagesSent", "Messages sent to the peer."],
  ["sluice_transport_received_bytes_total", "bytesReceived", "Bytes received from the peer."],
  ["sluice_transport_received_messages_total", "messagesReceived", "Messages received from the peer."],
  [
    "sluice_transport_dropped_messages_total",
    "messagesDropped",
    "Messages refused or lost (queue full, stream broken).",
  ],
  ["sluice_transport_connects_total", "connects", "Streams opened to the peer."],
];

const PEER_GAUGES: readonly (readonly [string, NumericKey<PeerMetrics>, string])[] = [
  ["sluice_transport_queued_bytes", "queuedBytes", "Bytes queued for the peer, not yet written."],
  ["sluice_transport_queued_messages", "queuedMessages", "Messages queued for the peer, not yet written."],
];

/** Registers the broker, storage, Raft and transport collectors on `registry`. */
export function registerHostCollectors(registry: Registry, sources: HostSources): void {
  const registers = [registry];
  // One read of the broker per scrape, shared by every collector of that scrape.
  let cached: { at: number; metrics: BrokerMetrics } | undefined;
  const brokerMetrics = (): BrokerMetrics => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > 100) cached = { at: now, metrics: sources.metrics() };
    return cached.metrics;
  };
  for (const [name, key, help] of BROKER_COUNTERS) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(brokerMetrics()[key] as number);
      },
    });
  }
  for (const [name, key, help] of BROKER_GAUGES) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(brokerMetrics()[key] as number);
      },
    });
  }
  for (const [name, key, help] of STORAGE_COUNTERS) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(brokerMetrics().storage[key] as number);
      },
    });
  }
  for (const [name, key, help] of STORAGE_GAUGES) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(brokerMetrics().storage[key] as number);
      },
    });
  }

  // Per-node Raft aggregates over the local replicas (cheap: a status read per group).
  const raftGauges = {
    term: new Gauge({
      name: "sluice_raft_term_max",
      help: "Highest Raft term among local replicas.",
      registers,
    }),
    commitLag: new Gauge({
      name: "sluice_raft_commit_lag_entries",
      help: "Sum over groups led here of entries appended but not yet committed.",
      registers,
    }),
    applyLag: new Gauge({
      name: "sluice_raft_apply_lag_entries",
      help: "Sum over local replicas of entries committed but not yet applied.",
      registers,
    }),
    pending: new Gauge({
      name: "sluice_raft_pending_appends",
      help: "Appends waiting to commit on groups led here.",
      registers,
    }),
    leaderless: new Gauge({
      name: "sluice_raft_leaderless_groups",
      help: "Local replicas that know of no leader.",
      registers,
    }),
  };
  new Gauge({
    name: "sluice_raft_collect_groups",
    help: "Groups read by the last scrape of the Raft aggregates.",
    registers,
    collect() {
      let term = 0;
      let commitLag = 0;
      let applyLag = 0;
      let pending = 0;
      let leaderless = 0;
      const ids = sources.groupIds();
      for (const id of ids) {
        const status = sources.groupStatus(id);
        if (status.term > term) term = status.term;
        if (status.role === "leader") {
          commitLag += Math.max(0, status.lastIndex - status.commitIndex);
          pending += status.pendingAppends;
        }
        applyLag += Math.max(0, status.commitIndex - status.appliedIndex);
        if (status.leader === 0) leaderless += 1;
      }
      raftGauges.term.set(term);
      raftGauges.commitLag.set(commitLag);
      raftGauges.applyLag.set(applyLag);
      raftGauges.pending.set(pending);
      raftGauges.leaderless.set(leaderless);
      this.set(ids.length);
    },
  });

  for (const [name, key, help] of PEER_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const [peer, figures] of sources.transportMetrics()) this.labels(String(peer)).inc(figures[key]);
      },
    });
  }
  for (const [name, key, help] of PEER_GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: ["peer"],
      registers,
      collect() {
        for (const [peer, figures] of sources.transportMetrics()) this.labels(String(peer)).set(figures[key]);
      },
    });
  }
  new Gauge({
    name: "sluice_transport_peer_up",
    help: "1 while the stream to the peer is up, 0 otherwise.",
    labelNames: ["peer"],
    registers,
    collect() {
      for (const [peer, state] of sources.peerStates()) this.labels(String(peer)).set(state === "up" ? 1 : 0);
    },
  });
}
