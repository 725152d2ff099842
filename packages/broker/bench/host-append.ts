/**
 * Committed append throughput of the multi-Raft host without the network: three Brokers in one
 * process (in-memory transport, real storage with sync on, one shared disk), appends of
 * `batchKiB` KiB record batches to G groups with `inflight` appends outstanding per group.
 * Prints MB/s, appends/s, p50/p99/p999 commit latency and entries per sync. All three nodes
 * share the process's event loop, so CPU, not the disk, is usually the limit here.
 *
 *   node --conditions=sluice-source --import ../storage/test/fixtures/ts-hooks.mjs bench/host-append.ts [groups] [seconds] [batchKiB] [inflight]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Broker } from "../src/broker.js";
import { InMemoryTransportHub } from "../src/transport/memory-transport.js";

const groups = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 5);
const batchKiB = Number(process.argv[4] ?? 64);
const inflight = Number(process.argv[5] ?? 8);
const root = mkdtempSync(join(tmpdir(), "sluice-host-append-"));
const hub = new InMemoryTransportHub();
const nodeIds = [1, 2, 3];
const brokers: Broker[] = [];

try {
  for (const nodeId of nodeIds) {
    const transport = hub.transport(nodeId);
    brokers.push(await Broker.open({ nodeId, dataDir: join(root, `node-${nodeId}`), transport }));
    await transport.start();
  }
  const ids = Array.from({ length: groups }, (_, i) => i + 1);
  await Promise.all(brokers.flatMap((b) => ids.map((g) => b.ensureGroup(g, nodeIds))));
  const leaderOf = (g: number) => brokers.find((b) => b.groupStatus(g).role === "leader");
  while (ids.some((g) => leaderOf(g) === undefined)) await new Promise((r) => setTimeout(r, 20));

  const record = { partitionKey: "key", data: Buffer.alloc(batchKiB * 1024, 7) };
  const latencies: number[] = [];
  let bytes = 0;
  let appends = 0;
  const syncsBefore = brokers.map((b) => b.metrics().syncs);
  const entriesBefore = brokers.map((b) => b.metrics().entriesPersisted);
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let retries = 0;
  async function writer(g: number): Promise<void> {
    while (performance.now() < deadline) {
      const leader = leaderOf(g);
      const t = performance.now();
      try {
        if (leader === undefined) throw Object.assign(new Error("no leader"), { retriable: true });
        await leader.append(g, [record]);
      } catch (error) {
        if (!(error as { retriable?: boolean }).retriable) throw error;
        retries++;
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      latencies.push(performance.now() - t);
      bytes += record.data.length;
      appends++;
    }
  }
  await Promise.all(ids.flatMap((g) => Array.from({ length: inflight }, () => writer(g))));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2);
  const syncs = brokers.map((b, i) => b.metrics().syncs - (syncsBefore[i] ?? 0));
  const entries = brokers.map((b, i) => b.metrics().entriesPersisted - (entriesBefore[i] ?? 0));
  console.log(
    JSON.stringify({
      groups,
      batchKiB,
      inflightPerGroup: inflight,
      committedMBps: Number((bytes / 1e6 / elapsed).toFixed(1)),
      appendsPerSecond: Math.round(appends / elapsed),
      p50ms: pct(0.5),
      p99ms: pct(0.99),
      p999ms: pct(0.999),
      syncsPerSecondPerNode: syncs.map((s) => Math.round(s / elapsed)),
      entriesPerSync: entries.map((e, i) => Number((e / Math.max(1, syncs[i] ?? 1)).toFixed(1))),
      retries,
      cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
    }),
  );
} finally {
  for (const b of brokers) await b.close();
  rmSync(root, { recursive: true, force: true });
}
