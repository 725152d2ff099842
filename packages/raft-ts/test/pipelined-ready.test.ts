// Pipelined Readys (maxReadiesInFlight > 1): each Ready hands out only what earlier outstanding
// ones did not, advance() acknowledges them oldest first, and a snapshot is never overlapped.
import { describe, expect, it } from "vitest";
import {
  type Entry,
  EntryType,
  InvalidOptionsError,
  MemoryStorage,
  MessageType,
  RaftNode,
  type Ready,
  SeededRandom,
  StateRole,
} from "../src/index.js";
import { entries, msg, text } from "./helpers/cluster.js";

function persist(storage: MemoryStorage, ready: Ready): void {
  if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
  if (ready.entries.length > 0) storage.append(ready.entries);
  if (ready.hardState !== null) storage.setHardState(ready.hardState);
}

function singleVoter(depth: number): { node: RaftNode; storage: MemoryStorage; applied: Entry[] } {
  const storage = new MemoryStorage({ confState: { voters: [1], learners: [] } });
  const node = new RaftNode({ id: 1, storage, random: new SeededRandom(7), maxReadiesInFlight: depth });
  const applied: Entry[] = [];
  node.campaign();
  while (node.hasReady()) {
    const ready = node.ready();
    persist(storage, ready);
    applied.push(...ready.committedEntries);
    node.advance();
  }
  expect(node.status().role).toBe(StateRole.Leader);
  return { node, storage, applied };
}

const data = (list: readonly Entry[]): string[] => list.map((e) => new TextDecoder().decode(e.data));

describe("pipelined Readys", () => {
  it("hands each entry out once and counts it persisted only when its Ready is advanced", () => {
    const { node, storage, applied } = singleVoter(2);
    const start = node.status().lastIndex;
    node.propose(text("a"));
    const r1 = node.ready();
    expect(data(r1.entries)).toEqual(["a"]);
    node.propose(text("b"));
    expect(node.hasReady()).toBe(true);
    const r2 = node.ready();
    expect(data(r2.entries)).toEqual(["b"]);
    expect(r2.committedEntries).toEqual([]);
    expect(node.hasReady()).toBe(false);
    expect(node.status().persistedIndex).toBe(start);
    expect(node.status().commit).toBe(start);

    persist(storage, r1);
    node.advance();
    // The single voter commits "a" once its own write is durable, not "b".
    expect(node.status().persistedIndex).toBe(start + 1);
    expect(node.status().commit).toBe(start + 1);
    const r3 = node.ready();
    expect(data(r3.committedEntries)).toEqual(["a"]);
    expect(r3.entries).toEqual([]);
    // Two outstanding: nothing more until the oldest is advanced.
    node.propose(text("c"));
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow();

    persist(storage, r2);
    node.advance();
    const r4 = node.ready();
    // "a" is being applied (r3): not handed out again; "b" is committed now.
    expect(data(r4.committedEntries)).toEqual(["b"]);
    expect(data(r4.entries)).toEqual(["c"]);
    persist(storage, r3);
    node.advance();
    persist(storage, r4);
    node.advance();
    applied.push(...r3.committedEntries, ...r4.committedEntries);
    while (node.hasReady()) {
      const ready = node.ready();
      persist(storage, ready);
      applied.push(...ready.committedEntries);
      node.advance();
    }
    expect(applied.map((e) => e.index)).toEqual(Array.from({ length: applied.length }, (_, i) => i + 1));
    expect(data(applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0))).toEqual([
      "a",
      "b",
      "c",
    ]);
    expect(node.status().applied).toBe(node.status().lastIndex);
    expect(storage.lastIndex()).toBe(node.status().lastIndex);
  });

  it("hands out again the entries that replaced ones still being persisted", () => {
    const storage = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RaftNode({ id: 2, storage, random: new SeededRandom(1), maxReadiesInFlight: 2 });
    node.step(msg({ type: MessageType.App, from: 1, to: 2, term: 1, entries: entries(1, [1, 1, 1]) }));
    const r1 = node.ready();
    expect(r1.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(r1.messagesAfterPersist.map((m) => m.index)).toEqual([3]);
    // A new leader of term 2 replaces 2 and 3 before r1 is on disk.
    node.step(
      msg({ type: MessageType.App, from: 3, to: 2, term: 2, index: 1, logTerm: 1, entries: entries(2, [2]) }),
    );
    const r2 = node.ready();
    expect(r2.entries.map((e) => [e.index, e.term])).toEqual([[2, 2]]);
    persist(storage, r1);
    node.advance();
    // r1's last entry was replaced: conservatively, nothing counts as persisted yet.
    expect(node.status().persistedIndex).toBe(0);
    persist(storage, r2);
    node.advance();
    expect(node.status().persistedIndex).toBe(2);
    expect(node.status().lastIndex).toBe(2);
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(2)).toBe(2);
    expect(node.hasReady()).toBe(false);
  });

  it("takes no Ready while one with a snapshot is outstanding", () => {
    const storage = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RaftNode({ id: 2, storage, random: new SeededRandom(1), maxReadiesInFlight: 3 });
    node.step(
      msg({
        type: MessageType.Snap,
        from: 1,
        to: 2,
        term: 1,
        snapshot: {
          metadata: { index: 10, term: 1, confState: { voters: [1, 2, 3], learners: [] } },
          data: new Uint8Array(0),
        },
      }),
    );
    const r1 = node.ready();
    expect(r1.snapshot?.metadata.index).toBe(10);
    node.step(msg({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 10 }));
    expect(node.hasReady()).toBe(false);
    persist(storage, r1);
    node.advance();
    expect(node.hasReady()).toBe(true);
    const r2 = node.ready();
    expect(r2.snapshot).toBeNull();
    expect(r2.messages.map((m) => m.type)).toEqual([MessageType.HeartbeatResp]);
    node.advance();
    expect(node.status().applied).toBe(10);
  });

  it("keeps the strict loop by default", () => {
    const { node } = singleVoter(1);
    node.propose(text("a"));
    node.ready();
    node.propose(text("b"));
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow();
  });

  it("validates maxReadiesInFlight", () => {
    const storage = new MemoryStorage({ confState: { voters: [1], learners: [] } });
    for (const bad of [0, 1.5, 1_000_000]) {
      expect(
        () => new RaftNode({ id: 1, storage, random: new SeededRandom(1), maxReadiesInFlight: bad }),
      ).toThrow(InvalidOptionsError);
    }
  });
});
