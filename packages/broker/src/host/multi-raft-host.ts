/**
 * The multi-Raft host: every local replica of the node (shard groups and the metadata group) is
 * driven from here, by three things.
 *
 * 1. **One tick timer** visits only the *active* groups (quiesced ones cost nothing; see
 *    quiescence.ts), expires appends past their deadline, and now and then balances leaders.
 * 2. **One persist loop** (group commit), with pipelined Readys. Whenever a group has work —
 *    also while a flush is in flight — its Ready is taken at once: the messages that may leave
 *    before the write go out (a leader's appends and heartbeats: followers write in parallel with
 *    the leader), committed entries are applied and their appends settled (raft hands them out
 *    only up to the locally persisted index), and the entries, hard state and snapshot are staged
 *    for the next flush. Each flush writes everything staged, for every group, with one write and
 *    one fdatasync; then the messages that had to wait for it go out (votes, append
 *    acknowledgements) and its Readys are advanced, oldest first. So an acknowledgement arriving
 *    during a flush commits and settles appends at once, a proposal's appends leave at once, and
 *    under load each sync covers many groups and many appends.
 * 3. **The transport**: incoming batches are stepped into their groups at once (the loop picks up
 *    the resulting Readies); outgoing messages are coalesced per peer per loop turn (outbox.ts);
 *    peer Down/Up events wake the groups concerned.
 *
 * State-machine groups (the metadata service on group 0; see state-machine/) run through the same
 * loop: their committed entries also go to their GroupStateMachine, a snapshot of it is written
 * with the flush after every STATE_MACHINE_SNAPSHOT_ENTRIES applied entries (the log is compacted
 * behind it), and a recovered replica restores from its stored snapshot, then raft hands out the
 * committed entries after it again. Local retention (`trimLog`) of shard groups and read
 * barriers (raft ReadIndex) go through the loop too.
 *
 * Everything runs on the event loop thread; the only await is the flush. Only the loop's collect
 * step calls `ready()` and only the end of a flush calls `advance()`, for the Readys that flush
 * wrote, in the order they were taken: raft's FIFO contract for pipelined Readys
 * (`maxReadiesInFlight`).
 */

import type { FlushBatch, FlushResult, NodeStorage } from "@sluice/storage";
import {
  CompactedError,
  type ConfState,
  decodeConfChange,
  EntryType,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type RaftError,
  RaftNode,
  NotLeaderError as RaftNotLeaderError,
  type RandomSource,
  type Ready,
  SnapshotOutOfDateError,
  StateRole,
} from "raft-ts";
import {
  BOOTSTRAP_CAMPAIGN_INTERVAL_TICKS,
  BOOTSTRAP_CAMPAIGNS_MAX,
  DISK_SPACE_POLL_MS,
  FLUSH_BYTES_TARGET,
  LEADER_BALANCE_SETTLE_ROUNDS,
  LEADER_TRANSFER_COOLDOWN_MS,
  LEADER_TRANSFERS_PER_ROUND_MAX,
  READIES_IN_FLIGHT_PER_GROUP_MAX,
  STATE_MACHINE_SNAPSHOT_TAIL_ENTRIES,
  STORAGE_TAIL_CACHE_APPLIED_BYTES_PER_GROUP,
  UNCOMMITTED_BYTES_PER_GROUP_MAX,
} from "../constants.js";
import {
  AppendTimeoutError,
  BrokerClosedError,
  GroupNotFoundError,
  LeadershipLostError,
  StateMachineFailedError,
  StorageFailedError,
} from "../errors.js";
import { ShardState } from "../shard/shard-state.js";
import { ShardTailCache, type TailCacheBudget } from "../shard/tail-cache.js";
import type { StateMachineFactory } from "../state-machine/group-state-machine.js";
import { StateMachineState } from "../state-machine/state-machine-state.js";
import { type GroupId, type GroupMessage, PeerState, type PeerTransport } from "../transport/transport.js";
import { canTransferTo, preferredLeader, shutdownTransferTarget } from "./leader-balance.js";
import { Outbox } from "./outbox.js";
import { followerMayQuiesce, leaderMayQuiesce } from "./quiescence.js";
import type { PendingRead } from "./read-barriers.js";
import { CappedLogStorage, type PendingProposal, Replica } from "./replica.js";

export interface HostConfig {
  readonly nodeId: NodeId;
  readonly storage: NodeStorage;
  readonly transport: PeerTransport;
  readonly tickIntervalMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly clock: () => number;
  readonly random: RandomSource;
  readonly quiesce: boolean;
  readonly leaderBalance: boolean;
  readonly leaderBalanceIntervalMs: number;
  readonly appendTimeoutMs: number;
  readonly tailCacheBudget: TailCacheBudget;
  readonly tailCacheBytesPerGroup: number;
  readonly quiesceIdleTicks: number;
  /** The state machine of each state-machine group (undefined: a shard group). */
  readonly stateMachineFor: StateMachineFactory;
  /** Free bytes kept on the data filesystem (see DISK_RESERVE_BYTES_DEFAULT); 0: no check. */
  readonly diskReserveBytes: number;
}

/** Monotonic counters of the host (the Broker adds gauges when it reports metrics). */
export interface HostCounters {
  loopTurns: number;
  flushes: number;
  syncs: number;
  entriesPersisted: number;
  journalBytesWritten: number;
  readiesProcessed: number;
  messagesSent: number;
  messageBatchesSent: number;
  messagesRefused: number;
  messagesReceived: number;
  messagesForUnknownGroups: number;
  /** Raft messages dropped while the node waited for disk space. */
  messagesDroppedDiskFull: number;
  /** Flushes that waited for disk space. */
  diskFullWaits: number;
  tickRounds: number;
  groupTicks: number;
  quiesces: number;
  wakes: number;
  leaderChanges: number;
  leaderTransfers: number;
  entriesApplied: number;
  appendsCommitted: number;
  appendTimeouts: number;
  readTimeouts: number;
  stateMachineSnapshots: number;
  logTrims: number;
}

type AdminOp =
  | {
      readonly kind: "create";
      readonly groupId: GroupId;
      readonly voters: readonly NodeId[];
      readonly resolve: (replica: Replica) => void;
      readonly reject: (error: Error) => void;
    }
  | {
      readonly kind: "delete";
      readonly groupId: GroupId;
      readonly resolve: () => void;
      readonly reject: (error: Error) => void;
    };

/** A local retention request (`trimLog`), carried out by the next flush. */
interface Trim {
  readonly replica: Replica;
  readonly beforeIndex: number;
  readonly resolve: (firstIndex: number) => void;
  readonly reject: (error: Error) => void;
}

interface Work {
  readonly replica: Replica;
  readonly ready: Ready;
}

export type HostState = "running" | "stopping" | "stopped" | "failed";

export class MultiRaftHost {
  readonly config: HostConfig;
  readonly counters: HostCounters = {
    loopTurns: 0,
    flushes: 0,
    syncs: 0,
    entriesPersisted: 0,
    journalBytesWritten: 0,
    readiesProcessed: 0,
    messagesSent: 0,
    messageBatchesSent: 0,
    messagesRefused: 0,
    messagesReceived: 0,
    messagesForUnknownGroups: 0,
    messagesDroppedDiskFull: 0,
    diskFullWaits: 0,
    tickRounds: 0,
    groupTicks: 0,
    quiesces: 0,
    wakes: 0,
    leaderChanges: 0,
    leaderTransfers: 0,
    entriesApplied: 0,
    appendsCommitted: 0,
    appendTimeouts: 0,
    readTimeouts: 0,
    stateMachineSnapshots: 0,
    logTrims: 0,
  };
  private readonly replicas = new Map<GroupId, Replica>();
  /** Groups that tick (not quiesced). */
  private readonly active = new Set<Replica>();
  /** Groups that may have a Ready (touched since the loop last looked). */
  private readonly dirty = new Set<Replica>();
  /** Groups this node leads, as of their last processed Ready. */
  private readonly led = new Set<Replica>();
  /** Groups with appends waiting to commit (their deadlines are checked each tick). */
  private readonly withPending = new Set<Replica>();
  /** The transport's view of each peer, kept current by its events. */
  private readonly peers = new Map<NodeId, PeerState>();
  private adminOps: AdminOp[] = [];
  private trims: Trim[] = [];
  /** State-machine groups with a snapshot to write in the next flush. */
  private readonly snapshotsDue = new Set<Replica>();
  private readonly appliedListeners = new Set<(groupId: GroupId, appliedIndex: number) => void>();
  private readonly outbox = new Outbox();
  private loopScheduled = false;
  private loopRunning = false;
  /** Readys taken (messages sent, committed entries applied) and not yet in a flush, in order. */
  private staged: Work[] = [];
  private stagedBytes = 0;
  /** Groups whose configuration changed (applied) and is not yet in a flush. */
  private readonly confChanged = new Set<Replica>();
  private readonly loopIdleWaiters: (() => void)[] = [];
  private readonly tickWaiters: (() => void)[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  /** Checks the free space every DISK_SPACE_POLL_MS (when a reserve is set). */
  private spaceTimer: NodeJS.Timeout | null = null;
  /**
   * Free bytes at the last check while they were below the reserve, else null. While set, appends
   * are refused (DiskFullError); while `waitingForSpace`, the loop holds its flush too.
   */
  private shortOfSpace: number | null = null;
  private waitingForSpace = false;
  /** The space poll found the node below its reserve between flushes: the next turn holds. */
  private holdForSpace = false;
  private lastBalanceMs: number;
  private readonly leaderHandlers: ((groupId: GroupId, leader: NodeId, term: number) => void)[] = [];
  private readonly fatalHandlers: ((error: Error) => void)[] = [];
  state: HostState = "running";
  fatalError: Error | null = null;

  constructor(config: HostConfig) {
    this.config = config;
    this.lastBalanceMs = config.clock();
    for (const [peer, state] of config.transport.peerStates()) this.peers.set(peer, state);
    config.transport.onReceive((from, messages) => this.onReceive(from, messages));
    config.transport.onPeerState((peer, state) => this.onPeerState(peer, state));
    for (const groupId of config.storage.groupIds()) this.openReplica(groupId, false);
  }

  /**
   * Free bytes while the data filesystem is below its reserve (appends are refused), else null.
   */
  get diskShortage(): number | null {
    return this.shortOfSpace;
  }

  /**
   * Whether `neededBytes` more would still leave the reserve free; records the shortage (or its
   * end) for `diskShortage`. A failing statfs counts as plenty: the write itself then reports.
   */
  private checkSpace(neededBytes: number): boolean {
    const reserve = this.config.diskReserveBytes;
    if (reserve <= 0) return true;
    let free: number;
    try {
      free = this.config.storage.freeBytes();
    } catch {
      return true;
    }
    const enough = free - neededBytes >= reserve;
    this.shortOfSpace = free >= reserve ? null : free;
    return enough;
  }

  /**
   * Holds the loop until a flush of `neededBytes` leaves the reserve free. Meanwhile Readys stay
   * untaken and incoming Raft messages are dropped, so the node is silent, as if partitioned: its
   * groups elect leaders elsewhere, and it catches up when space returns. Returns false when the
   * host stopped meanwhile.
   */
  private async waitForSpace(neededBytes: number): Promise<boolean> {
    if (this.checkSpace(neededBytes)) return true;
    // First hand the groups this node leads to live voters (their TimeoutNow goes out now): the
    // followers of a quiesced group do not notice a silent leader (their election timers sleep),
    // so without it such a group would refuse every append while this disk stays full.
    if (this.transferAllLeadership() > 0) {
      this.collect();
      this.flushOutbox();
    }
    this.waitingForSpace = true;
    this.counters.diskFullWaits++;
    try {
      while (this.state === "running") {
        await new Promise((resolve) => setTimeout(resolve, DISK_SPACE_POLL_MS));
        if (this.checkSpace(neededBytes)) return true;
      }
      return false;
    } finally {
      this.waitingForSpace = false;
    }
  }

  /**
   * The periodic look at free space. A node that finds itself below the reserve between flushes
   * (no append raced the fill, so no flush waits for space) must go silent all the same, or a
   * leader would keep its groups while refusing every append: the loop is asked to hold.
   */
  private pollSpace(): void {
    if (this.checkSpace(0) || this.waitingForSpace) return;
    this.holdForSpace = true;
    this.scheduleLoop();
  }

  /** Starts the tick timer. */
  start(): void {
    if (this.tickTimer !== null) return;
    this.tickTimer = setInterval(() => this.onTick(), this.config.tickIntervalMs);
    this.tickTimer.unref();
    if (this.config.diskReserveBytes > 0) {
      this.checkSpace(0);
      this.spaceTimer = setInterval(() => this.pollSpace(), DISK_SPACE_POLL_MS);
      this.spaceTimer.unref();
    }
    for (const replica of this.replicas.values()) this.dirty.add(replica);
    this.scheduleLoop();
  }

  // ---- groups ------------------------------------------------------------------------------------

  replica(groupId: GroupId): Replica | undefined {
    return this.replicas.get(groupId);
  }

  groupIds(): GroupId[] {
    return [...this.replicas.keys()].sort((a, b) => a - b);
  }

  get groupCount(): number {
    return this.replicas.size;
  }

  get activeCount(): number {
    return this.active.size;
  }

  get ledCount(): number {
    return this.led.size;
  }

  /** Creates and persists a replica (with its configuration, in the next flush). */
  createGroup(groupId: GroupId, voters: readonly NodeId[]): Promise<Replica> {
    return new Promise((resolve, reject) => {
      this.adminOps.push({ kind: "create", groupId, voters, resolve, reject });
      this.scheduleLoop();
    });
  }

  /** Stops a replica at once and deletes its state in the next flush. */
  removeGroup(groupId: GroupId, failAppends: () => Error): Promise<void> {
    const replica = this.replicas.get(groupId);
    if (replica !== undefined) {
      replica.removed = true;
      this.replicas.delete(groupId);
      this.active.delete(replica);
      this.dirty.delete(replica);
      this.led.delete(replica);
      this.withPending.delete(replica);
      this.snapshotsDue.delete(replica);
      replica.failAppends(failAppends);
      replica.shard.close();
    }
    return new Promise((resolve, reject) => {
      this.adminOps.push({ kind: "delete", groupId, resolve, reject });
      this.scheduleLoop();
    });
  }

  private openReplica(groupId: GroupId, fresh: boolean): Replica {
    const config = this.config;
    const view = config.storage.group(groupId);
    const log = new CappedLogStorage(view);
    const { hardState, confState } = log.initialState();
    const stateMachine = config.stateMachineFor(groupId);
    let appliedIndex: number;
    let machine: StateMachineState | null = null;
    if (stateMachine === undefined) {
      // The log is the state machine: everything committed is applied, except for the tail
      // cache, which starts empty. (The configuration as of that index is the stored one.)
      appliedIndex = Math.max(hardState.commit, view.firstIndex() - 1);
    } else {
      // The machine restarts from the stored snapshot; raft hands out the committed entries
      // after it again, and they are applied in order.
      const snapshot = view.snapshot();
      const snapshotIndex = snapshot.metadata.index;
      if (view.firstIndex() - 1 > snapshotIndex) {
        throw new Error(
          `group ${groupId}: the log is compacted to ${view.firstIndex() - 1}, past its state-machine snapshot at ${snapshotIndex}`,
        );
      }
      machine = new StateMachineState(stateMachine, 0);
      if (snapshotIndex > 0) machine.restore(snapshot.data, snapshotIndex);
      appliedIndex = snapshotIndex;
    }
    const node = new RaftNode({
      id: config.nodeId,
      storage: log,
      random: config.random,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
      appliedIndex,
      maxUncommittedBytes: UNCOMMITTED_BYTES_PER_GROUP_MAX,
      maxReadiesInFlight: READIES_IN_FLIGHT_PER_GROUP_MAX,
    });
    const shard = new ShardState(
      groupId,
      log,
      // A state-machine group's entries are not records: nothing to cache for readers.
      new ShardTailCache(config.tailCacheBudget, machine === null ? config.tailCacheBytesPerGroup : 0),
      appliedIndex,
      machine === null,
    );
    const voters = [...confState.voters].sort((a, b) => a - b);
    const replica = new Replica({
      groupId,
      node,
      log,
      shard,
      machine,
      voters,
      preferredLeader: preferredLeader(groupId, voters),
      nodeId: config.nodeId,
    });
    this.replicas.set(groupId, replica);
    this.active.add(replica);
    this.dirty.add(replica);
    if (fresh && replica.preferredLeader === config.nodeId && config.leaderBalance) {
      // A new group elects its preferred leader at once instead of after an election timeout.
      node.campaign();
      replica.bootstrapCampaignsLeft = BOOTSTRAP_CAMPAIGNS_MAX;
    }
    return replica;
  }

  // ---- appends -------------------------------------------------------------------------------------

  /** Registers an append or proposal made on `replica` and makes sure the loop will carry it. */
  trackProposal(replica: Replica, append: PendingProposal): void {
    replica.trackProposal(
      append,
      (error: RaftError) =>
        new LeadershipLostError(replica.groupId, append.term, append.index, { cause: error }),
      () => this.counters.appendsCommitted++,
    );
    this.withPending.add(replica);
    this.touch(replica, true);
  }

  /**
   * Registers a read barrier whose ReadIndex request was just made on `replica` (its context is
   * `context`) and makes sure the loop carries the request.
   */
  trackRead(replica: Replica, context: Buffer, read: PendingRead): void {
    replica.reads.add(context, read);
    this.withPending.add(replica);
    this.touch(replica, true);
  }

  /**
   * Local retention: the next flush records a snapshot (no records; see shard-state.ts) at
   * min(beforeIndex - 1, applied) and compacts the log up to it. Resolves with the first index
   * after that flush.
   */
  trimLog(replica: Replica, beforeIndex: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.trims.push({ replica, beforeIndex, resolve, reject });
      this.scheduleLoop();
    });
  }

  /** Marks a replica as having work (after a proposal or a transfer request) and wakes it if asked. */
  touch(replica: Replica, wake: boolean): void {
    if (wake) this.wake(replica);
    this.dirty.add(replica);
    this.scheduleLoop();
  }

  // ---- events --------------------------------------------------------------------------------------

  onLeaderChange(handler: (groupId: GroupId, leader: NodeId, term: number) => void): void {
    this.leaderHandlers.push(handler);
  }

  onFatalError(handler: (error: Error) => void): void {
    this.fatalHandlers.push(handler);
  }

  /** Adds a listener called after each Ready that advanced a group's applied index here. */
  onApplied(listener: (groupId: GroupId, appliedIndex: number) => void): () => void {
    // A wrapper per subscription, so the same function may subscribe twice and unsubscribe once.
    const entry = (groupId: GroupId, appliedIndex: number) => listener(groupId, appliedIndex);
    this.appliedListeners.add(entry);
    return () => {
      this.appliedListeners.delete(entry);
    };
  }

  peerState(peer: NodeId): PeerState {
    return this.peers.get(peer) ?? PeerState.Down;
  }

  // ---- quiescence ------------------------------------------------------------------------------------

  private wake(replica: Replica): void {
    if (!replica.quiesced) return;
    replica.quiesced = false;
    replica.idleTicks = 0;
    this.active.add(replica);
    this.counters.wakes++;
  }

  private quiesce(replica: Replica): void {
    if (replica.quiesced) return;
    replica.quiesced = true;
    replica.idleTicks = 0;
    this.active.delete(replica);
    this.counters.quiesces++;
  }

  /**
   * Lets a follower whose leader went Down campaign soon: the ticks it spent quiesced were time
   * without a leader, but its election clock stood still, so it would still honour the leader's
   * lease (ignore votes) for a whole election timeout. electionTicks - 1 ticks bring it to the
   * edge of its timeout; the randomized part still separates the candidates.
   */
  private fastForwardElection(replica: Replica): void {
    for (let i = 0; i < this.config.electionTicks - 1; i++) replica.node.tick();
  }

  // ---- tick ----------------------------------------------------------------------------------------

  private onTick(): void {
    if (this.state !== "running" && this.state !== "stopping") return;
    const now = this.config.clock();
    this.counters.tickRounds++;
    for (const replica of this.active) {
      replica.node.tick();
      this.counters.groupTicks++;
      this.dirty.add(replica);
      if (replica.bootstrapCampaignsLeft > 0) this.bootstrapCampaign(replica);
      if (this.config.quiesce && replica.role === StateRole.Leader) {
        const status = replica.node.status();
        if (leaderMayQuiesce(status, replica.waitingCount, this.peers)) {
          replica.idleTicks++;
          if (replica.idleTicks >= this.config.quiesceIdleTicks) this.quiesce(replica);
        } else {
          replica.idleTicks = 0;
        }
      }
    }
    for (const replica of this.withPending) {
      this.counters.appendTimeouts += replica.expireAppends(
        now,
        (append) =>
          new AppendTimeoutError(replica.groupId, this.config.appendTimeoutMs, append.index, append.kind),
      );
      this.counters.readTimeouts += replica.reads.expire(
        now,
        () => new AppendTimeoutError(replica.groupId, this.config.appendTimeoutMs, 0, "read"),
      );
      if (replica.waitingCount === 0) this.withPending.delete(replica);
    }
    if (
      this.config.leaderBalance &&
      this.state === "running" &&
      now - this.lastBalanceMs >= this.config.leaderBalanceIntervalMs
    ) {
      this.lastBalanceMs = now;
      this.balanceLeaders(now);
    }
    for (const resolve of this.tickWaiters.splice(0)) resolve();
    this.scheduleLoop();
  }

  /** Campaigns again for a new group whose first campaign found its peers' replicas missing. */
  private bootstrapCampaign(replica: Replica): void {
    const status = replica.node.status();
    if (status.leader !== NONE) {
      replica.bootstrapCampaignsLeft = 0;
      return;
    }
    if (this.counters.tickRounds % BOOTSTRAP_CAMPAIGN_INTERVAL_TICKS !== 0) return;
    // A candidate already asked for votes in a new term: campaigning again would start yet
    // another term and void the votes on their way (a livelock when answers are slow). Only a
    // pre-candidate (no term spent) or a follower asks again.
    if (status.role === StateRole.Candidate) return;
    replica.bootstrapCampaignsLeft--;
    replica.node.campaign();
  }

  /** Resolves after the next tick round (used to poll slow conditions, such as shutdown's transfers). */
  nextTick(): Promise<void> {
    return new Promise((resolve) => this.tickWaiters.push(resolve));
  }

  /** Hands leadership of groups this node leads but should not to their preferred leader. */
  private balanceLeaders(now: number): void {
    let started = 0;
    const settleMs = LEADER_BALANCE_SETTLE_ROUNDS * this.config.leaderBalanceIntervalMs;
    for (const replica of this.led) {
      if (started >= LEADER_TRANSFERS_PER_ROUND_MAX) break;
      const target = replica.preferredLeader;
      if (target === this.config.nodeId || this.peerState(target) !== PeerState.Up) continue;
      if (now - replica.lastTransferAtMs < LEADER_TRANSFER_COOLDOWN_MS) continue;
      if (now - replica.leaderSinceMs < settleMs) continue;
      const status = replica.node.status();
      if (status.role !== StateRole.Leader || status.transferee !== NONE) continue;
      if (!canTransferTo(status, target, this.peers)) continue;
      replica.lastTransferAtMs = now;
      this.wake(replica);
      replica.node.transferLeadership(target);
      this.dirty.add(replica);
      this.counters.leaderTransfers++;
      started++;
    }
  }

  /**
   * Asks every group this node leads to hand leadership to another live voter (the preferred one
   * when it can take it). Returns how many transfers started.
   */
  transferAllLeadership(): number {
    let started = 0;
    for (const replica of this.led) {
      const status = replica.node.status();
      if (status.role !== StateRole.Leader || status.transferee !== NONE) continue;
      const target = shutdownTransferTarget(status, replica.preferredLeader, this.peers);
      if (target === NONE) continue;
      this.wake(replica);
      replica.node.transferLeadership(target);
      this.dirty.add(replica);
      started++;
    }
    this.scheduleLoop();
    return started;
  }

  /** Whether a group this node leads is handing leadership over right now. */
  transfersInFlight(): boolean {
    for (const replica of this.led) if (replica.node.status().transferee !== NONE) return true;
    return false;
  }

  // ---- transport -------------------------------------------------------------------------------------

  private onReceive(_from: NodeId, messages: readonly GroupMessage[]): void {
    if (this.state !== "running" && this.state !== "stopping") return;
    if (this.waitingForSpace) {
      // Nothing may be persisted: behave as a partitioned node; Raft resends after space returns.
      this.counters.messagesDroppedDiskFull += messages.length;
      return;
    }
    const self = this.config.nodeId;
    this.counters.messagesReceived += messages.length;
    for (const { groupId, message } of messages) {
      const replica = this.replicas.get(groupId);
      if (replica === undefined) {
        // Not created here yet (or removed): Raft resends, so dropping is safe.
        this.counters.messagesForUnknownGroups++;
        continue;
      }
      if (replica.failure !== null) continue;
      if (message.to !== self) continue;
      // A node shutting down refuses to be made leader again.
      if (this.state === "stopping" && message.type === MessageType.TimeoutNow) continue;
      replica.node.step(message);
      this.dirty.add(replica);
      if (this.config.quiesce) this.afterStep(replica, message);
      else this.wake(replica);
    }
    this.scheduleLoop();
  }

  /** Quiescence rules on receive (see quiescence.ts). */
  private afterStep(replica: Replica, message: Message): void {
    if (message.type === MessageType.Heartbeat) {
      if (followerMayQuiesce(replica.node.status(), message.from, this.peers)) this.quiesce(replica);
      else this.wake(replica);
    } else if (message.type === MessageType.HeartbeatResp) {
      if (replica.quiesced && !leaderMayQuiesce(replica.node.status(), replica.waitingCount, this.peers)) {
        this.wake(replica);
      }
    } else {
      this.wake(replica);
    }
  }

  private onPeerState(peer: NodeId, state: PeerState): void {
    if (this.state !== "running" && this.state !== "stopping") return;
    this.peers.set(peer, state);
    for (const replica of this.replicas.values()) {
      if (!replica.voters.includes(peer) || replica.failure !== null) continue;
      const status = replica.node.status();
      if (state === PeerState.Down) {
        if (status.role === StateRole.Leader) {
          // Woken, it runs CheckQuorum again: a leader cut off from its quorum steps down instead
          // of sleeping on as a "leader" nobody follows. With a quorum left it quiesces again.
          replica.node.reportUnreachable(peer);
          this.wake(replica);
          this.dirty.add(replica);
        } else if (status.leader === peer) {
          this.wake(replica);
          this.fastForwardElection(replica);
          this.dirty.add(replica);
        }
      } else if (status.role === StateRole.Leader) {
        // Its heartbeats tell a restarted replica on `peer` who leads, and catch it up.
        this.wake(replica);
        this.dirty.add(replica);
      }
    }
    this.scheduleLoop();
  }

  private onRefused(peer: NodeId, messages: readonly GroupMessage[]): void {
    for (const { groupId, message } of messages) {
      if (message.type !== MessageType.App && message.type !== MessageType.Snap) continue;
      const replica = this.replicas.get(groupId);
      if (replica === undefined) continue;
      replica.node.reportUnreachable(peer);
      this.dirty.add(replica);
    }
  }

  // ---- the persist loop ------------------------------------------------------------------------------

  private scheduleLoop(): void {
    if (this.loopScheduled) return;
    if (this.state !== "running" && this.state !== "stopping") return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      if (this.state !== "running" && this.state !== "stopping") return;
      if (!this.loopRunning) {
        void this.runLoop();
        return;
      }
      // A flush is in flight: take the Readys now (send, apply, stage for the next flush).
      // Not while the loop waits for disk space: the node stays silent until it can write.
      if (this.waitingForSpace) return;
      try {
        this.collect();
        this.flushOutbox();
      } catch (error) {
        this.fail(error);
      }
    });
  }

  private async runLoop(): Promise<void> {
    if (this.loopRunning) return;
    this.loopRunning = true;
    try {
      while (
        (this.state === "running" || this.state === "stopping") &&
        (this.dirty.size > 0 ||
          this.holdForSpace ||
          this.adminOps.length > 0 ||
          this.trims.length > 0 ||
          this.snapshotsDue.size > 0 ||
          this.outbox.size > 0 ||
          this.staged.length > 0 ||
          this.confChanged.size > 0)
      ) {
        await this.loopTurn();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.loopRunning = false;
      for (const resolve of this.loopIdleWaiters.splice(0)) resolve();
    }
  }

  /** Resolves when the persist loop is not running (after its current flush, if any). */
  loopIdle(): Promise<void> {
    if (!this.loopRunning) return Promise.resolve();
    return new Promise((resolve) => this.loopIdleWaiters.push(resolve));
  }

  /**
   * Takes the Ready of every group with work (while the staged bytes stay under the flush
   * target): queues its pre-persist messages, applies its committed entries (unless it installs
   * a snapshot, which must be on disk first) and stages it for the next flush.
   */
  private collect(): void {
    for (const replica of this.dirty) {
      if (this.stagedBytes >= FLUSH_BYTES_TARGET) break;
      this.dirty.delete(replica);
      if (replica.removed || replica.failure !== null) continue;
      if (replica.pendingConfState !== null) this.confChanged.add(replica);
      const node = replica.node;
      if (!node.hasReady()) continue;
      const ready = node.ready();
      this.staged.push({ replica, ready });
      this.outbox.add(replica.groupId, ready.messages);
      for (const entry of ready.entries) this.stagedBytes += entry.data.length;
      // Before applying: a seal that reached the log refuses appends from now on (see shard-state.ts).
      if (replica.machine === null && (ready.entries.length > 0 || ready.snapshot !== null)) {
        replica.shard.noteAppended(ready.entries, ready.snapshot);
      }
      // Committed entries are handed out only up to the locally persisted index, so they may be
      // applied (and their appends acknowledged) before this flush: that saves a sync of latency.
      // A snapshot must be on disk before the state machine moves to it, so such a Ready waits.
      if (ready.snapshot === null) this.apply(replica, ready);
      // More may be ready already (pipelined Readys); the next collect looks again.
      if (replica.pendingConfState !== null) this.confChanged.add(replica);
    }
  }

  private async loopTurn(): Promise<void> {
    this.counters.loopTurns++;
    const storage = this.config.storage;
    if (this.holdForSpace) {
      this.holdForSpace = false;
      // Silent until space returns, as when a flush finds the disk full (waitForSpace).
      if (!(await this.waitForSpace(0))) return;
    }

    // 1. Take what is ready now; send what may leave before the write (with the previous
    //    flush's post-persist messages).
    this.collect();
    const sentBeforeWrite = this.outbox.size > 0;
    this.flushOutbox();

    // 2. Everything staged goes into one flush.
    const work = this.staged;
    this.staged = [];
    this.stagedBytes = 0;
    const ops = this.adminOps;
    this.adminOps = [];
    const batch = storage.beginFlush();
    const accepted: AdminOp[] = [];
    for (const op of ops) {
      try {
        if (op.kind === "create") {
          batch.createGroup(op.groupId);
          batch.setConfState(op.groupId, { voters: op.voters, learners: [] });
        } else if (storage.hasGroup(op.groupId)) {
          batch.deleteGroup(op.groupId);
        }
        accepted.push(op);
      } catch (error) {
        op.reject(error as Error);
      }
    }
    for (const replica of this.confChanged) {
      if (replica.removed || replica.pendingConfState === null) continue;
      batch.setConfState(replica.groupId, replica.pendingConfState);
      replica.pendingConfState = null;
    }
    this.confChanged.clear();
    // Snapshots and compactions go before the Readys' writes: they cover applied entries only,
    // which are on disk already, and a snapshot a Ready installs is always newer.
    this.stageSnapshots(batch);
    const trims = this.stageTrims(batch);
    for (const { replica, ready } of work) {
      if (replica.removed) continue;
      if (ready.snapshot !== null) batch.applySnapshot(replica.groupId, ready.snapshot);
      if (ready.entries.length > 0) batch.append(replica.groupId, ready.entries);
      if (ready.hardState !== null) batch.setHardState(replica.groupId, ready.hardState);
    }

    // 3. One write, one sync, for every group. Readys taken meanwhile are staged for the next.
    let result: FlushResult | null = null;
    if (batch.isEmpty) batch.abandon();
    else {
      let neededBytes = 0;
      for (const { ready } of work) {
        for (const entry of ready.entries) neededBytes += entry.data.length;
        if (ready.snapshot !== null) neededBytes += ready.snapshot.data.length;
      }
      // A small frame is written on this thread (storage's inlineWriteBytesMax), which holds the
      // event loop for the write: first let the messages just sent (a leader's appends) reach
      // their sockets, so the followers write in parallel with this node rather than after it.
      if (sentBeforeWrite && neededBytes <= storage.options.inlineWriteBytesMax) await yieldToSends();
      if (!(await this.waitForSpace(neededBytes))) {
        // Stopped while waiting: nothing of this flush is written or acknowledged.
        batch.abandon();
        for (const trim of trims) trim.reject(new BrokerClosedError());
        for (const op of accepted) op.reject(new BrokerClosedError());
        return;
      }
      result = await batch.commit();
    }
    if (result !== null) {
      this.counters.flushes++;
      if (result.segmentSynced) this.counters.syncs++;
      this.counters.entriesPersisted += result.entries;
      this.counters.journalBytesWritten += result.segmentBytes;
    }

    for (const trim of trims) {
      if (trim.replica.removed) trim.reject(new GroupNotFoundError(trim.replica.groupId));
      else trim.resolve(trim.replica.log.firstIndex());
    }
    for (const op of accepted) {
      if (op.kind === "create") {
        try {
          op.resolve(this.openReplica(op.groupId, true));
        } catch (error) {
          op.reject(error as Error);
        }
      } else {
        op.resolve();
      }
    }

    // 4. Post-persist messages go out with the next turn's (or at the end of the loop); then
    //    apply what waited for a snapshot, and advance, in the order the Readys were taken.
    for (const { replica, ready } of work) {
      if (replica.removed) continue;
      this.outbox.add(replica.groupId, ready.messagesAfterPersist);
      if (ready.snapshot !== null) this.apply(replica, ready);
      replica.node.advance();
      this.counters.readiesProcessed++;
      if (replica.node.hasReady() || replica.pendingConfState !== null) this.dirty.add(replica);
    }
    if (
      this.dirty.size === 0 &&
      this.adminOps.length === 0 &&
      this.trims.length === 0 &&
      this.snapshotsDue.size === 0 &&
      this.staged.length === 0 &&
      this.confChanged.size === 0
    ) {
      this.flushOutbox();
    }
  }

  /** Writes the state-machine snapshots taken since the last flush and compacts behind them. */
  private stageSnapshots(batch: FlushBatch): void {
    for (const replica of this.snapshotsDue) {
      const due = replica.machine?.due ?? null;
      if (replica.machine !== null) replica.machine.due = null;
      if (due === null || replica.removed || replica.failure !== null) continue;
      const snapshot = {
        metadata: { index: due.index, term: due.term, confState: { voters: replica.voters, learners: [] } },
        data: due.data,
      };
      try {
        batch.setSnapshot(replica.groupId, snapshot);
        const compactTo = due.index - STATE_MACHINE_SNAPSHOT_TAIL_ENTRIES;
        if (compactTo >= replica.log.firstIndex()) batch.compact(replica.groupId, compactTo);
        this.counters.stateMachineSnapshots++;
      } catch (error) {
        // Validation only (a newer snapshot is stored already): the next one is due soon.
        if (!isStaleSnapshot(error)) throw error;
      }
    }
    this.snapshotsDue.clear();
  }

  /** Adds the waiting retention requests to `batch`; returns those to settle after the flush. */
  private stageTrims(batch: FlushBatch): Trim[] {
    const trims = this.trims;
    this.trims = [];
    const accepted: Trim[] = [];
    for (const trim of trims) {
      const { replica } = trim;
      if (replica.removed) {
        trim.reject(new GroupNotFoundError(replica.groupId));
        continue;
      }
      const target = Math.min(trim.beforeIndex - 1, replica.shard.appliedIndex);
      try {
        if (target >= replica.log.firstIndex()) {
          if (target > replica.log.snapshot().metadata.index) {
            batch.setSnapshot(replica.groupId, {
              metadata: {
                index: target,
                term: replica.log.term(target),
                confState: { voters: replica.voters, learners: [] },
              },
              data: replica.shard.snapshotData(target),
            });
          }
          batch.compact(replica.groupId, target);
          this.counters.logTrims++;
        }
        accepted.push(trim);
      } catch (error) {
        trim.reject(error as Error);
      }
    }
    return accepted;
  }

  /** The state machine threw: the group stops here (see StateMachineFailedError). */
  private failGroup(replica: Replica, index: number, error: unknown): void {
    const failure = new StateMachineFailedError(replica.groupId, index, { cause: error });
    replica.failure = failure;
    this.active.delete(replica);
    this.led.delete(replica);
    this.withPending.delete(replica);
    this.snapshotsDue.delete(replica);
    replica.failAppends(() => failure);
    console.error(failure);
  }

  private flushOutbox(): void {
    if (this.outbox.size === 0) return;
    const sent = this.outbox.flush(this.config.transport, (peer, messages) => this.onRefused(peer, messages));
    this.counters.messagesSent += sent.messages - sent.refused;
    this.counters.messageBatchesSent += sent.batches;
    this.counters.messagesRefused += sent.refused;
  }

  private apply(replica: Replica, ready: Ready): void {
    if (replica.failure !== null) return;
    const node = replica.node;
    const machine = replica.machine;
    const appliedBefore = replica.shard.appliedIndex;
    const snapshot = ready.snapshot;
    if (snapshot !== null) {
      replica.shard.restore(snapshot.metadata.index, snapshot.data, machine === null);
      if (machine !== null && snapshot.metadata.index > machine.appliedIndex) {
        try {
          machine.restore(snapshot.data, snapshot.metadata.index);
        } catch (error) {
          this.failGroup(replica, snapshot.metadata.index, error);
          return;
        }
      }
    }
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.ConfChange) {
        const confState: ConfState = node.applyConfChange(decodeConfChange(entry.data));
        replica.pendingConfState = confState;
      }
      replica.shard.apply(entry);
      if (machine !== null) {
        try {
          machine.apply(entry);
        } catch (error) {
          this.failGroup(replica, entry.index, error);
          return;
        }
      }
    }
    this.counters.entriesApplied += ready.committedEntries.length;
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      this.config.storage.releaseApplied(
        replica.groupId,
        lastCommitted.index,
        STORAGE_TAIL_CACHE_APPLIED_BYTES_PER_GROUP,
      );
      if (machine !== null) {
        machine.maybeSnapshot(lastCommitted.term);
        if (machine.due !== null) this.snapshotsDue.add(replica);
      }
    }
    replica.tracker.observe(ready);
    if (replica.pendingCount > 0) replica.dropSettled();
    if (ready.readStates.length > 0) replica.reads.observe(ready.readStates);
    replica.reads.release(replica.shard.appliedIndex);
    if (replica.waitingCount === 0) this.withPending.delete(replica);
    const appliedIndex = replica.shard.appliedIndex;
    if (appliedIndex > appliedBefore) {
      for (const listener of this.appliedListeners) {
        try {
          listener(replica.groupId, appliedIndex);
        } catch {
          // A listener's failure is its own; the loop must go on.
        }
      }
    }
    if (ready.softState !== null) {
      const { leader, role } = ready.softState;
      replica.role = role;
      if (role === StateRole.Leader) this.led.add(replica);
      else this.led.delete(replica);
      if (leader !== replica.leader) {
        replica.leader = leader;
        replica.leaderSinceMs = this.config.clock();
        this.counters.leaderChanges++;
        const term = node.status().term;
        for (const handler of this.leaderHandlers) {
          try {
            handler(replica.groupId, leader, term);
          } catch {
            // A handler's failure is its own; the loop must go on.
          }
        }
        if (leader !== NONE && replica.reads.size > 0) this.reissueReads(replica);
      }
    }
  }

  /** Asks the (new) leader again for the read indexes the old one never answered. */
  private reissueReads(replica: Replica): void {
    for (const context of replica.reads.unanswered()) {
      try {
        replica.node.readIndex(context);
      } catch {
        // Leadership moved again before this ran: the next leader change asks once more.
      }
    }
    this.touch(replica, true);
  }

  // ---- stop ------------------------------------------------------------------------------------------

  /** Refuses new work but keeps replicating (shutdown's transfer phase). */
  beginStopping(): void {
    if (this.state === "running") this.state = "stopping";
  }

  /** Stops ticking and the loop (after its current flush); fails every waiting append. */
  async stop(failAppends: () => Error): Promise<void> {
    if (this.state === "running" || this.state === "stopping") this.state = "stopped";
    if (this.tickTimer !== null) {
      clearInterval(this.tickTimer);
      this.tickTimer = null;
    }
    if (this.spaceTimer !== null) {
      clearInterval(this.spaceTimer);
      this.spaceTimer = null;
    }
    await this.loopIdle();
    this.flushOutbox();
    for (const replica of this.replicas.values()) replica.failAppends(failAppends);
    for (const op of this.adminOps.splice(0)) op.reject(failAppends());
    for (const resolve of this.tickWaiters.splice(0)) resolve();
  }

  private fail(error: unknown): void {
    const failure = new StorageFailedError({ cause: error });
    this.fatalError = failure;
    this.state = "failed";
    if (this.tickTimer !== null) {
      clearInterval(this.tickTimer);
      this.tickTimer = null;
    }
    if (this.spaceTimer !== null) {
      clearInterval(this.spaceTimer);
      this.spaceTimer = null;
    }
    for (const replica of this.replicas.values()) replica.failAppends(() => failure);
    for (const op of this.adminOps.splice(0)) op.reject(failure);
    for (const resolve of this.tickWaiters.splice(0)) resolve();
    for (const handler of this.fatalHandlers) {
      try {
        handler(failure);
      } catch {
        // Ignored: the broker is already stopped.
      }
    }
  }
}

/** Whether a snapshot could not be staged only because a newer one is stored (not an I/O failure). */
function isStaleSnapshot(error: unknown): boolean {
  return error instanceof SnapshotOutOfDateError || error instanceof CompactedError;
}

/** Whether an error from raft means "not the leader". */
export function isRaftNotLeader(error: unknown): error is RaftNotLeaderError {
  return error instanceof RaftNotLeaderError;
}

/**
 * Event-loop turns a sent message needs to reach its socket: the transport seals and writes its
 * frame in a setImmediate, and the HTTP/2 session writes to the socket in a native immediate of
 * the turn after.
 */
const SEND_TO_SOCKET_LOOP_TURNS = 2;

/** Resolves once the messages sent before the call have been written to their sockets. */
async function yieldToSends(): Promise<void> {
  for (let i = 0; i < SEND_TO_SOCKET_LOOP_TURNS; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
