/**
 * Idle cost of the multi-Raft host: three Brokers in one process (in-memory transport, real
 * storage with sync on, default 100 ms ticks), G groups with three replicas each. Creates the
 * groups, waits until every group has a leader and every replica quiesced, then measures the
 * process's CPU over an idle window, and finally wakes every group with one append each.
 *
 *   node --conditions=sluice-source --import ../storage/test/fixtures/ts-hooks.mjs bench/host-idle.ts [groups] [idleSeconds]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Broker } from "../src/broker.js";
import { InMemoryTransportHub } from "../src/transport/memory-transport.js";

const groups = Number(process.argv[2] ?? 1000);
const idleSeconds = Number(process.argv[3] ?? 10);
const root = mkdtempSync(join(tmpdir(), "sluice-host-idle-"));
const hub = new InMemoryTransportHub();
const nodeIds = [1, 2, 3];
const brokers: Broker[] = [];

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

try {
  for (const nodeId of nodeIds) {
    const transport = hub.transport(nodeId);
    brokers.push(await Broker.open({ nodeId, dataDir: join(root, `node-${nodeId}`), transport }));
    await transport.start();
  }
  const ids = Array.from({ length: groups }, (_, i) => i + 1);
  let started = performance.now();
  await Promise.all(brokers.flatMap((b) => ids.map((g) => b.ensureGroup(g, nodeIds))));
  const createMs = performance.now() - started;
  const leaders = () => brokers.reduce((sum, b) => sum + b.metrics().leaderGroups, 0);
  const electMs = await until(() => leaders() === groups, "a leader for every group");
  const quiesceMs = await until(
    () => brokers.every((b) => b.metrics().activeGroups === 0),
    "every replica quiesced",
  );
  const rssBefore = process.memoryUsage().rss;

  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;
  const cpuPercentAll = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;

  started = performance.now();
  await Promise.all(
    ids.map((g) => {
      const leader = brokers.find((b) => b.groupStatus(g).role === "leader") as Broker;
      return leader.append(g, [{ partitionKey: "k", data: Buffer.from("wake") }]);
    }),
  );
  const wakeMs = performance.now() - started;
  const perSync = brokers.map((b) => b.metrics().entriesPerSync.toFixed(1));
  console.log(
    JSON.stringify(
      {
        groups,
        createMs: Math.round(createMs),
        electMs: Math.round(electMs),
        quiesceMs: Math.round(quiesceMs),
        idleSeconds,
        cpuPercentOfOneCoreAllThreeNodes: Number(cpuPercentAll.toFixed(2)),
        cpuPercentPerNode: Number((cpuPercentAll / 3).toFixed(2)),
        rssMiB: Math.round(rssBefore / 1048576),
        wakeAllWithOneAppendEachMs: Math.round(wakeMs),
        entriesPerSync: perSync,
        leadersPerNode: brokers.map((b) => b.metrics().leaderGroups),
      },
      null,
      2,
    ),
  );
} finally {
  for (const b of brokers) await b.close();
  rmSync(root, { recursive: true, force: true });
}
