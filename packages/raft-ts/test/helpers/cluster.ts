// A tiny in-process network of RaftNodes over MemoryStorage for the paper and scenario tests:
// it processes each Ready by the rules (send `messages`, persist, send `messagesAfterPersist`,
// apply, advance) and delivers messages only when asked, so tests control every interleaving.

import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  type NodeId,
  RaftNode,
  type RaftOptions,
  type ReadState,
  type Ready,
  SeededRandom,
} from "raft-ts";
import { testMessage } from "../../src/testing/message.js";

export type NodeOptions = Partial<Omit<RaftOptions, "id" | "storage" | "random">>;

export interface TestNode {
  readonly id: NodeId;
  node: RaftNode;
  storage: MemoryStorage;
  /** Committed entries applied, in order (the state machine). */
  applied: Entry[];
  readStates: ReadState[];
  confState: ConfState;
  options: NodeOptions;
  seed: number;
}

export type ReadyHook = (id: NodeId, ready: Ready) => void;

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  inFlight: Message[] = [];
  /** Directed links that drop messages: "from->to". */
  private readonly cut = new Set<string>();
  onReady: ReadyHook | null = null;
  onDeliver: ((message: Message) => void) | null = null;

  /** Adds voters `ids` (a new group of exactly these voters). */
  static create(ids: readonly NodeId[], options: NodeOptions = {}): TestCluster {
    const cluster = new TestCluster();
    for (const id of ids) cluster.addNode(id, { voters: ids, learners: [] }, options);
    return cluster;
  }

  /**
   * A group whose members start with logs of the given entry terms (node id -> terms of entries
   * 1, 2, …) and a stored term equal to their last entry's term (or `term` when larger).
   */
  static withLogs(
    logs: Readonly<Record<NodeId, readonly number[]>>,
    options: NodeOptions = {},
    term = 0,
  ): TestCluster {
    const cluster = new TestCluster();
    const ids = Object.keys(logs).map(Number);
    for (const id of ids) {
      const terms = logs[id] ?? [];
      cluster.addNode(id, { voters: ids, learners: [] }, options, (storage) => {
        storage.append(entries(1, terms));
        storage.setHardState({ term: Math.max(term, terms[terms.length - 1] ?? 0), vote: 0, commit: 0 });
      });
    }
    return cluster;
  }

  /** Adds a node whose storage starts with `confState` (empty for a node joining later). */
  addNode(
    id: NodeId,
    confState: ConfState,
    options: NodeOptions = {},
    fill?: (storage: MemoryStorage) => void,
  ): TestNode {
    const storage = new MemoryStorage({ confState });
    fill?.(storage);
    const seed = id * 7919;
    const node = new RaftNode({ id, storage, random: new SeededRandom(seed), ...options });
    const entry: TestNode = { id, node, storage, applied: [], readStates: [], confState, options, seed };
    this.nodes.set(id, entry);
    return entry;
  }

  get(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  raft(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /**
   * Processes one Ready of `id`: messages go in flight at once, the rest is persisted, then the
   * after-persist messages go, committed entries are applied (conf changes included), advance.
   */
  processReady(id: NodeId): Ready | null {
    const entry = this.get(id);
    if (!entry.node.hasReady()) return null;
    const ready = entry.node.ready();
    this.onReady?.(id, ready);
    this.send(ready.messages);
    if (ready.snapshot !== null) {
      entry.storage.applySnapshot(ready.snapshot);
      entry.confState = ready.snapshot.metadata.confState;
      entry.applied = [];
    }
    entry.storage.append(ready.entries);
    if (ready.hardState !== null) entry.storage.setHardState(ready.hardState);
    this.send(ready.messagesAfterPersist);
    for (const committed of ready.committedEntries) {
      if (committed.type === EntryType.ConfChange) {
        entry.confState = entry.node.applyConfChange(decodeConfChange(committed.data));
      }
      entry.applied.push(committed);
    }
    entry.readStates.push(...ready.readStates);
    entry.node.advance();
    return ready;
  }

  private send(messages: readonly Message[]): void {
    for (const message of messages) this.inFlight.push(message);
  }

  /** Delivers the messages in flight now (not those their delivery causes), dropping cut links. */
  deliver(filter: (message: Message) => boolean = () => true): number {
    const batch = this.inFlight;
    this.inFlight = [];
    let delivered = 0;
    for (const message of batch) {
      if (!filter(message)) {
        this.inFlight.push(message);
        continue;
      }
      if (this.cut.has(`${message.from}->${message.to}`)) continue;
      const target = this.nodes.get(message.to);
      if (target === undefined) continue;
      this.onDeliver?.(message);
      target.node.step(message);
      delivered++;
    }
    return delivered;
  }

  /**
   * Delivers the in-flight messages addressed to `id` (in send order); returns them with whether
   * each was dropped by a cut link.
   */
  deliverTo(id: NodeId): { message: Message; dropped: boolean }[] {
    const mine = this.inFlight.filter((message) => message.to === id);
    if (mine.length === 0) return [];
    this.inFlight = this.inFlight.filter((message) => message.to !== id);
    return mine.map((message) => {
      const dropped = this.cut.has(`${message.from}->${message.to}`) || !this.nodes.has(id);
      if (!dropped) {
        this.onDeliver?.(message);
        this.get(id).node.step(message);
      }
      return { message, dropped };
    });
  }

  /** Processes Readys and delivers messages until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        while (this.processReady(id) !== null) moved = true;
      }
      if (this.deliver() > 0) moved = true;
      if (!moved && this.inFlight.length === 0) return;
    }
    throw new Error("cluster did not stabilize");
  }

  tick(id: NodeId, ticks = 1): void {
    for (let i = 0; i < ticks; i++) this.get(id).node.tick();
  }

  /** Elects `id` (campaign + stabilize) and returns its term. */
  elect(id: NodeId): number {
    this.raft(id).campaign();
    this.stabilize();
    const status = this.raft(id).status();
    if (status.leader !== id) throw new Error(`node ${id} did not win (leader ${status.leader})`);
    return status.term;
  }

  /** Cuts every link between the groups (each group stays connected inside). */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const from of a) for (const to of b) this.cut.add(`${from}->${to}`);
      }
    }
  }

  isolate(id: NodeId): void {
    const others = [...this.nodes.keys()].filter((other) => other !== id);
    this.partition([id], others);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Drops every message in flight. */
  dropAll(): void {
    this.inFlight = [];
  }

  /**
   * Crashes `id` and restarts it from what its storage holds (everything persisted survives;
   * the state machine is rebuilt from the snapshot by re-applying committed entries).
   */
  restart(id: NodeId, options?: NodeOptions): TestNode {
    const old = this.get(id);
    const storage = old.storage.clone();
    const merged = { ...old.options, ...options };
    const snapshot = storage.snapshot();
    const node = new RaftNode({
      id,
      storage,
      random: new SeededRandom(old.seed + 1),
      ...merged,
      appliedIndex: snapshot.metadata.index,
    });
    const entry: TestNode = {
      id,
      node,
      storage,
      applied: [],
      readStates: [],
      confState: storage.initialState().confState,
      options: merged,
      seed: old.seed + 1,
    };
    this.nodes.set(id, entry);
    this.inFlight = this.inFlight.filter((message) => message.to !== id);
    return entry;
  }

  /** The data of applied normal entries with data, decoded as text. */
  appliedText(id: NodeId): string[] {
    return this.get(id)
      .applied.filter((entry) => entry.type === EntryType.Normal && entry.data.length > 0)
      .map((entry) => new TextDecoder().decode(entry.data));
  }
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Processes one Ready of `id` and returns it (it must exist). */
export function take(cluster: TestCluster, id: NodeId): Ready {
  const ready = cluster.processReady(id);
  if (ready === null) throw new Error(`node ${id} has no Ready`);
  return ready;
}

/** A message with zero defaults, for stepping hand-made RPCs into a node. */
export function msg(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return testMessage(fields);
}

/** Entries of the given terms from index `first` on, with data "i". */
export function entries(first: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({
    term,
    index: first + i,
    type: EntryType.Normal,
    data: text(String(first + i)),
  }));
}
