import type { Entry, Message, NodeId, Snapshot } from "raft-ts";
import { PEER_QUEUE_BYTES_MAX } from "./constants.js";
import { emptyPeerMetrics, type PeerMetrics, type TransportMetrics } from "./metrics.js";
import { type GroupMessage, PeerState, type PeerTransport } from "./transport.js";

/**
 * An in-process PeerTransport for unit tests: every transport made by one hub can reach every
 * other, with the same semantics as the gRPC transport — messages sent to a peer within one turn
 * of the event loop arrive as one batch, asynchronously, in order; a peer's queue is bounded in
 * bytes; a message is copied before `send` returns, so the sender may reuse its buffers.
 *
 * Faults are the test's to inject: `partition`/`isolate` cut links (peers see each other Down and
 * `send` returns false), `setFilter` drops chosen messages silently (a lossy network), `hold`
 * keeps a link's messages queued (a slow peer) until `release`.
 */

export interface InMemoryTransportHubOptions {
  /**
   * Undelivered bytes (approximated as encoded size) allowed per directed link before `send`
   * returns false. @default PEER_QUEUE_BYTES_MAX
   */
  readonly maxQueuedBytesPerPeer?: number;
}

/** Return false to drop the message on its way from `from` to `to`. */
export type InMemoryFilter = (from: NodeId, to: NodeId, message: GroupMessage) => boolean;

interface Link {
  readonly from: NodeId;
  readonly to: NodeId;
  pending: GroupMessage[];
  pendingBytes: number;
  scheduled: boolean;
  held: boolean;
  cut: boolean;
}

export class InMemoryTransportHub {
  private readonly maxQueuedBytesPerPeer: number;
  private readonly transports = new Map<NodeId, InMemoryTransport>();
  private readonly links = new Map<string, Link>();
  private filter: InMemoryFilter | null = null;
  private readonly tasks: (() => void)[] = [];
  private drainScheduled = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(options: InMemoryTransportHubOptions = {}) {
    const max = options.maxQueuedBytesPerPeer ?? PEER_QUEUE_BYTES_MAX;
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new RangeError(`maxQueuedBytesPerPeer must be a positive integer, got ${max}`);
    }
    this.maxQueuedBytesPerPeer = max;
  }

  /**
   * The transport of `nodeId`: the same object until it is closed, then a fresh one (a restart).
   * Its peers are every other node that has had a transport on this hub.
   */
  transport(nodeId: NodeId): InMemoryTransport {
    if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
      throw new RangeError(`node id must be a positive integer, got ${nodeId}`);
    }
    const existing = this.transports.get(nodeId);
    if (existing !== undefined && !existing.closed) return existing;
    const created = new InMemoryTransport(this, nodeId);
    this.transports.set(nodeId, created);
    this.refreshStates();
    return created;
  }

  /** Cuts both directions between `a` and `b`; queued messages between them are lost. */
  partition(a: NodeId, b: NodeId): void {
    this.setCut(a, b, true);
  }

  /** Restores both directions between `a` and `b`. */
  heal(a: NodeId, b: NodeId): void {
    this.setCut(a, b, false);
  }

  /** Cuts `node` from every other node. */
  isolate(node: NodeId): void {
    for (const other of this.transports.keys()) if (other !== node) this.setCut(node, other, true);
  }

  /** Restores every link and releases every held link. */
  healAll(): void {
    for (const link of this.links.values()) {
      link.cut = false;
      link.held = false;
      this.schedule(link);
    }
    this.refreshStates();
  }

  /** Drops, silently, each message for which `filter` returns false; null removes the filter. */
  setFilter(filter: InMemoryFilter | null): void {
    this.filter = filter;
  }

  /** Keeps messages from `from` to `to` queued (counting against the bound) until `release`. */
  hold(from: NodeId, to: NodeId): void {
    this.link(from, to).held = true;
  }

  release(from: NodeId, to: NodeId): void {
    const link = this.link(from, to);
    link.held = false;
    this.schedule(link);
  }

  /** Resolves once every delivery and state change scheduled so far (and caused by them) ran. */
  settled(): Promise<void> {
    if (this.tasks.length === 0 && !this.drainScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal Used by InMemoryTransport. */
  peersOf(nodeId: NodeId): NodeId[] {
    return [...this.transports.keys()].filter((id) => id !== nodeId);
  }

  /** @internal Whether `from` can currently reach `to` and hear back. */
  reachable(from: NodeId, to: NodeId): boolean {
    const sender = this.transports.get(from);
    const receiver = this.transports.get(to);
    if (sender === undefined || receiver === undefined) return false;
    if (!sender.running || !receiver.running) return false;
    return !this.link(from, to).cut && !this.link(to, from).cut;
  }

  /** @internal */
  enqueue(from: NodeId, to: NodeId, messages: readonly GroupMessage[], metrics: PeerMetrics): boolean {
    if (!this.transports.has(to) || to === from) return false;
    if (!this.reachable(from, to)) {
      metrics.messagesDropped += messages.length;
      return false;
    }
    const link = this.link(from, to);
    let bytes = 0;
    for (const gm of messages) bytes += approximateEncodedBytes(gm.message);
    if (link.pendingBytes + bytes > this.maxQueuedBytesPerPeer) {
      metrics.messagesDropped += messages.length;
      return false;
    }
    link.pendingBytes += bytes;
    for (const gm of messages) {
      if (this.filter !== null && !this.filter(from, to, gm)) {
        metrics.messagesDropped += 1;
        continue;
      }
      link.pending.push({ groupId: gm.groupId, message: copyMessage(gm.message) });
    }
    metrics.queuedBytes = link.pendingBytes;
    metrics.queuedMessages = link.pending.length;
    this.schedule(link);
    return true;
  }

  /** @internal Called when a transport starts or closes. */
  refreshStates(): void {
    this.post(() => {
      for (const transport of this.transports.values()) transport.updatePeerStates();
    });
  }

  private setCut(a: NodeId, b: NodeId, cut: boolean): void {
    for (const link of [this.link(a, b), this.link(b, a)]) {
      link.cut = cut;
      if (cut) {
        link.pending = [];
        link.pendingBytes = 0;
      }
    }
    this.refreshStates();
  }

  private link(from: NodeId, to: NodeId): Link {
    const key = `${from}>${to}`;
    let link = this.links.get(key);
    if (link === undefined) {
      link = { from, to, pending: [], pendingBytes: 0, scheduled: false, held: false, cut: false };
      this.links.set(key, link);
    }
    return link;
  }

  private schedule(link: Link): void {
    if (link.scheduled || link.held || link.pending.length === 0) return;
    link.scheduled = true;
    this.post(() => this.deliver(link));
  }

  private deliver(link: Link): void {
    link.scheduled = false;
    if (link.held) return;
    const batch = link.pending;
    link.pending = [];
    link.pendingBytes = 0;
    const sender = this.transports.get(link.from);
    if (sender !== undefined) {
      const metrics = sender.metricsFor(link.to);
      metrics.queuedBytes = 0;
      metrics.queuedMessages = 0;
    }
    if (batch.length === 0 || !this.reachable(link.from, link.to)) return;
    const receiver = this.transports.get(link.to);
    receiver?.receive(link.from, batch);
    if (sender !== undefined) {
      const metrics = sender.metricsFor(link.to);
      metrics.messagesSent += batch.length;
      metrics.framesSent += 1;
    }
  }

  private post(task: () => void): void {
    this.tasks.push(task);
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    // Tasks posted while draining wait for the next turn, as a network would make them.
    const batch = this.tasks.splice(0, this.tasks.length);
    for (const task of batch) task();
    if (this.tasks.length > 0) {
      setImmediate(() => this.drain());
      return;
    }
    this.drainScheduled = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

export class InMemoryTransport implements PeerTransport {
  /** @internal */ running = false;
  /** @internal */ closed = false;
  private readonly receiveHandlers: ((from: NodeId, messages: readonly GroupMessage[]) => void)[] = [];
  private readonly stateHandlers: ((peer: NodeId, state: PeerState) => void)[] = [];
  private readonly states = new Map<NodeId, PeerState>();
  private readonly peerMetrics = new Map<NodeId, PeerMetrics>();

  private readonly hub: InMemoryTransportHub;
  readonly nodeId: NodeId;

  /** @internal Made by InMemoryTransportHub.transport. */
  constructor(hub: InMemoryTransportHub, nodeId: NodeId) {
    this.hub = hub;
    this.nodeId = nodeId;
  }

  send(to: NodeId, messages: readonly GroupMessage[]): boolean {
    if (this.closed || !this.running) return false;
    return this.hub.enqueue(this.nodeId, to, messages, this.metricsFor(to));
  }

  onReceive(handler: (from: NodeId, messages: readonly GroupMessage[]) => void): void {
    this.receiveHandlers.push(handler);
  }

  onPeerState(handler: (peer: NodeId, state: PeerState) => void): void {
    this.stateHandlers.push(handler);
  }

  peerStates(): ReadonlyMap<NodeId, PeerState> {
    const states = new Map<NodeId, PeerState>();
    for (const peer of this.hub.peersOf(this.nodeId))
      states.set(peer, this.states.get(peer) ?? PeerState.Down);
    return states;
  }

  metrics(): TransportMetrics {
    const snapshot = new Map<NodeId, Readonly<PeerMetrics>>();
    for (const [peer, metrics] of this.peerMetrics) snapshot.set(peer, { ...metrics });
    return snapshot;
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("transport is closed"));
    if (!this.running) {
      this.running = true;
      this.hub.refreshStates();
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.running = false;
      this.hub.refreshStates();
    }
    return Promise.resolve();
  }

  /** @internal */
  metricsFor(peer: NodeId): PeerMetrics {
    let metrics = this.peerMetrics.get(peer);
    if (metrics === undefined) {
      metrics = emptyPeerMetrics();
      this.peerMetrics.set(peer, metrics);
    }
    return metrics;
  }

  /** @internal */
  receive(from: NodeId, messages: readonly GroupMessage[]): void {
    if (!this.running) return;
    const metrics = this.metricsFor(from);
    metrics.framesReceived += 1;
    metrics.messagesReceived += messages.length;
    for (const handler of this.receiveHandlers) handler(from, messages);
  }

  /** @internal */
  updatePeerStates(): void {
    if (!this.running) return;
    for (const peer of this.hub.peersOf(this.nodeId)) {
      const next = this.hub.reachable(this.nodeId, peer) ? PeerState.Up : PeerState.Down;
      const previous = this.states.get(peer) ?? PeerState.Down;
      this.states.set(peer, next);
      if (next !== previous) for (const handler of this.stateHandlers) handler(peer, next);
    }
  }
}

function approximateEncodedBytes(message: Message): number {
  let bytes = 64 + message.context.byteLength;
  for (const entry of message.entries) bytes += 24 + entry.data.byteLength;
  if (message.snapshot !== null) bytes += 64 + message.snapshot.data.byteLength;
  return bytes;
}

function copyEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, type: entry.type, data: entry.data.slice() };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  const { metadata } = snapshot;
  return {
    metadata: {
      index: metadata.index,
      term: metadata.term,
      confState: { voters: [...metadata.confState.voters], learners: [...metadata.confState.learners] },
    },
    data: snapshot.data.slice(),
  };
}

function copyMessage(message: Message): Message {
  return {
    ...message,
    entries: message.entries.map(copyEntry),
    snapshot: message.snapshot === null ? null : copySnapshot(message.snapshot),
    context: message.context.slice(),
  };
}
