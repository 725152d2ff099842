import { type ConfChange, decodeConfChange } from "../../conf-change.js";
import { RaftError } from "../../errors.js";
import { RaftNode } from "../../node.js";
import type { RaftBug } from "../../options.js";
import { ProposalTracker } from "../../proposal-tracker.js";
import { SeededRandom } from "../../random.js";
import {
  type ConfState,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  StateRole,
} from "../../types.js";
import { SafetyChecker } from "./checkers.js";
import { type FaultProfile, MAX_SIM_PROPOSAL_BYTES } from "./fault-profile.js";
import { SimNetwork } from "./network.js";
import { NodeState, ReadyStage, SimNode, sameConfState } from "./sim-node.js";
import { decodeSnapshotData, encodeProposal, encodeSnapshotData } from "./state-machine.js";
import { formatMessage, formatReady, type TraceRecorder } from "./trace.js";
import { SimulationViolation, ViolationKind } from "./violation.js";

/**
 * The cluster driver: a group of SimNodes, the SimNetwork between them, and a scheduler that
 * picks each next event from the run's random stream — deliver a message, run a stage of a
 * node's Ready, tick, propose, crash, restart, partition, heal, transfer leadership, change the
 * membership, compact. The SafetyChecker sees every message sent, every Ready taken, every entry
 * applied and every node's status after each event. `settle()` ends a run: it heals everything,
 * runs to quiescence and checks that every acknowledged proposal is applied, in order, everywhere.
 *
 * Everything is a function of the seed (the nodes' election timers draw from their own seeded
 * streams), so a run replays exactly.
 */

/** Node ids handed out over a run, initial members included (a removed id is never reused). */
export const MAX_NODE_IDS_PER_RUN = 9;
/** Tick rounds the healed cluster gets to converge before the run counts as a liveness failure. */
export const MAX_SETTLE_ROUNDS = 400;
/**
 * Deliver/Ready iterations within one settle round before it moves on to the next tick: a
 * healthy cluster drains in a handful; a livelocked one (messages bouncing forever) must not
 * hang the run, it fails the liveness bound instead.
 */
const MAX_DRAIN_ITERATIONS = 100;
/** Messages the healed cluster may exchange while settling (a few thousand is typical). */
export const MAX_SETTLE_DELIVERIES = 50_000;

export interface ClusterOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly profile: FaultProfile;
  readonly rng: SeededRandom;
  readonly bugs: readonly RaftBug[];
  readonly trace: TraceRecorder;
  /** SafetyChecker checks switched off (see SimulationOptions.disabledChecks). */
  readonly disabledChecks?: readonly ViolationKind[];
}

/** Counters of a run, all zero. */
export function emptyStats(): ClusterStats {
  return {
    proposals: 0,
    proposalsRejected: 0,
    acknowledged: 0,
    outcomeUnknown: 0,
    crashes: 0,
    tornPersists: 0,
    restarts: 0,
    partitions: 0,
    transfers: 0,
    confChangesProposed: 0,
    confChangesApplied: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    campaigns: 0,
    readsAsked: 0,
    readsAnswered: 0,
  };
}

export interface ClusterStats {
  proposals: number;
  proposalsRejected: number;
  acknowledged: number;
  /** Proposals whose outcome the ProposalTracker reported unknown (leadership lost). */
  outcomeUnknown: number;
  crashes: number;
  tornPersists: number;
  restarts: number;
  partitions: number;
  transfers: number;
  confChangesProposed: number;
  confChangesApplied: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  campaigns: number;
  readsAsked: number;
  readsAnswered: number;
}

const EventKind = {
  Deliver: 0,
  Ready: 1,
  TickAll: 2,
  TickOne: 3,
  Propose: 4,
  Crash: 5,
  Restart: 6,
  Partition: 7,
  Heal: 8,
  Transfer: 9,
  ConfChange: 10,
  Compact: 11,
  Campaign: 12,
  ReadIndex: 13,
} as const;
const EVENT_COUNT = 14;

export class SimCluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: SimNetwork;
  readonly checker: SafetyChecker;
  readonly stats: ClusterStats = emptyStats();
  step = 0;

  private readonly seed: number;
  private readonly rng: SeededRandom;
  private profile: FaultProfile;
  private readonly bugs: readonly RaftBug[];
  private readonly trace: TraceRecorder;
  /** Node ids in creation order (iteration order must not depend on anything but the seed). */
  private readonly order: SimNode[] = [];
  private nextNodeId: NodeId;
  private nextProposalId = 1;
  private nextReadId = 1;
  /** Pending reads: id → the highest index any node knew committed when the read was asked. */
  private readonly pendingReads = new Map<number, number>();
  /** Proposals the ProposalTracker reported committed (a client was told): id and index. */
  readonly acknowledged: { id: number; index: number }[] = [];
  /** Conf-change entries already applied by some node (by index), so effects happen once. */
  private readonly appliedConfChanges = new Set<number>();
  private readonly weights = new Float64Array(EVENT_COUNT);
  /** A leader to crash at the next step (crashAfterCommitProbability). */
  private doomed: SimNode | null = null;
  private settleDeliveries = 0;
  /** The group's configuration at index 0 (never in the log: see `changeMembership`). */
  private readonly initialVoters: readonly NodeId[];

  constructor(options: ClusterOptions) {
    this.seed = options.seed;
    this.rng = options.rng;
    this.profile = options.profile;
    this.bugs = options.bugs;
    this.trace = options.trace;
    this.network = new SimNetwork(this.rng, this.profile, (lost) => {
      if (this.trace.enabled) this.traceEvent(`lost ${formatMessage(lost.message)}`);
      this.reportDropped(lost.message, lost.senderIncarnation, false);
    });
    this.checker = new SafetyChecker((id) => this.nodes.get(id), options.disabledChecks ?? []);
    const voters: NodeId[] = [];
    for (let id = 1; id <= options.nodes; id++) voters.push(id);
    this.initialVoters = voters;
    if (this.trace.enabled) {
      this.traceEvent(
        `seed ${options.seed}: ${options.nodes} nodes, fault profile ${JSON.stringify(this.profile)}`,
      );
    }
    this.nextNodeId = options.nodes + 1;
    for (const id of voters) {
      if (this.profile.bootstrapWithPeers) {
        this.start(this.addNode(id, { voters: [], learners: [] }, true));
      } else {
        this.start(this.addNode(id, { voters, learners: [] }));
      }
    }
  }

  private addNode(id: NodeId, confState: ConfState, founder = false): SimNode {
    const node = new SimNode(id, confState, founder);
    // Pipelined Readys (up to 3 outstanding) on some nodes; never under a mutation, whose seeds
    // and mixes are tuned to the strict loop.
    if (this.bugs.length === 0) {
      const mix = mixSeed(this.seed, id, PIPELINE_SALT);
      node.pipelineDepth = 1 + (mix % 3);
      node.pipelineRng = new SeededRandom(mix);
    }
    this.nodes.set(id, node);
    this.order.push(node);
    return node;
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling

  /** Runs one scheduled event. Throws SimulationViolation when a checker fails. */
  runStep(): void {
    this.step++;
    try {
      const doomed = this.doomed;
      if (doomed !== null) {
        // A crash at the worst moment, decided when the leader's commit index moved.
        this.doomed = null;
        if (doomed.running) {
          this.traceEvent(`crash ${doomed.id} right after it committed`);
          this.crash(doomed);
          return;
        }
      }
      this.runEvent(this.pickEvent());
    } catch (error) {
      throw asViolation(error);
    }
  }

  private pickEvent(): number {
    const p = this.profile;
    const w = this.weights;
    let running = 0;
    let crashed = 0;
    let withWork = 0;
    let leaders = 0;
    for (const node of this.order) {
      if (node.state === NodeState.Running) {
        running++;
        if (node.hasWork()) withWork++;
        if (node.role === StateRole.Leader) leaders++;
      } else if (node.state === NodeState.Crashed) {
        crashed++;
      }
    }
    w[EventKind.Deliver] = this.network.hasDeliverable(this.step) ? p.deliverWeight : 0;
    w[EventKind.Ready] = withWork > 0 ? p.readyWeight : 0;
    w[EventKind.TickAll] = running > 0 ? p.tickAllWeight : 0;
    w[EventKind.TickOne] = running > 0 ? p.tickOneWeight : 0;
    w[EventKind.Propose] = running > 0 ? p.proposeWeight : 0;
    w[EventKind.Crash] = running > 0 ? p.crashWeight : 0;
    w[EventKind.Restart] = crashed > 0 ? p.restartWeight : 0;
    w[EventKind.Partition] = p.partitionWeight;
    w[EventKind.Heal] = this.network.partitioned ? p.healWeight : 0;
    w[EventKind.Transfer] = leaders > 0 ? p.transferWeight : 0;
    w[EventKind.ConfChange] = leaders > 0 ? p.confChangeWeight : 0;
    w[EventKind.Compact] = running > 0 ? p.compactWeight : 0;
    w[EventKind.Campaign] = running > 0 ? p.campaignWeight : 0;
    w[EventKind.ReadIndex] = running > 0 ? p.readIndexWeight : 0;
    let total = 0;
    for (let i = 0; i < EVENT_COUNT; i++) total += w[i]!;
    if (total === 0) return EventKind.TickAll;
    let target = this.rng.nextFloat() * total;
    for (let i = 0; i < EVENT_COUNT; i++) {
      target -= w[i]!;
      if (target < 0 && w[i]! > 0) return i;
    }
    return EventKind.TickAll;
  }

  private runEvent(kind: number): void {
    switch (kind) {
      case EventKind.Deliver:
        this.deliverOne();
        return;
      case EventKind.Ready: {
        const node = this.pickNode((n) => n.running && n.hasWork());
        if (node === null) return;
        if (this.rng.nextFloat() < this.profile.readyAllStagesProbability) {
          this.processReadyFully(node);
        } else {
          this.readyStage(node);
        }
        return;
      }
      case EventKind.TickAll:
        this.traceEvent("tick all");
        for (const node of this.order) if (node.running) this.tick(node);
        return;
      case EventKind.TickOne: {
        const node = this.pickNode((n) => n.running);
        if (node === null) return;
        this.traceEvent(`tick ${node.id}`);
        this.tick(node);
        return;
      }
      case EventKind.Propose:
        this.propose();
        return;
      case EventKind.Crash: {
        const leader = this.leaderNode();
        const node =
          leader !== null && this.rng.nextFloat() < this.profile.crashLeaderProbability
            ? leader
            : this.pickNode((n) => n.running);
        if (node !== null) this.crash(node);
        return;
      }
      case EventKind.Restart: {
        const node = this.pickNode((n) => n.state === NodeState.Crashed);
        if (node !== null) this.start(node);
        return;
      }
      case EventKind.Partition:
        this.partition();
        return;
      case EventKind.Heal:
        this.traceEvent("heal all links");
        this.network.healAll();
        return;
      case EventKind.Transfer:
        this.transfer();
        return;
      case EventKind.ConfChange:
        this.changeMembership();
        return;
      case EventKind.Compact:
        this.compact();
        return;
      case EventKind.ReadIndex:
        this.readIndex();
        return;
      case EventKind.Campaign: {
        const node = this.pickNode((n) => n.running);
        if (node === null) return;
        this.traceEvent(`campaign ${node.id}`);
        this.stats.campaigns++;
        node.raft!.campaign();
        this.observe(node);
        return;
      }
    }
  }

  /** A uniformly chosen node among those matching, in creation order (deterministic). */
  private pickNode(filter: (node: SimNode) => boolean): SimNode | null {
    let count = 0;
    for (const node of this.order) if (filter(node)) count++;
    if (count === 0) return null;
    let target = this.rng.nextInt(count);
    for (const node of this.order) if (filter(node) && target-- === 0) return node;
    return null;
  }

  private leaderNode(): SimNode | null {
    // The most recent term wins when stale leaders have not heard the news yet.
    let best: SimNode | null = null;
    for (const node of this.order) {
      if (node.running && node.role === StateRole.Leader && (best === null || node.term > best.term))
        best = node;
    }
    return best;
  }

  private traceEvent(text: string): void {
    if (this.trace.enabled) this.trace.record(this.step, text);
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  private tick(node: SimNode): void {
    node.raft!.tick();
    this.observe(node);
  }

  /** After any input to a node: its status goes through Election Safety and CommittedIsDurable. */
  private observe(node: SimNode): void {
    const raft = node.raft;
    if (raft === null) return;
    const status = raft.status();
    if (this.trace.enabled && (status.role !== node.role || status.term !== node.term)) {
      this.traceEvent(`  node ${node.id} is now ${roleName(status.role)} in term ${status.term}`);
    }
    if (
      status.role === StateRole.Leader &&
      status.commit > node.commit &&
      node.role === StateRole.Leader &&
      this.profile.crashAfterCommitProbability > 0 &&
      this.rng.nextFloat() < this.profile.crashAfterCommitProbability
    ) {
      this.doomed = node;
    }
    node.role = status.role;
    node.term = status.term;
    node.leader = status.leader;
    node.commit = status.commit;
    this.checker.onStatus(node, status.role, status.term, status.commit, status.voters);
  }

  private deliverOne(): void {
    const inFlight = this.network.take(this.step);
    if (inFlight === null) return;
    this.deliver(inFlight.message, inFlight.senderIncarnation);
  }

  private deliver(message: Message, senderIncarnation: number): void {
    const target = this.nodes.get(message.to);
    const blocked = this.network.isBlocked(message.from, message.to);
    if (blocked || target === undefined || !target.running) {
      if (this.trace.enabled) {
        this.traceEvent(`drop ${formatMessage(message)} (${blocked ? "partition" : "node down"})`);
      }
      this.reportDropped(message, senderIncarnation, blocked);
      return;
    }
    this.traceEvent(`deliver ${formatMessage(message)}`);
    target.raft!.step(message);
    this.observe(target);
    if (message.type === MessageType.Snap) {
      const sender = this.nodes.get(message.from);
      if (sender?.running && sender.incarnation === senderIncarnation) {
        sender.raft!.reportSnapshot(message.to, true);
        this.observe(sender);
      }
      this.stats.snapshotsInstalled++;
    }
  }

  /** The transport tells the sender what it knows: a failed snapshot, an unreachable peer. */
  private reportDropped(message: Message, senderIncarnation: number, blocked: boolean): void {
    const sender = this.nodes.get(message.from);
    if (sender === undefined || !sender.running || sender.incarnation !== senderIncarnation) return;
    if (message.type === MessageType.Snap) {
      sender.raft!.reportSnapshot(message.to, false);
      this.observe(sender);
    } else if (blocked && this.rng.nextFloat() < this.profile.reportUnreachableProbability) {
      sender.raft!.reportUnreachable(message.to);
      this.observe(sender);
    }
  }

  private send(node: SimNode, messages: readonly Message[]): void {
    for (const message of messages) {
      this.checker.onSend(message);
      if (this.trace.enabled) this.traceEvent(`  ${node.id} sends ${formatMessage(message)}`);
      this.network.send(message, node.incarnation, this.step);
    }
  }

  /**
   * Runs the next stage of the node's Ready processing:
   *   Idle → take `ready()`, send `messages`;  Sent → persist;  Persisted → send
   *   `messagesAfterPersist`;  SentAfterPersist → apply, checkpoint maybe, `advance()`.
   * Returns false when there was nothing to do.
   */
  readyStage(node: SimNode): boolean {
    const raft = node.raft!;
    if (node.pending !== null && node.pipelineRng.nextFloat() < 0.5 && raft.hasReady()) {
      // Pipelined: take the next Ready and send its messages while the pending one is not yet
      // persisted; it is persisted (in order) after the pending one is advanced.
      const rd = raft.ready();
      if (this.trace.enabled) this.traceEvent(`ready ${node.id} (queued): ${formatReady(rd)}`);
      node.queued.push(rd);
      this.checker.onReady(node, rd, node.role, node.term);
      if (rd.readStates.length > 0) this.onReadStates(node, rd);
      this.send(node, rd.messages);
      return true;
    }
    switch (node.stage) {
      case ReadyStage.Idle: {
        if (!raft.hasReady()) return false;
        const rd = raft.ready();
        if (this.trace.enabled) this.traceEvent(`ready ${node.id}: ${formatReady(rd)}`);
        node.pending = rd;
        node.stage = ReadyStage.Sent;
        this.checker.onReady(node, rd, node.role, node.term);
        if (rd.readStates.length > 0) this.onReadStates(node, rd);
        this.send(node, rd.messages);
        return true;
      }
      case ReadyStage.Sent:
        this.traceEvent(`persist ${node.id}`);
        this.persist(node, node.pending!, Number.MAX_SAFE_INTEGER);
        node.stage = ReadyStage.Persisted;
        return true;
      case ReadyStage.Persisted:
        if (node.pending!.messagesAfterPersist.length > 0) this.traceEvent(`send after persist ${node.id}`);
        this.send(node, node.pending!.messagesAfterPersist);
        node.stage = ReadyStage.SentAfterPersist;
        return true;
      case ReadyStage.SentAfterPersist: {
        const rd = node.pending!;
        node.pending = null;
        node.stage = ReadyStage.Idle;
        this.apply(node, rd);
        // Applying its own removal shuts the node down.
        if (!node.running) return true;
        this.traceEvent(`advance ${node.id}`);
        raft.advance();
        const next = node.queued.shift();
        if (next !== undefined) {
          node.pending = next;
          node.stage = ReadyStage.Sent;
        }
        this.observe(node);
        return true;
      }
    }
  }

  /** Runs Ready stages until the node has nothing left (or crashed, or was removed). */
  processReadyFully(node: SimNode): void {
    for (let i = 0; i < 64 && node.running && node.hasWork(); i++) this.readyStage(node);
  }

  /** Writes a Ready to the node's disk; `entryLimit` < entries.length models a torn write. */
  private persist(node: SimNode, rd: Ready, entryLimit: number): void {
    const storage = node.durable;
    if (!rd.mustSync && (rd.entries.length > 0 || rd.snapshot !== null)) {
      throw new SimulationViolation(
        ViolationKind.CoreError,
        `node ${node.id} handed out a Ready with entries or a snapshot but mustSync false`,
      );
    }
    if (rd.mustSync) {
      node.unsyncedRollback = null;
    } else if (rd.hardState !== null && node.unsyncedRollback === null) {
      node.unsyncedRollback = storage.initialState().hardState;
    }
    if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      storage.append(entryLimit >= rd.entries.length ? rd.entries : rd.entries.slice(0, entryLimit));
    }
    if (entryLimit >= rd.entries.length && rd.hardState !== null) {
      const previous = storage.initialState().hardState;
      storage.setHardState(rd.hardState);
      this.checker.onPersistHardState(node, previous, rd.hardState);
    }
  }

  private apply(node: SimNode, rd: Ready): void {
    if (rd.snapshot !== null) {
      const { index, confState } = rd.snapshot.metadata;
      const hash = decodeSnapshotData(rd.snapshot.data);
      this.checker.onRestore(node, index, hash);
      node.applied = index;
      node.hash = hash;
      node.confState = confState;
    }
    for (const entry of rd.committedEntries) {
      if (entry.index !== node.applied + 1) {
        throw new SimulationViolation(
          ViolationKind.StateMachineSafety,
          `node ${node.id} was handed entry ${entry.index} to apply after applying ${node.applied}`,
        );
      }
      node.hash = this.checker.onApply(node, entry, node.hash);
      node.applied = entry.index;
      if (entry.type === EntryType.ConfChange) {
        const change = decodeConfChange(entry.data);
        node.confState = node.raft!.applyConfChange(change);
        this.onConfChangeApplied(entry.index, change);
        if (!node.running) return;
      }
    }
    node.tracker!.observe(rd);
    if (rd.committedEntries.length > 0 && this.rng.nextFloat() < this.profile.checkpointProbability) {
      this.checkpoint(node);
    }
  }

  /**
   * The application makes its state durable. The RaftNode restarts with the configuration of
   * its storage, which must be the one as of the applied index (RaftOptions.appliedIndex), so
   * after a membership change the checkpoint is a storage snapshot.
   */
  private checkpoint(node: SimNode): void {
    const storage = node.durable;
    if (sameConfState(node.confState, storage.initialState().confState)) {
      node.checkpoint = { index: node.applied, hash: node.hash, confState: node.confState };
    } else if (node.applied > storage.snapshot().metadata.index && node.applied <= storage.lastIndex()) {
      storage.createSnapshot(node.applied, node.confState, encodeSnapshotData(node.hash));
      node.checkpoint = { index: node.applied, hash: node.hash, confState: node.confState };
      this.stats.snapshotsTaken++;
    }
  }

  /**
   * The ProposalTracker told the client proposal `id` committed at `index`: the node has just
   * applied that index, so the global apply log must hold that very proposal there.
   */
  private acknowledge(node: SimNode, id: number, index: number): void {
    const applied = this.checker.appliedKeyAt(index);
    if (applied !== id) {
      throw new SimulationViolation(
        ViolationKind.AcknowledgedLost,
        `node ${node.id} acknowledged proposal ${id} at ${index}, but key ${applied} was applied there`,
      );
    }
    this.acknowledged.push({ id, index });
    this.stats.acknowledged++;
  }

  private onConfChangeApplied(index: number, change: ConfChange): void {
    if (this.appliedConfChanges.has(index)) return;
    this.appliedConfChanges.add(index);
    // The bootstrap entries (peers) are conf changes too, but nobody proposed them.
    if (!this.profile.bootstrapWithPeers || index > this.initialVoters.length)
      this.stats.confChangesApplied++;
    this.traceEvent(`  conf change ${change.type} ${change.nodeId} committed at ${index}`);
    if (change.type === "remove-node") {
      const removed = this.nodes.get(change.nodeId);
      if (removed !== undefined && removed.state !== NodeState.Removed) {
        this.traceEvent(`  node ${removed.id} shuts down (removed)`);
        this.stop(removed);
        removed.state = NodeState.Removed;
      }
    }
  }

  private propose(): void {
    // Clients talk to whichever node they believe leads, stale leaders included: a leader cut
    // off from the group keeps accepting proposals that can never commit.
    const anyLeader = this.pickNode((n) => n.running && n.role === StateRole.Leader);
    const node =
      anyLeader !== null && this.rng.nextFloat() < 0.9 ? anyLeader : this.pickNode((n) => n.running);
    if (node === null) return;
    const raft = node.raft!;
    const p = this.profile;
    const count =
      p.maxBatchEntries > 1 && this.rng.nextFloat() < 0.5 ? 1 + this.rng.nextInt(p.maxBatchEntries) : 1;
    const ids: number[] = [];
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextProposalId++;
      ids.push(id);
      payloads.push(encodeProposal(id, 4 + this.rng.nextInt(Math.max(1, p.maxProposalBytes - 3))));
    }
    this.stats.proposals += count;
    try {
      let term: number;
      let firstIndex: number;
      if (count === 1) {
        const result = raft.propose(payloads[0]!);
        term = result.term;
        firstIndex = result.index;
      } else {
        const result = raft.proposeBatch(payloads);
        term = result.term;
        firstIndex = result.firstIndex;
      }
      if (term === 0) {
        // Forwarded to the leader (forwardProposals): the client learns nothing of its fate.
        this.traceEvent(`propose ${ids.join(",")} at ${node.id}: forwarded to the leader`);
        this.observe(node);
        return;
      }
      this.traceEvent(
        `propose ${ids.join(",")} at ${node.id}: ${firstIndex}..${firstIndex + count - 1}@${term}`,
      );
      for (let i = 0; i < count; i++) {
        const id = ids[i]!;
        node.tracker!.track(term, firstIndex + i, {
          resolve: (position) => this.acknowledge(node, id, position.index),
          reject: () => {
            this.stats.outcomeUnknown++;
          },
        });
      }
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      this.stats.proposalsRejected += count;
      if (this.trace.enabled) this.traceEvent(`propose at ${node.id} refused: ${error.code}`);
    }
    this.observe(node);
  }

  /**
   * Asks for a linearizable read. Whatever was committed anywhere before the read is asked
   * must be visible to it: the ReadIndex answer must be at least that index.
   */
  private readIndex(): void {
    const anyLeader = this.pickNode((n) => n.running && n.role === StateRole.Leader);
    const node =
      anyLeader !== null && this.rng.nextFloat() < 0.8 ? anyLeader : this.pickNode((n) => n.running);
    if (node === null) return;
    const id = this.nextReadId++;
    const context = new Uint8Array(4);
    new DataView(context.buffer).setUint32(0, id, true);
    try {
      node.raft!.readIndex(context);
      this.pendingReads.set(id, this.checker.committedIndex);
      this.stats.readsAsked++;
      this.traceEvent(`read ${id} at ${node.id} (committed so far: ${this.checker.committedIndex})`);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
    this.observe(node);
  }

  private onReadStates(node: SimNode, rd: Ready): void {
    for (const state of rd.readStates) {
      if (state.context.length !== 4) continue;
      const id = new DataView(state.context.buffer, state.context.byteOffset, 4).getUint32(0, true);
      const required = this.pendingReads.get(id);
      if (required === undefined) continue;
      this.pendingReads.delete(id);
      this.stats.readsAnswered++;
      if (state.index < required) {
        throw new SimulationViolation(
          ViolationKind.LinearizableRead,
          `node ${node.id} answered read ${id} at index ${state.index}, but ${required} was committed before it was asked`,
        );
      }
    }
  }

  private crash(node: SimNode): void {
    this.stats.crashes++;
    if (node.stage === ReadyStage.Sent && node.pending !== null && node.pending.snapshot === null) {
      const entries = node.pending.entries.length;
      if (entries > 0 && this.rng.nextFloat() < this.profile.tornPersistProbability) {
        const kept = this.rng.nextInt(entries);
        this.traceEvent(
          `crash ${node.id} while persisting: only ${kept} of ${entries} entries reach the disk`,
        );
        this.persist(node, node.pending, kept);
        this.stats.tornPersists++;
        this.stop(node);
        return;
      }
    }
    this.traceEvent(`crash ${node.id} (Ready stage ${node.stage})`);
    this.stop(node);
  }

  /** Discards everything in memory; the disk stays. */
  private stop(node: SimNode): void {
    if (node.unsyncedRollback !== null) {
      const lost = node.durable.initialState().hardState;
      const kept = node.unsyncedRollback;
      this.traceEvent(`  ${node.id} loses its unsynced hard state (commit ${lost.commit} → ${kept.commit})`);
      node.durable.setHardState(kept);
      node.unsyncedRollback = null;
    }
    node.raft = null;
    node.tracker = null;
    node.pending = null;
    node.queued = [];
    node.stage = ReadyStage.Idle;
    node.state = NodeState.Crashed;
    node.role = StateRole.Follower;
    this.checker.onStatus(node, StateRole.Follower, node.term, 0, []);
  }

  /**
   * Starts (or restarts) a node from its disk: the RaftNode reads the durable storage; the
   * application restores its checkpoint, or the storage snapshot when that is newer or the
   * checkpoint's configuration is not the storage's.
   */
  private start(node: SimNode): void {
    const storage = node.durable;
    const snapshot = storage.snapshot();
    const { hardState, confState } = storage.initialState();
    const checkpoint = node.checkpoint;
    if (
      checkpoint.index >= snapshot.metadata.index &&
      checkpoint.index <= storage.lastIndex() &&
      sameConfState(checkpoint.confState, confState)
    ) {
      node.applied = checkpoint.index;
      node.hash = checkpoint.hash;
      node.confState = checkpoint.confState;
    } else {
      node.applied = snapshot.metadata.index;
      node.hash = decodeSnapshotData(snapshot.data);
      node.confState = snapshot.metadata.confState;
    }
    if (node.incarnation > 0) {
      this.stats.restarts++;
      this.traceEvent(
        `restart ${node.id}: disk ${storage.firstIndex()}..${storage.lastIndex()} ` +
          `hard{t${hardState.term} v${hardState.vote} c${hardState.commit}} applied ${node.applied}`,
      );
    }
    node.incarnation++;
    const p = this.profile;
    node.raft = new RaftNode({
      id: node.id,
      storage,
      maxReadiesInFlight: node.pipelineDepth,
      ...(node.founder ? { peers: this.initialVoters } : {}),
      random: new SeededRandom(mixSeed(this.seed, node.id, node.incarnation)),
      appliedIndex: node.applied,
      electionTicks: p.electionTicks,
      heartbeatTicks: p.heartbeatTicks,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      maxAppendBytes: p.maxAppendBytes,
      maxInflightAppends: p.maxInflightAppends,
      maxCommittedBytesPerReady: p.maxCommittedBytesPerReady,
      maxUncommittedBytes: p.maxUncommittedBytes,
      maxProposalBytes: MAX_SIM_PROPOSAL_BYTES,
      forwardProposals: p.forwardProposals,
      bugs: this.bugs,
    });
    node.tracker = new ProposalTracker();
    node.state = NodeState.Running;
    node.pending = null;
    node.stage = ReadyStage.Idle;
    node.mirror.rebuild(storage);
    node.recordedCommit = node.mirror.baseIndex;
    node.durableCheckedCommit = hardState.commit;
    node.appendOnlyTerm = 0;
    node.completenessCheckedTerm = 0;
    node.role = StateRole.Follower;
    node.term = hardState.term;
    this.observe(node);
  }

  private partition(): void {
    this.stats.partitions++;
    const ids = this.order.filter((n) => n.state !== NodeState.Removed).map((n) => n.id);
    if (ids.length < 2) return;
    const leader = this.leaderNode();
    if (leader !== null && this.rng.nextFloat() < this.profile.isolateLeaderProbability) {
      const rest = ids.filter((id) => id !== leader.id);
      this.network.partition([leader.id], rest);
      this.traceEvent(`partition [${leader.id}] (the leader) | [${rest.join(",")}]`);
    } else if (this.rng.nextFloat() < 0.6) {
      // Symmetric: a random non-empty proper subset against the rest.
      const side: NodeId[] = [];
      const rest: NodeId[] = [];
      for (const id of ids) (this.rng.nextFloat() < 0.5 ? side : rest).push(id);
      if (side.length === 0) side.push(rest.pop()!);
      if (rest.length === 0) rest.push(side.pop()!);
      this.network.partition(side, rest);
      this.traceEvent(`partition [${side.join(",")}] | [${rest.join(",")}]`);
    } else {
      // Asymmetric: some directed links only.
      const links = 1 + this.rng.nextInt(ids.length);
      for (let i = 0; i < links; i++) {
        const from = ids[this.rng.nextInt(ids.length)]!;
        const to = ids[this.rng.nextInt(ids.length)]!;
        if (from !== to) this.network.blockLink(from, to);
      }
      this.traceEvent(`block links ${this.network.describeBlocked()}`);
    }
  }

  private transfer(): void {
    const leader = this.leaderNode();
    if (leader === null) return;
    const voters = leader.raft!.status().voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = voters[this.rng.nextInt(voters.length)]!;
    this.stats.transfers++;
    this.traceEvent(`transfer leadership ${leader.id} -> ${target}`);
    try {
      leader.raft!.transferLeadership(target);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
    this.observe(leader);
  }

  /** Proposes one membership change at the leader: add a learner or voter, promote, remove. */
  private changeMembership(): void {
    const leader = this.leaderNode();
    if (leader === null) return;
    const status = leader.raft!.status();
    const voters = status.voters;
    const learners = status.learners;
    const choice = this.rng.nextInt(4);
    let change: ConfChange | null = null;
    let fresh = false;
    if (choice === 0 && learners.length > 0) {
      change = { type: "add-voter", nodeId: learners[this.rng.nextInt(learners.length)]! };
    } else if (choice <= 1 && this.nextNodeId <= MAX_NODE_IDS_PER_RUN) {
      change = { type: this.rng.nextFloat() < 0.5 ? "add-learner" : "add-voter", nodeId: this.nextNodeId };
      fresh = true;
    } else if (choice === 2 && learners.length > 0) {
      change = { type: "remove-node", nodeId: learners[this.rng.nextInt(learners.length)]! };
    } else if (voters.length > 2) {
      change = { type: "remove-node", nodeId: voters[this.rng.nextInt(voters.length)]! };
    }
    if (change === null) return;
    this.stats.confChangesProposed++;
    try {
      const { term, index } = leader.raft!.proposeConfChange(change);
      this.traceEvent(
        `propose conf change ${change.type} ${change.nodeId} at ${leader.id}: ${index}@${term}`,
      );
      if (fresh) {
        // The new server starts with an empty log. In a group bootstrapped with `peers`, the log
        // from index 1 holds the whole membership history, so it starts with no configuration;
        // otherwise it is created with the group's current configuration (RaftOptions.peers).
        this.nextNodeId++;
        this.start(
          this.addNode(
            change.nodeId,
            this.profile.bootstrapWithPeers
              ? { voters: [], learners: [] }
              : { voters: [...voters], learners: [...learners] },
          ),
        );
      }
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      if (this.trace.enabled)
        this.traceEvent(`conf change ${change.type} ${change.nodeId} refused: ${error.code}`);
    }
    this.observe(leader);
  }

  /** The application snapshots its applied state and compacts the log up to (about) there. */
  private compact(): void {
    const node = this.pickNode((n) => n.running);
    if (node === null) return;
    const storage = node.durable;
    const snapshotIndex = storage.snapshot().metadata.index;
    if (node.applied <= snapshotIndex || node.applied > storage.lastIndex()) return;
    storage.createSnapshot(node.applied, node.confState, encodeSnapshotData(node.hash));
    this.stats.snapshotsTaken++;
    const keep = this.rng.nextInt(4);
    const compactTo = Math.max(node.applied - keep, storage.firstIndex());
    if (compactTo > storage.firstIndex() - 1 && compactTo <= node.applied) storage.compact(compactTo);
    this.traceEvent(`snapshot ${node.id} at ${node.applied}, compact to ${compactTo}`);
  }

  // ---------------------------------------------------------------------------------------------
  // The end of a run

  /**
   * Heals every fault, restarts every crashed node, and runs the cluster until it is quiet: one
   * leader, every member applied everything the leader committed, nothing in flight. Then checks
   * that every acknowledged proposal is applied, at its index (hence in order), on every member.
   */
  settle(): void {
    try {
      this.settleUnchecked();
    } catch (error) {
      throw asViolation(error);
    }
  }

  private settleUnchecked(): void {
    this.traceEvent("settle: heal all, restart all, no more faults");
    this.profile = {
      ...this.profile,
      dropProbability: 0,
      duplicateProbability: 0,
      reorderProbability: 0,
      delayProbability: 0,
    };
    this.network.setProfile(this.profile);
    this.network.healAll();
    for (const node of this.order) if (node.state === NodeState.Crashed) this.start(node);
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      this.drain();
      const leader = this.converged();
      if (leader !== null) {
        this.finalCheck(leader);
        return;
      }
      this.step++;
      this.traceEvent("settle: tick all");
      for (const node of this.order) if (node.running) this.tick(node);
    }
    const summary = this.order
      .map((n) => `${n.id}:${n.state}/${roleName(n.role)} t${n.term} c${n.commit} a${n.applied}`)
      .join(" ");
    throw new SimulationViolation(
      ViolationKind.Liveness,
      `the healed cluster did not converge in ${MAX_SETTLE_ROUNDS} tick rounds: ${summary}`,
    );
  }

  /** Delivers everything and processes every Ready until nothing moves. */
  private drain(): void {
    for (let i = 0; i < MAX_DRAIN_ITERATIONS; i++) {
      let moved = false;
      for (const node of this.order) {
        if (node.running && node.hasWork()) {
          this.processReadyFully(node);
          moved = true;
        }
      }
      if (this.network.size > 0) {
        this.step++;
        const batch = this.network.takeAll();
        this.settleDeliveries += batch.length;
        if (this.settleDeliveries > MAX_SETTLE_DELIVERIES) {
          throw new SimulationViolation(
            ViolationKind.Liveness,
            `the healed cluster exchanged ${MAX_SETTLE_DELIVERIES} messages without converging (a livelock):\n${this.describe()}`,
          );
        }
        for (const inFlight of batch) this.deliver(inFlight.message, inFlight.senderIncarnation);
        moved = true;
      }
      if (!moved) return;
    }
  }

  /** The leader when the cluster is quiet and every member caught up, else null. */
  private converged(): SimNode | null {
    const leader = this.leaderNode();
    if (leader === null) return null;
    const status = leader.raft!.status();
    if (status.commit !== status.lastIndex) return null;
    for (const id of [...status.voters, ...status.learners]) {
      const member = this.nodes.get(id);
      if (member === undefined || !member.running) return null;
      const memberStatus = member.raft!.status();
      if (member.applied !== status.commit || memberStatus.lastIndex !== status.lastIndex) return null;
      if (memberStatus.leader !== leader.id || memberStatus.term !== status.term) return null;
    }
    return leader;
  }

  private finalCheck(leader: SimNode): void {
    const status = leader.raft!.status();
    const commit = status.commit;
    const expectedHash = this.checker.appliedHashAt(commit);
    for (const id of [...status.voters, ...status.learners]) {
      const member = this.nodes.get(id)!;
      if (member.applied !== commit || member.hash !== expectedHash) {
        throw new SimulationViolation(
          ViolationKind.AcknowledgedLost,
          `after healing, node ${id} applied ${member.applied} (state ${member.hash}), leader ${leader.id} committed ${commit} (state ${expectedHash})`,
        );
      }
    }
    // Every member holds the one global apply log (same state hash at the same index), so an
    // acknowledged proposal found at its index there is applied everywhere, in index order.
    for (const { id, index } of this.acknowledged) {
      if (index > commit || this.checker.appliedKeyAt(index) !== id) {
        throw new SimulationViolation(
          ViolationKind.AcknowledgedLost,
          `proposal ${id} was acknowledged at index ${index}, but the healed cluster applied ` +
            `${index > commit ? "nothing" : `key ${this.checker.appliedKeyAt(index)}`} there (commit ${commit})`,
        );
      }
    }
    this.traceEvent(`settled: leader ${leader.id} term ${status.term} commit ${commit}`);
  }

  /** One line per node, for failure reports. */
  describe(): string {
    return this.order
      .map(
        (n) =>
          `node ${n.id}: ${n.state} ${roleName(n.role)} term ${n.term} commit ${n.commit} applied ${n.applied} ` +
          `disk ${n.durable.firstIndex()}..${n.durable.lastIndex()} stage ${n.stage}`,
      )
      .join("\n");
  }
}

function roleName(role: StateRole): string {
  switch (role) {
    case StateRole.Follower:
      return "follower";
    case StateRole.PreCandidate:
      return "pre-candidate";
    case StateRole.Candidate:
      return "candidate";
    case StateRole.Leader:
      return "leader";
  }
}

/** A seed for one node incarnation's election timer, derived from the run's seed. */
/** Salt of the per-node seeds of the pipelining decisions (depth, when to take a Ready early). */
const PIPELINE_SALT = 0x70_1e_11_4e;

function mixSeed(seed: number, id: NodeId, incarnation: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) >>> 0;
  h = Math.imul(h ^ id, 0x165667b1) >>> 0;
  h = Math.imul(h ^ incarnation, 0x9e3779b1) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Checker failures pass through; anything else the core threw is a CoreError violation. */
function asViolation(error: unknown): SimulationViolation {
  if (error instanceof SimulationViolation) return error;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new SimulationViolation(ViolationKind.CoreError, message, { cause: error });
}
