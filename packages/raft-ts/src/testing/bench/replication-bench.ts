import { parseArgs } from "node:util";
import { MemoryStorage } from "../../memory-storage.js";
import { RaftNode } from "../../node.js";
import { SeededRandom } from "../../random.js";
import { type Message, type NodeId, type Ready, StateRole } from "../../types.js";

/**
 * The replication benchmark (`pnpm --filter raft-ts bench`): one 3-replica group in this
 * process, over an in-memory transport, MemoryStorage as the disk. The leader proposes batches
 * (`proposeBatch`, default 256 entries of 100 bytes) and keeps a window of batches in flight
 * (pipelining); each loop iteration processes every node's Ready in full (send, persist, send
 * after persist, apply, advance) and then delivers every queued message. It prints committed
 * entries/s and MB/s (on the leader, measured after a warm-up), the commit latency of a batch in
 * loop iterations and in microseconds (p50/p99/p999), and the heap.
 *
 * All three replicas run on this one thread, so entries/s is what one core sustains for a whole
 * group — the figure that says whether consensus can be a broker's bottleneck.
 *
 *   --entries N        entries to commit after warm-up (default 3,000,000)
 *   --batch N          entries per proposeBatch (default 256)
 *   --entry-bytes N    payload bytes per entry (default 100)
 *   --window N         batches in flight before the leader waits (default 32)
 *   --tick-every N     loop iterations per tick (default 100)
 */
interface BenchNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  readonly raft: RaftNode;
  applied: number;
}

function main(): void {
  const { values } = parseArgs({
    // `pnpm … bench -- --flag` passes the "--" through.
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      entries: { type: "string", default: "3000000" },
      batch: { type: "string", default: "256" },
      "entry-bytes": { type: "string", default: "100" },
      window: { type: "string", default: "32" },
      "tick-every": { type: "string", default: "100" },
      warmup: { type: "string", default: "500000" },
    },
  });
  const totalEntries = Number(values.entries);
  const batchSize = Number(values.batch);
  const entryBytes = Number(values["entry-bytes"]);
  const window = Number(values.window);
  const tickEvery = Number(values["tick-every"]);
  const warmupEntries = Number(values.warmup);

  const ids: NodeId[] = [1, 2, 3];
  const nodes = new Map<NodeId, BenchNode>();
  for (const id of ids) {
    const storage = new MemoryStorage({ confState: { voters: ids, learners: [] } });
    const raft = new RaftNode({
      id,
      storage,
      random: new SeededRandom(id),
      electionTicks: 10,
      heartbeatTicks: 1,
      maxAppendBytes: 1_048_576,
      maxInflightAppends: 256,
      maxUncommittedBytes: 256 * 1_048_576,
      maxCommittedBytesPerReady: 8 * 1_048_576,
    });
    nodes.set(id, { id, storage, raft, applied: 0 });
  }
  const order = [...nodes.values()];
  let queue: Message[] = [];
  let iteration = 0;

  /** Latency bookkeeping: batches in flight by last index (increasing), resolved on the leader. */
  const inFlightLastIndex: number[] = [];
  const inFlightIteration: number[] = [];
  const inFlightTime: number[] = [];
  let inFlightHead = 0;
  const latencyIterations: number[] = [];
  const latencyMicros: number[] = [];
  let measuring = false;
  let committedEntries = 0;

  const leader = nodes.get(1)!;
  const processReady = (node: BenchNode): void => {
    const rd: Ready = node.raft.ready();
    for (const m of rd.messages) queue.push(m);
    if (rd.snapshot !== null) node.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) node.storage.append(rd.entries);
    if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
    for (const m of rd.messagesAfterPersist) queue.push(m);
    const committed = rd.committedEntries;
    if (committed.length > 0) {
      node.applied = committed[committed.length - 1]!.index;
      if (node === leader) {
        if (measuring) committedEntries += committed.length;
        const now = performance.now();
        while (inFlightHead < inFlightLastIndex.length && inFlightLastIndex[inFlightHead]! <= node.applied) {
          if (measuring) {
            latencyIterations.push(iteration - inFlightIteration[inFlightHead]!);
            latencyMicros.push((now - inFlightTime[inFlightHead]!) * 1000);
          }
          inFlightHead++;
        }
      }
    }
    node.raft.advance();
  };
  const processAll = (): void => {
    for (const node of order) if (node.raft.hasReady()) processReady(node);
    const delivering = queue;
    queue = [];
    for (const m of delivering) nodes.get(m.to)!.raft.step(m);
  };

  // Elect node 1.
  leader.raft.campaign();
  for (let i = 0; i < 100 && leader.raft.status().role !== StateRole.Leader; i++) processAll();
  if (leader.raft.status().role !== StateRole.Leader) throw new Error("node 1 did not become leader");
  for (let i = 0; i < 10; i++) processAll();

  const payloads: Uint8Array[] = [];
  const arena = new Uint8Array(batchSize * entryBytes);
  for (let i = 0; i < arena.length; i++) arena[i] = i & 0xff;
  for (let i = 0; i < batchSize; i++) payloads.push(arena.subarray(i * entryBytes, (i + 1) * entryBytes));

  let proposed = 0;
  let lastProposedIndex = 0;
  let started = 0;
  let heapPeak = 0;
  const goal = warmupEntries + totalEntries;
  for (;;) {
    iteration++;
    if (!measuring && proposed >= warmupEntries) {
      measuring = true;
      started = performance.now();
    }
    const inFlight = inFlightLastIndex.length - inFlightHead;
    if (proposed < goal && inFlight < window) {
      const { firstIndex } = leader.raft.proposeBatch(payloads);
      lastProposedIndex = firstIndex + batchSize - 1;
      inFlightLastIndex.push(lastProposedIndex);
      inFlightIteration.push(iteration);
      inFlightTime.push(performance.now());
      proposed += batchSize;
    }
    processAll();
    if (iteration % tickEvery === 0) for (const node of order) node.raft.tick();
    if (iteration % 512 === 0) {
      // Keep memory flat: compact every log up to what all replicas applied, minus a margin.
      let minApplied = Number.MAX_SAFE_INTEGER;
      for (const node of order) minApplied = Math.min(minApplied, node.applied);
      const compactTo = minApplied - 4 * batchSize;
      for (const node of order) if (compactTo >= node.storage.firstIndex()) node.storage.compact(compactTo);
      if (inFlightHead > 4096) {
        inFlightLastIndex.splice(0, inFlightHead);
        inFlightIteration.splice(0, inFlightHead);
        inFlightTime.splice(0, inFlightHead);
        inFlightHead = 0;
      }
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    if (proposed >= goal && leader.applied >= lastProposedIndex) break;
  }
  const seconds = (performance.now() - started) / 1000;
  // Sanity: the followers applied everything too (replication really happened).
  for (let i = 0; i < 10; i++) processAll();
  for (const node of order) {
    if (node.applied !== leader.applied) {
      throw new Error(`node ${node.id} applied ${node.applied}, the leader ${leader.applied}`);
    }
  }
  const rate = committedEntries / seconds;
  const heap = process.memoryUsage();
  heapPeak = Math.max(heapPeak, heap.heapUsed);
  console.log(
    `raft-ts replication: 3 replicas in one process, batches of ${batchSize} × ${entryBytes} B, window ${window} batches, tick every ${tickEvery} iterations`,
  );
  console.log(
    `  committed ${committedEntries.toLocaleString("en-US")} entries in ${seconds.toFixed(2)} s: ` +
      `${Math.round(rate).toLocaleString("en-US")} entries/s, ${((rate * entryBytes) / 1_048_576).toFixed(1)} MB/s`,
  );
  console.log(
    `  commit latency (proposeBatch → applied on the leader): ` +
      `p50 ${percentile(latencyIterations, 0.5)} / p99 ${percentile(latencyIterations, 0.99)} / p999 ${percentile(latencyIterations, 0.999)} loop iterations, ` +
      `p50 ${percentile(latencyMicros, 0.5).toFixed(0)} / p99 ${percentile(latencyMicros, 0.99).toFixed(0)} / p999 ${percentile(latencyMicros, 0.999).toFixed(0)} µs ` +
      `(${(iteration / tickEvery).toFixed(0)} ticks in ${iteration} iterations)`,
  );
  console.log(
    `  heap used ${(heap.heapUsed / 1_048_576).toFixed(1)} MB at the end, ${(heapPeak / 1_048_576).toFixed(1)} MB peak sampled; rss ${(heap.rss / 1_048_576).toFixed(1)} MB`,
  );
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

main();
