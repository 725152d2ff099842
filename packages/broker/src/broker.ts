/**
 * The Broker: one node's multi-Raft host and shard state machines behind a small internal API —
 * create and remove group replicas, append a record batch through a group's leader, read
 * committed records from any replica, inspect and steer leadership, shut down gracefully. Groups
 * whose `stateMachineFor` returns a GroupStateMachine (the metadata service on group 0) take
 * `propose` instead of `append`. Read barriers, applied-index listeners, timestamp lookup and
 * local retention serve the gateway; `seal` closes a shard group for resharding. The node process, the gateway and the metadata layer code
 * against this class.
 *
 * Ownership: the Broker owns its storage (it opens and closes `dataDir`) but not the transport:
 * the caller creates it, calls `start()` on it (before or after `Broker.open`) and `close()` after
 * `shutdown()`. The Broker registers its handlers on the transport in `open` and ignores
 * everything the transport delivers once it is closed.
 */
import { randomInt } from "node:crypto";
import { NodeStorage, type NodeStorageOptions, type StorageMetrics } from "@sluice/storage";
import {
  CompactedError,
  EntryType,
  type NodeId,
  ProposalDroppedError,
  NotLeaderError as RaftNotLeaderError,
  type RandomSource,
  SeededRandom,
  StateRole,
  TransferInProgressError,
} from "raft-ts";
import {
  APPEND_BYTES_MAX,
  APPEND_TIMEOUT_MS_DEFAULT,
  DISK_RESERVE_BYTES_DEFAULT,
  ELECTION_TICKS_DEFAULT,
  ELECTION_TICKS_MAX,
  GROUP_ID_MAX,
  GROUP_VOTERS_MAX,
  HEARTBEAT_TICKS_DEFAULT,
  LEADER_BALANCE_INTERVAL_MS,
  PENDING_APPENDS_PER_GROUP_MAX,
  PRODUCER_SCAN_CHUNK_ENTRIES,
  PROPOSAL_BYTES_MAX,
  QUIESCE_IDLE_TICKS,
  READ_BARRIERS_PER_GROUP_MAX,
  READ_BYTES_MAX,
  READ_RECORDS_MAX,
  SHARD_TAIL_CACHE_BYTES_PER_GROUP,
  SHARD_TAIL_CACHE_BYTES_PER_NODE,
  SHUTDOWN_TRANSFER_TIMEOUT_MS_DEFAULT,
  STORAGE_TAIL_CACHE_BYTES_PER_GROUP,
  TICK_INTERVAL_MS_DEFAULT,
  TICK_INTERVAL_MS_MAX,
  TICK_INTERVAL_MS_MIN,
} from "./constants.js";
import {
  AppendTooLargeError,
  BrokerBusyError,
  BrokerClosedError,
  DiskFullError,
  GroupNotFoundError,
  GroupVotersMismatchError,
  InvalidArgumentError,
  InvalidBrokerOptionsError,
  NotLeaderError,
  ShardSealedError,
} from "./errors.js";
import { type HostCounters, MultiRaftHost } from "./host/multi-raft-host.js";
import type { AppendResult, Replica } from "./host/replica.js";
import {
  type AppendRecord,
  decodeRecordBatchHeader,
  encodeRecordBatch,
  encodeSealBatch,
  forEachRecord,
  RECORD_BATCH_FLAG_SEAL,
  type RecordBatchProducer,
  recordBatchProducer,
} from "./shard/record-batch.js";
import type { ReadResult } from "./shard/shard-state.js";
import { TailCacheBudget } from "./shard/tail-cache.js";
import type { GroupStateMachine } from "./state-machine/group-state-machine.js";
import type { GroupId, PeerState, PeerTransport } from "./transport/transport.js";

export type { AppendResult } from "./host/replica.js";
export type { AppendRecord } from "./shard/record-batch.js";
export type { ReadLimits, ReadRecord, ReadResult } from "./shard/shard-state.js";
export type { GroupStateMachine } from "./state-machine/group-state-machine.js";

/** What `propose` resolves with: where the entry is, and what the state machine returned here. */
export interface ProposeResult {
  readonly term: number;
  readonly index: number;
  readonly result: unknown;
}

/** What `seal` resolves with: the log index of the applied seal entry. */
export interface SealResult {
  readonly index: number;
}

/** Byte offset of the arrival stamp in a record batch header (see shard/record-batch.ts). */
const ARRIVAL_TIMESTAMP_OFFSET = 8;

export interface BrokerOptions {
  /** This node's id (a positive integer, unique in the cluster). */
  readonly nodeId: NodeId;
  /** The node's data directory (created if missing); one Broker at a time may open it. */
  readonly dataDir: string;
  /** The peer transport; owned by the caller (see the module comment). */
  readonly transport: PeerTransport;
  /** Period of the tick timer, in ms. @default TICK_INTERVAL_MS_DEFAULT (100) */
  readonly tickIntervalMs?: number;
  /** Election timeout in ticks (randomized up to twice this). @default ELECTION_TICKS_DEFAULT (10) */
  readonly electionTicks?: number;
  /** Ticks between heartbeats; less than electionTicks. @default HEARTBEAT_TICKS_DEFAULT (1) */
  readonly heartbeatTicks?: number;
  /** Options of the node's storage (segment size, caches, sync). @default the storage's defaults */
  readonly storage?: NodeStorageOptions;
  /** Wall clock in ms, used for arrival timestamps and deadlines. @default Date.now */
  readonly clock?: () => number;
  /** Randomness for election timeouts. @default a SeededRandom with a random seed */
  readonly random?: RandomSource;
  /** How long an append waits to commit before AppendTimeoutError, in ms. @default APPEND_TIMEOUT_MS_DEFAULT */
  readonly appendTimeoutMs?: number;
  /** How long `shutdown()` waits for leadership to move away, in ms. @default SHUTDOWN_TRANSFER_TIMEOUT_MS_DEFAULT */
  readonly shutdownTransferTimeoutMs?: number;
  /** Quiesce idle groups (see host/quiescence.ts). @default true */
  readonly quiesce?: boolean;
  /** Move leadership to each group's preferred leader (see host/leader-balance.ts). @default true */
  readonly leaderBalance?: boolean;
  /** Period of the leader-balance round, in ms. @default LEADER_BALANCE_INTERVAL_MS */
  readonly leaderBalanceIntervalMs?: number;
  /** Shard tail cache per group, in bytes. @default SHARD_TAIL_CACHE_BYTES_PER_GROUP */
  readonly tailCacheBytesPerGroup?: number;
  /** Shard tail caches of the whole node, in bytes. @default SHARD_TAIL_CACHE_BYTES_PER_NODE */
  readonly tailCacheBytesPerNode?: number;
  /**
   * Free bytes kept on the data filesystem: below it, appends fail with DiskFullError and flushes
   * wait (the node goes silent) until space returns; 0 turns the check off.
   * @default DISK_RESERVE_BYTES_DEFAULT
   */
  readonly diskReserveBytes?: number;
  /**
   * Returns the state machine for a group, or undefined for a shard group. Called once per group
   * replica, at creation and at recovery on open. @default () => undefined
   */
  readonly stateMachineFor?: (groupId: GroupId) => GroupStateMachine | undefined;
}

type ResolvedBrokerOptions = Required<Omit<BrokerOptions, "storage">> & {
  readonly storage: NodeStorageOptions;
};

export type GroupRole = "leader" | "follower" | "candidate" | "pre-candidate";

export interface GroupStatus {
  readonly groupId: GroupId;
  /** A shard log, or a state-machine group (`stateMachineFor` gave it a GroupStateMachine). */
  readonly kind: "shard" | "state-machine";
  readonly role: GroupRole;
  /** The leader this replica knows of, 0 when none. */
  readonly leader: NodeId;
  readonly term: number;
  readonly commitIndex: number;
  /** The highest index readers see here. */
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  /** True while the group does not tick here (idle). */
  readonly quiesced: boolean;
  readonly voters: readonly NodeId[];
  /** The leader the balancer moves leadership to. */
  readonly preferredLeader: NodeId;
  /** Appends waiting to commit here (leader only). */
  readonly pendingAppends: number;
  /** The index of the seal entry applied here (see `seal`); 0 when not sealed (or a state-machine group). */
  readonly sealedIndex: number;
}

export interface BrokerMetrics extends Readonly<HostCounters> {
  readonly groups: number;
  readonly activeGroups: number;
  readonly quiescedGroups: number;
  readonly leaderGroups: number;
  /** Entries per synced flush since start (group commit at work). */
  readonly entriesPerSync: number;
  readonly appendsProposed: number;
  /** Appends refused before entering the log: busy (uncommitted budget or pending bound full). */
  readonly proposalsDropped: number;
  readonly tailCacheBytes: number;
  readonly storage: StorageMetrics;
}

/** The defaults of every optional field, in one place. */
export function defaultBrokerOptions(): Omit<
  ResolvedBrokerOptions,
  "nodeId" | "dataDir" | "transport" | "random"
> {
  return {
    tickIntervalMs: TICK_INTERVAL_MS_DEFAULT,
    electionTicks: ELECTION_TICKS_DEFAULT,
    heartbeatTicks: HEARTBEAT_TICKS_DEFAULT,
    storage: {},
    clock: Date.now,
    appendTimeoutMs: APPEND_TIMEOUT_MS_DEFAULT,
    shutdownTransferTimeoutMs: SHUTDOWN_TRANSFER_TIMEOUT_MS_DEFAULT,
    quiesce: true,
    leaderBalance: true,
    leaderBalanceIntervalMs: LEADER_BALANCE_INTERVAL_MS,
    tailCacheBytesPerGroup: SHARD_TAIL_CACHE_BYTES_PER_GROUP,
    tailCacheBytesPerNode: SHARD_TAIL_CACHE_BYTES_PER_NODE,
    diskReserveBytes: DISK_RESERVE_BYTES_DEFAULT,
    stateMachineFor: () => undefined,
  };
}

/** Fills in defaults and validates once (InvalidBrokerOptionsError names the field and the rule). */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  if (typeof options !== "object" || options === null)
    throw new InvalidBrokerOptionsError("options must be an object");
  const defaults = defaultBrokerOptions();
  const resolved: ResolvedBrokerOptions = {
    ...defaults,
    ...(Object.fromEntries(
      Object.entries(options).filter(([, value]) => value !== undefined),
    ) as BrokerOptions),
    random: options.random ?? new SeededRandom(randomInt(0x7fff_ffff)),
    storage: options.storage ?? {},
  };
  const fail = (message: string): never => {
    throw new InvalidBrokerOptionsError(message);
  };
  const integer = (name: string, value: unknown, min: number, max: number): void => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      fail(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
  };
  integer("nodeId", resolved.nodeId, 1, Number.MAX_SAFE_INTEGER);
  if (typeof resolved.dataDir !== "string" || resolved.dataDir.length === 0) {
    fail("dataDir must be a non-empty path");
  }
  const transport = resolved.transport as Partial<PeerTransport> | undefined;
  if (
    typeof transport !== "object" ||
    transport === null ||
    typeof transport.send !== "function" ||
    typeof transport.onReceive !== "function" ||
    typeof transport.onPeerState !== "function" ||
    typeof transport.peerStates !== "function"
  ) {
    fail("transport must implement PeerTransport (send, onReceive, onPeerState, peerStates)");
  }
  integer("tickIntervalMs", resolved.tickIntervalMs, TICK_INTERVAL_MS_MIN, TICK_INTERVAL_MS_MAX);
  integer("electionTicks", resolved.electionTicks, 2, ELECTION_TICKS_MAX);
  integer("heartbeatTicks", resolved.heartbeatTicks, 1, ELECTION_TICKS_MAX);
  if (resolved.heartbeatTicks >= resolved.electionTicks) {
    fail(
      `heartbeatTicks (${resolved.heartbeatTicks}) must be less than electionTicks (${resolved.electionTicks}), or followers time out between heartbeats`,
    );
  }
  if (typeof resolved.clock !== "function") fail("clock must be a function returning ms");
  if (typeof resolved.stateMachineFor !== "function") {
    fail("stateMachineFor must be a function returning a GroupStateMachine or undefined");
  }
  if (typeof resolved.random?.nextInt !== "function") fail("random must be a RandomSource (nextInt)");
  integer("appendTimeoutMs", resolved.appendTimeoutMs, 1, 3_600_000);
  integer("shutdownTransferTimeoutMs", resolved.shutdownTransferTimeoutMs, 0, 3_600_000);
  integer("leaderBalanceIntervalMs", resolved.leaderBalanceIntervalMs, 1, 3_600_000);
  integer("tailCacheBytesPerGroup", resolved.tailCacheBytesPerGroup, 0, Number.MAX_SAFE_INTEGER);
  integer("tailCacheBytesPerNode", resolved.tailCacheBytesPerNode, 0, Number.MAX_SAFE_INTEGER);
  integer("diskReserveBytes", resolved.diskReserveBytes, 0, Number.MAX_SAFE_INTEGER);
  if (resolved.tailCacheBytesPerGroup > resolved.tailCacheBytesPerNode) {
    fail("tailCacheBytesPerGroup must not exceed tailCacheBytesPerNode");
  }
  for (const name of ["quiesce", "leaderBalance"] as const) {
    if (typeof resolved[name] !== "boolean") fail(`${name} must be a boolean`);
  }
  if (typeof resolved.storage !== "object" || resolved.storage === null) fail("storage must be an object");
  return resolved;
}

const ROLE_NAMES: Record<StateRole, GroupRole> = {
  [StateRole.Leader]: "leader",
  [StateRole.Follower]: "follower",
  [StateRole.Candidate]: "candidate",
  [StateRole.PreCandidate]: "pre-candidate",
};

export class Broker {
  readonly nodeId: NodeId;
  private readonly options: ResolvedBrokerOptions;
  private readonly storage: NodeStorage;
  private readonly host: MultiRaftHost;
  private readonly budget: TailCacheBudget;
  private readonly creating = new Map<GroupId, { voters: readonly NodeId[]; promise: Promise<void> }>();
  private readonly removing = new Map<GroupId, Promise<void>>();
  /** The seal each replica waits for (one at a time: concurrent `seal` calls share it). */
  private readonly sealing = new WeakMap<Replica, Promise<SealResult>>();
  private closing: Promise<void> | null = null;
  private appendsProposed = 0;
  private proposalsDropped = 0;

  private constructor(
    options: ResolvedBrokerOptions,
    storage: NodeStorage,
    host: MultiRaftHost,
    budget: TailCacheBudget,
  ) {
    this.nodeId = options.nodeId;
    this.options = options;
    this.storage = storage;
    this.host = host;
    this.budget = budget;
  }

  /**
   * Validates the options (InvalidBrokerOptionsError), opens the storage (recovering every group
   * replica found there) and starts the host. Storage errors (locked directory, corruption) pass
   * through as @sluice/storage's typed errors.
   */
  static async open(options: BrokerOptions): Promise<Broker> {
    const resolved = resolveBrokerOptions(options);
    const storage = await NodeStorage.open(resolved.dataDir, {
      tailCacheBytesPerGroup: Math.min(
        STORAGE_TAIL_CACHE_BYTES_PER_GROUP,
        resolved.storage.tailCacheBytesPerNode ?? Number.POSITIVE_INFINITY,
      ),
      ...resolved.storage,
    });
    const budget = new TailCacheBudget(resolved.tailCacheBytesPerNode);
    let host: MultiRaftHost;
    try {
      host = new MultiRaftHost({
        nodeId: resolved.nodeId,
        storage,
        transport: resolved.transport,
        tickIntervalMs: resolved.tickIntervalMs,
        electionTicks: resolved.electionTicks,
        heartbeatTicks: resolved.heartbeatTicks,
        clock: resolved.clock,
        random: resolved.random,
        quiesce: resolved.quiesce,
        leaderBalance: resolved.leaderBalance,
        leaderBalanceIntervalMs: resolved.leaderBalanceIntervalMs,
        appendTimeoutMs: resolved.appendTimeoutMs,
        tailCacheBudget: budget,
        tailCacheBytesPerGroup: resolved.tailCacheBytesPerGroup,
        quiesceIdleTicks: Math.max(QUIESCE_IDLE_TICKS, resolved.heartbeatTicks + 1),
        stateMachineFor: stateMachineFactory(resolved.stateMachineFor),
        diskReserveBytes: resolved.diskReserveBytes,
      });
    } catch (error) {
      await storage.close();
      throw error;
    }
    host.start();
    return new Broker(resolved, storage, host, budget);
  }

  // ---- groups ------------------------------------------------------------------------------------

  /**
   * Creates this node's replica of a group, persisted with its voters in one flush, unless it
   * exists (then it returns at once). Idempotent; concurrent calls share one creation. A new
   * replica whose node is the group's preferred leader starts an election at once. Throws
   * GroupVotersMismatchError when the replica exists with other voters, InvalidArgumentError for
   * a bad id or voters (which must include this node), BrokerClosedError.
   */
  async ensureGroup(groupId: GroupId, voters: readonly NodeId[]): Promise<void> {
    this.checkOpen();
    checkGroupId(groupId);
    const sorted = this.checkVoters(voters);
    const existing = this.host.replica(groupId);
    if (existing !== undefined) {
      if (!sameIds(existing.voters, sorted))
        throw new GroupVotersMismatchError(groupId, existing.voters, sorted);
      return;
    }
    const pending = this.creating.get(groupId);
    if (pending !== undefined) {
      if (!sameIds(pending.voters, sorted))
        throw new GroupVotersMismatchError(groupId, pending.voters, sorted);
      return pending.promise;
    }
    const removal = this.removing.get(groupId);
    const promise = (async () => {
      if (removal !== undefined) await removal.catch(() => undefined);
      await this.host.createGroup(groupId, sorted);
    })();
    this.creating.set(groupId, { voters: sorted, promise });
    try {
      await promise;
    } finally {
      this.creating.delete(groupId);
    }
  }

  /**
   * Stops this node's replica of a group at once (its waiting appends fail with
   * GroupNotFoundError) and deletes its state and log. Idempotent.
   */
  async removeGroup(groupId: GroupId): Promise<void> {
    this.checkOpen();
    checkGroupId(groupId);
    const creation = this.creating.get(groupId);
    if (creation !== undefined) await creation.promise.catch(() => undefined);
    const previous = this.removing.get(groupId);
    if (previous !== undefined) return previous;
    if (this.host.replica(groupId) === undefined && !this.storage.hasGroup(groupId)) return;
    const promise = this.host.removeGroup(groupId, () => new GroupNotFoundError(groupId));
    this.removing.set(groupId, promise);
    try {
      await promise;
    } finally {
      this.removing.delete(groupId);
    }
  }

  /** Ids of the groups with a replica on this node, ascending. */
  groupIds(): GroupId[] {
    return this.host.groupIds();
  }

  // ---- appends and reads -------------------------------------------------------------------------

  /**
   * Appends a batch of records to a group as one log entry, stamped with the leader's arrival time
   * (monotonic per group). Resolves once the entry is committed (durable on a majority) and
   * applied here. Rejects with NotLeaderError (retriable, with leaderHint) on a follower or
   * during a leadership transfer, InvalidRecordError / AppendTooLargeError for bad input (nothing
   * is appended), BrokerBusyError when the group has too much in flight, GroupNotFoundError,
   * BrokerClosedError; once in the log, LeadershipLostError or AppendTimeoutError mean the
   * outcome is unknown (retrying may duplicate the records). InvalidArgumentError on a
   * state-machine group.
   */
  async append(groupId: GroupId, records: readonly AppendRecord[]): Promise<AppendResult> {
    this.checkOpen();
    const replica = this.shardReplica(groupId);
    // Validates the records (nothing appended on error); the stamp is written by proposeBatch.
    const batch = encodeRecordBatch(records, 0);
    return this.proposeBatch(replica, batch, records.length);
  }

  /**
   * Like append, for a batch already encoded by encodeRecordBatch(records, 0) (the gateway
   * encodes once): validates it structurally (decodeRecordBatchHeader + every length checked;
   * InvalidRecordError / CorruptBatchError / AppendTooLargeError, nothing appended), writes the
   * leader's arrival stamp into the header IN PLACE (the caller hands the buffer over: never
   * touch it again), proposes it. Same results and errors as append.
   */
  async appendEncoded(groupId: GroupId, batch: Buffer): Promise<AppendResult> {
    this.checkOpen();
    const replica = this.shardReplica(groupId);
    if (!Buffer.isBuffer(batch)) throw new InvalidArgumentError("batch must be a Buffer");
    if (batch.length > APPEND_BYTES_MAX) {
      throw new AppendTooLargeError("size in bytes", batch.length, APPEND_BYTES_MAX);
    }
    const { recordCount, flags } = decodeRecordBatchHeader(batch);
    if (flags === RECORD_BATCH_FLAG_SEAL) {
      throw new InvalidArgumentError("a seal batch cannot be appended: use seal(groupId)");
    }
    // Every length checked, no string decoded (records before `from` are only walked over).
    forEachRecord(batch, recordCount, recordCount, () => true);
    return this.proposeBatch(replica, batch, recordCount);
  }

  /**
   * The one append path: stamps a validated batch in place and proposes it. Refused with
   * ShardSealedError once a seal is in this replica's log; an append that reached the log after
   * a seal all the same (a seal not yet noted here) is never acknowledged: it is settled with
   * ShardSealedError when it commits after the applied seal (and reads never return it).
   */
  private proposeBatch(replica: Replica, batch: Buffer, recordCount: number): Promise<AppendResult> {
    const groupId = replica.groupId;
    const shard = replica.shard;
    if (shard.logSealIndex > 0) throw new ShardSealedError(groupId);
    if (replica.pendingCount >= PENDING_APPENDS_PER_GROUP_MAX) {
      this.proposalsDropped++;
      throw new BrokerBusyError(groupId, `${replica.pendingCount} appends wait to commit`);
    }
    const arrival = Math.max(Math.floor(this.options.clock()), shard.lastArrivalTimestampMs);
    batch.writeDoubleLE(arrival, ARRIVAL_TIMESTAMP_OFFSET);
    let position: { term: number; index: number };
    try {
      position = replica.node.propose(batch);
    } catch (error) {
      throw this.mapProposeError(replica, error);
    }
    shard.stampArrival(arrival);
    this.appendsProposed++;
    return new Promise<AppendResult>((resolve, reject) => {
      this.host.trackProposal(replica, {
        term: position.term,
        index: position.index,
        deadlineMs: this.options.clock() + this.options.appendTimeoutMs,
        kind: "append",
        settled: false,
        onCommitted: (committed) => {
          const sealedIndex = shard.sealedIndex;
          if (sealedIndex > 0 && committed.index > sealedIndex) {
            reject(new ShardSealedError(groupId));
            return;
          }
          resolve({
            groupId,
            term: committed.term,
            index: committed.index,
            arrivalTimestampMs: arrival,
            recordCount,
          });
        },
        reject,
      });
    });
  }

  /**
   * Seals a shard group for resharding: on its leader, proposes a seal entry (a record batch with
   * flag RECORD_BATCH_FLAG_SEAL and no records, stamped like an append) and resolves once it is
   * committed and applied here, with its log index. From the moment the seal is in a replica's
   * log, appends there fail with ShardSealedError; every append acknowledged has a lower index,
   * and reads never return anything at or after it.
   *
   * Idempotent: if a seal is applied here, resolves with its index at once (on any replica); if
   * one is in this replica's log but not yet applied, waits for it instead of proposing another;
   * concurrent calls share one wait. Errors as append: NotLeaderError (retriable, with
   * leaderHint) on a follower or during a leadership transfer, BrokerBusyError,
   * LeadershipLostError / AppendTimeoutError when the seal's fate is unknown (call seal again: a
   * seal taken back is forgotten and a new leader proposes its own), GroupNotFoundError,
   * BrokerClosedError. InvalidArgumentError on a state-machine group.
   */
  async seal(groupId: GroupId): Promise<SealResult> {
    this.checkOpen();
    const replica = this.shardReplica(groupId);
    const shard = replica.shard;
    if (shard.sealedIndex > 0) return { index: shard.sealedIndex };
    const waiting = this.sealing.get(replica);
    if (waiting !== undefined) return waiting;
    const status = replica.node.status();
    if (status.role !== StateRole.Leader) throw new NotLeaderError(groupId, status.leader);
    let term = shard.logSealTerm;
    let index = shard.logSealIndex;
    if (index === 0) {
      if (replica.pendingCount >= PENDING_APPENDS_PER_GROUP_MAX) {
        this.proposalsDropped++;
        throw new BrokerBusyError(groupId, `${replica.pendingCount} appends wait to commit`);
      }
      const arrival = Math.max(Math.floor(this.options.clock()), shard.lastArrivalTimestampMs);
      try {
        ({ term, index } = replica.node.propose(encodeSealBatch(arrival)));
      } catch (error) {
        throw this.mapProposeError(replica, error);
      }
      shard.stampArrival(arrival);
      shard.noteSealProposed(term, index);
    }
    const promise = new Promise<SealResult>((resolve, reject) => {
      this.host.trackProposal(replica, {
        term,
        index,
        deadlineMs: this.options.clock() + this.options.appendTimeoutMs,
        kind: "seal",
        settled: false,
        // The applied seal: a log holds one, but keep the first defensively.
        onCommitted: (committed) => resolve({ index: shard.sealedIndex || committed.index }),
        reject,
      });
    });
    this.sealing.set(replica, promise);
    const forget = () => {
      if (this.sealing.get(replica) === promise) this.sealing.delete(replica);
    };
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Proposes `data` as one entry of a state-machine group; resolves after it is committed and
   * applied HERE with {term, index, result} where result is what apply returned. Same errors as
   * append (NotLeaderError with leaderHint on a follower, BrokerBusyError,
   * LeadershipLostError/AppendTimeoutError = outcome unknown, GroupNotFoundError,
   * BrokerClosedError). InvalidArgumentError if the group is a shard group or data is empty or
   * larger than PROPOSAL_BYTES_MAX. The broker keeps `data` (do not mutate it).
   */
  async propose(groupId: GroupId, data: Uint8Array): Promise<ProposeResult> {
    this.checkOpen();
    const replica = this.writableReplica(groupId);
    const machine = replica.machine;
    if (machine === null) {
      throw new InvalidArgumentError(`group ${groupId} is a shard group: use append, not propose`);
    }
    if (!(data instanceof Uint8Array) || data.length === 0 || data.length > PROPOSAL_BYTES_MAX) {
      throw new InvalidArgumentError(
        `a proposal must be 1 to ${PROPOSAL_BYTES_MAX} bytes (a Uint8Array), got ${
          data instanceof Uint8Array ? `${data.length} bytes` : typeof data
        }`,
      );
    }
    if (replica.pendingCount >= PENDING_APPENDS_PER_GROUP_MAX) {
      this.proposalsDropped++;
      throw new BrokerBusyError(groupId, `${replica.pendingCount} proposals wait to commit`);
    }
    let position: { term: number; index: number };
    try {
      position = replica.node.propose(data);
    } catch (error) {
      throw this.mapProposeError(replica, error);
    }
    machine.expectResult(position.term, position.index);
    this.appendsProposed++;
    return new Promise<ProposeResult>((resolve, reject) => {
      this.host.trackProposal(replica, {
        term: position.term,
        index: position.index,
        deadlineMs: this.options.clock() + this.options.appendTimeoutMs,
        kind: "proposal",
        settled: false,
        onCommitted: (committed) =>
          resolve({
            term: committed.term,
            index: committed.index,
            result: machine.takeResult(committed.index),
          }),
        reject: (error) => {
          machine.forgetResult(position.index);
          reject(error);
        },
      });
    });
  }

  /**
   * Linearizable read barrier (raft ReadIndex, safe form): resolves once this replica has
   * applied everything committed before the call — on followers too (the leader answers the read
   * index after a heartbeat round confirms it still leads). Any group kind. Rejects
   * NotLeaderError (retriable) when no leader is known, AppendTimeoutError after appendTimeoutMs
   * (the request or its answer was lost, e.g. leadership changed: retry), BrokerBusyError,
   * GroupNotFoundError, BrokerClosedError.
   */
  async readBarrier(groupId: GroupId): Promise<void> {
    this.checkOpen();
    const replica = this.writableReplica(groupId);
    if (replica.reads.size >= READ_BARRIERS_PER_GROUP_MAX) {
      throw new BrokerBusyError(groupId, `${replica.reads.size} read barriers wait`);
    }
    const context = replica.reads.nextContext();
    try {
      replica.node.readIndex(context);
    } catch (error) {
      throw this.mapProposeError(replica, error);
    }
    return new Promise<void>((resolve, reject) => {
      this.host.trackRead(replica, context, {
        index: -1,
        deadlineMs: this.options.clock() + this.options.appendTimeoutMs,
        resolve,
        reject,
      });
    });
  }

  /**
   * Visits the idempotent-producer batches (record-batch.ts, RECORD_BATCH_FLAG_PRODUCER) of this
   * replica's persisted log, NEWEST FIRST, from its last index (committed or not) back towards
   * its first, until `visit` returns false or `limits.maxEntries` entries or `limits.maxBytes`
   * bytes were read. Synchronous storage reads; for the gateway's dedup table, rebuilt when a
   * node takes a shard's leadership (call readBarrier first, so entries proposed in earlier terms
   * are persisted). The trailer views passed to `visit` belong to the log: copy what you keep.
   */
  forEachProducerBatch(
    groupId: GroupId,
    limits: { readonly maxEntries: number; readonly maxBytes: number },
    visit: (index: number, producer: RecordBatchProducer, recordCount: number) => boolean,
  ): void {
    this.checkReadable();
    const replica = this.shardReplica(groupId);
    const log = replica.log;
    let hi = log.lastIndex();
    let entries = 0;
    let bytes = 0;
    while (hi >= log.firstIndex() && entries < limits.maxEntries && bytes < limits.maxBytes) {
      const lo = Math.max(log.firstIndex(), hi - PRODUCER_SCAN_CHUNK_ENTRIES + 1);
      let chunk: ReturnType<typeof log.entries>;
      try {
        chunk = log.entries(lo, hi + 1, Number.MAX_SAFE_INTEGER);
      } catch (error) {
        if (error instanceof CompactedError) return;
        throw error;
      }
      for (let k = chunk.length - 1; k >= 0; k--) {
        const entry = chunk[k] as (typeof chunk)[number];
        entries++;
        bytes += entry.data.length;
        if (entry.type === EntryType.Normal && entry.data.length > 0) {
          const producer = recordBatchProducer(entry.data);
          if (producer !== undefined) {
            const { recordCount } = decodeRecordBatchHeader(entry.data);
            if (!visit(entry.index, producer, recordCount)) return;
          }
        }
        if (entries >= limits.maxEntries || bytes >= limits.maxBytes) return;
      }
      hi = lo - 1;
    }
  }

  /**
   * Calls `listener` after each Ready with the groups whose applied index advanced here (once per
   * group per Ready, not per entry). Called from the persist loop: keep it short; exceptions are
   * ignored. Returns an unsubscribe function.
   */
  onApplied(listener: (groupId: GroupId, appliedIndex: number) => void): () => void {
    return this.host.onApplied(listener);
  }

  /**
   * The first log index whose record batch has arrivalTimestampMs >= timestampMs, among the
   * entries applied here; appliedIndex + 1 when none. Binary search (arrival stamps never
   * decrease along the log; no-op and membership entries are stepped over): O(log n) storage
   * reads. Entries before the first index (trimmed) are not searched. InvalidArgumentError on a
   * state-machine group.
   */
  indexAtTimestamp(groupId: GroupId, timestampMs: number): number {
    this.checkReadable();
    const replica = this.shardReplica(groupId);
    if (typeof timestampMs !== "number" || Number.isNaN(timestampMs)) {
      throw new InvalidArgumentError(`timestampMs must be a number of ms, got ${String(timestampMs)}`);
    }
    return replica.shard.indexAtTimestamp(timestampMs);
  }

  /**
   * Local retention: removes this replica's applied shard-log entries before `beforeIndex` (never
   * past the applied index), so firstIndex() moves forward and reads before it start at the new
   * first index. The log is compacted behind a snapshot that carries no records; a follower that
   * falls behind a leader's first index catches up via that snapshot and reads from there.
   *
   * Only a prefix that holds at least one record batch is removed: when the entries before
   * `beforeIndex` are all no-op, membership or seal entries (a group that has taken no record
   * yet, or the leader's no-op before the first record), nothing changes. Removing them would free
   * nothing (storage rewrites the few live bytes of an old segment forward), yet it would make
   * the replicas' first indexes differ (each trims at its own time) and hand a lagging or new
   * follower a snapshot instead of the log — as the retention sweep did to every group within a
   * minute of its creation, long before any record expired.
   *
   * Idempotent. Resolves with the new first index (after the change is durable).
   * InvalidArgumentError on a state-machine group (it compacts itself) or a bad index.
   */
  async trimLog(groupId: GroupId, beforeIndex: number): Promise<number> {
    this.checkOpen();
    const replica = this.shardReplica(groupId);
    if (!Number.isSafeInteger(beforeIndex) || beforeIndex < 0) {
      throw new InvalidArgumentError(`beforeIndex must be a non-negative integer, got ${beforeIndex}`);
    }
    if (beforeIndex <= replica.log.firstIndex()) return replica.log.firstIndex();
    if (!replica.shard.holdsRecordBefore(beforeIndex)) return replica.log.firstIndex();
    return this.host.trimLog(replica, beforeIndex);
  }

  /**
   * Reads committed records of a group from this replica, from (fromIndex, fromOffset), at most
   * `maxRecords` records and `maxBytes` encoded bytes (at least one record when one is readable).
   * Synchronous; never returns a record that could be taken back. A position before the log's
   * first index starts at the first index (compare `firstIndex` to detect it). Resume from
   * (nextIndex, nextOffset). Returned data buffers are views of the log: do not mutate them.
   */
  read(
    groupId: GroupId,
    fromIndex: number,
    limits: { readonly maxRecords: number; readonly maxBytes: number },
    fromOffset = 0,
  ): ReadResult {
    this.checkReadable();
    const replica = this.shardReplica(groupId);
    if (!Number.isSafeInteger(fromIndex) || fromIndex < 0) {
      throw new InvalidArgumentError(`fromIndex must be a non-negative integer, got ${fromIndex}`);
    }
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new InvalidArgumentError(`fromOffset must be a non-negative integer, got ${fromOffset}`);
    }
    const { maxRecords, maxBytes } = limits ?? {};
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1 || maxRecords > READ_RECORDS_MAX) {
      throw new InvalidArgumentError(
        `maxRecords must be an integer in [1, ${READ_RECORDS_MAX}], got ${maxRecords}`,
      );
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > READ_BYTES_MAX) {
      throw new InvalidArgumentError(
        `maxBytes must be an integer in [1, ${READ_BYTES_MAX}], got ${maxBytes}`,
      );
    }
    return replica.shard.read(fromIndex, fromOffset, { maxRecords, maxBytes }, replica.log.lastIndex());
  }

  /**
   * SHA-256 (hex) over this replica's log entries (index, term, type, data) from its first index
   * through `upToIndex`, which must be applied here (InvalidArgumentError otherwise). Replicas of
   * a group must return the same value for the same index.
   */
  committedLogChecksum(groupId: GroupId, upToIndex: number): string {
    this.checkReadable();
    return this.replicaOrThrow(groupId).shard.checksum(upToIndex);
  }

  // ---- leadership --------------------------------------------------------------------------------

  /**
   * Whether this node's transport reaches each peer (Up: its liveness pings are answered), by
   * node id. A peer never reached yet is Down.
   */
  peerState(peer: NodeId): PeerState {
    return this.host.peerState(peer);
  }

  groupStatus(groupId: GroupId): GroupStatus {
    this.checkReadable();
    const replica = this.replicaOrThrow(groupId);
    const status = replica.node.status();
    return {
      groupId,
      kind: replica.machine === null ? "shard" : "state-machine",
      role: ROLE_NAMES[status.role],
      leader: status.leader,
      term: status.term,
      commitIndex: status.commit,
      appliedIndex: replica.shard.appliedIndex,
      lastIndex: status.lastIndex,
      firstIndex: replica.log.firstIndex(),
      quiesced: replica.quiesced,
      voters: [...replica.voters],
      preferredLeader: replica.preferredLeader,
      pendingAppends: replica.pendingCount,
      sealedIndex: replica.shard.sealedIndex,
    };
  }

  /**
   * Asks the group's leader to hand leadership to `to` (a voter); on a follower the request is
   * forwarded to the leader. Returns at once; watch `onLeaderChange` or `groupStatus`. Throws
   * NotLeaderError when no leader is known, GroupNotFoundError, InvalidArgumentError.
   */
  transferLeader(groupId: GroupId, to: NodeId): void {
    this.checkOpen();
    const replica = this.replicaOrThrow(groupId);
    if (!replica.voters.includes(to)) {
      throw new InvalidArgumentError(
        `node ${to} is not a voter of group ${groupId} (voters ${replica.voters.join(", ")})`,
      );
    }
    try {
      replica.node.transferLeadership(to);
    } catch (error) {
      throw this.mapProposeError(replica, error);
    }
    this.host.touch(replica, true);
  }

  /**
   * Calls `handler` whenever the leader this node knows for a group changes (leader 0: none known,
   * an election is under way). Called from the persist loop: keep it short; exceptions are ignored.
   */
  onLeaderChange(handler: (groupId: GroupId, leader: NodeId, term: number) => void): void {
    this.host.onLeaderChange(handler);
  }

  /** Calls `handler` once if the broker stops on a storage failure (the process should restart). */
  onFatalError(handler: (error: Error) => void): void {
    this.host.onFatalError(handler);
  }

  metrics(): BrokerMetrics {
    const counters = this.host.counters;
    return {
      ...counters,
      groups: this.host.groupCount,
      activeGroups: this.host.activeCount,
      quiescedGroups: this.host.groupCount - this.host.activeCount,
      leaderGroups: this.host.ledCount,
      entriesPerSync: counters.syncs === 0 ? 0 : counters.entriesPersisted / counters.syncs,
      appendsProposed: this.appendsProposed,
      proposalsDropped: this.proposalsDropped,
      tailCacheBytes: this.budget.bytes,
      storage: this.storage.metrics(),
    };
  }

  // ---- stop --------------------------------------------------------------------------------------

  /**
   * Graceful stop: refuses new appends (BrokerClosedError), hands leadership of every group this
   * node leads to another live voter and waits for it (at most shutdownTransferTimeoutMs, counted
   * in ticks), then stops ticking, lets the current flush finish, fails waiting appends and
   * closes the storage. Idempotent. The transport is left to its owner.
   */
  shutdown(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      const host = this.host;
      host.beginStopping();
      const tickMs = this.options.tickIntervalMs;
      const maxTicks = Math.ceil(this.options.shutdownTransferTimeoutMs / tickMs);
      const retryTicks = this.options.electionTicks;
      for (let tick = 0; tick < maxTicks && host.ledCount > 0 && host.state === "stopping"; tick++) {
        if (tick % retryTicks === 0 && host.transferAllLeadership() === 0 && !host.transfersInFlight()) break;
        await host.nextTick();
      }
      await this.stopAndClose();
    })();
    return this.closing;
  }

  /**
   * Immediate stop, without handing leadership over (a crash, minus the lost writes): stops
   * ticking, lets the current flush finish, fails waiting appends, closes the storage. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = this.stopAndClose();
    return this.closing;
  }

  private async stopAndClose(): Promise<void> {
    await this.host.stop(() => new BrokerClosedError());
    await this.storage.close();
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.host.fatalError !== null) throw this.host.fatalError;
    if (this.closing !== null || this.host.state !== "running") throw new BrokerClosedError();
  }

  /** Reads and status stay available while shutdown hands leadership over. */
  private checkReadable(): void {
    if (this.host.fatalError !== null) throw this.host.fatalError;
    if (this.host.state === "stopped") throw new BrokerClosedError();
  }

  private replicaOrThrow(groupId: GroupId): Replica {
    const replica = this.host.replica(groupId);
    if (replica === undefined) {
      checkGroupId(groupId);
      throw new GroupNotFoundError(groupId);
    }
    return replica;
  }

  /** A replica that still runs (its state machine did not fail). */
  private writableReplica(groupId: GroupId): Replica {
    const replica = this.replicaOrThrow(groupId);
    if (replica.failure !== null) throw replica.failure;
    const shortage = this.host.diskShortage;
    if (shortage !== null)
      throw new DiskFullError(this.options.nodeId, shortage, this.options.diskReserveBytes);
    return replica;
  }

  /** A shard group's replica (InvalidArgumentError for a state-machine group). */
  private shardReplica(groupId: GroupId): Replica {
    const replica = this.writableReplica(groupId);
    if (replica.machine !== null) {
      throw new InvalidArgumentError(
        `group ${groupId} is a state-machine group: use propose, not shard calls`,
      );
    }
    return replica;
  }

  private checkVoters(voters: readonly NodeId[]): NodeId[] {
    if (!Array.isArray(voters) || voters.length === 0 || voters.length > GROUP_VOTERS_MAX) {
      throw new InvalidArgumentError(`voters must be an array of 1 to ${GROUP_VOTERS_MAX} node ids`);
    }
    const sorted = [...voters].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i++) {
      const id = sorted[i];
      if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
        throw new InvalidArgumentError(`voter ids must be positive integers, got ${String(id)}`);
      }
      if (i > 0 && sorted[i - 1] === id) throw new InvalidArgumentError(`voter ${id} appears twice`);
    }
    if (!sorted.includes(this.nodeId)) {
      throw new InvalidArgumentError(`voters [${sorted.join(", ")}] must include this node (${this.nodeId})`);
    }
    return sorted;
  }

  private mapProposeError(replica: Replica, error: unknown): unknown {
    const groupId = replica.groupId;
    if (error instanceof RaftNotLeaderError)
      return new NotLeaderError(groupId, error.leaderHint, { cause: error });
    if (error instanceof TransferInProgressError) {
      return new NotLeaderError(groupId, replica.node.status().transferee, {
        cause: error,
        reason: "leadership is being handed over from this node for",
      });
    }
    if (error instanceof ProposalDroppedError) {
      this.proposalsDropped++;
      return new BrokerBusyError(groupId, "the leader's uncommitted entries are at their limit", {
        cause: error,
      });
    }
    return error;
  }
}

function checkGroupId(groupId: GroupId): void {
  if (
    typeof groupId !== "number" ||
    !Number.isSafeInteger(groupId) ||
    groupId < 0 ||
    groupId > GROUP_ID_MAX
  ) {
    throw new InvalidArgumentError(
      `group id must be an integer in [0, ${GROUP_ID_MAX}], got ${String(groupId)}`,
    );
  }
}

/** Checks each state machine the caller's factory returns (a wrong one is a bug in the caller). */
function stateMachineFactory(
  stateMachineFor: (groupId: GroupId) => GroupStateMachine | undefined,
): (groupId: GroupId) => GroupStateMachine | undefined {
  return (groupId) => {
    const machine = stateMachineFor(groupId);
    if (machine === undefined) return undefined;
    if (
      typeof machine !== "object" ||
      machine === null ||
      typeof machine.apply !== "function" ||
      typeof machine.snapshot !== "function" ||
      typeof machine.restore !== "function"
    ) {
      throw new InvalidArgumentError(
        `stateMachineFor(${groupId}) must return a GroupStateMachine (apply, snapshot, restore) or undefined`,
      );
    }
    return machine;
  };
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
