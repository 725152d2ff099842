// Group-commit throughput of NodeStorage: each flush appends one 64 KiB entry to each of G groups
// and sets each group's hard state (commit index moves: an unsynced LevelDB write), as the
// broker's persist loop does. Prints payload MB/s, flushes/s, entries/s, flush latency
// percentiles and write amplification (process write_bytes per payload byte, /proc/self/io),
// then the time to reopen (recover) what was written.
//   pnpm --filter @sluice/storage bench
import type { Entry } from "raft-ts";
import { NodeStorage } from "../src/index.js";
import { benchDir, benchSeconds, formatRow, percentile, processWriteBytes, removeDir } from "./common.js";

const ENTRY_BYTES = 64 * 1024;
const GROUP_COUNTS = [1, 4, 64];

async function run(groups: number): Promise<{ row: (string | number)[]; recovery: (string | number)[] }> {
  const dir = benchDir("flush");
  try {
    const storage = await NodeStorage.open(dir);
    const create = storage.beginFlush();
    for (let g = 0; g < groups; g++) create.createGroup(g);
    await create.commit();
    const payload = new Uint8Array(ENTRY_BYTES).fill(7);
    const next = new Array<number>(groups).fill(1);
    const flushOnce = async () => {
      const batch = storage.beginFlush();
      for (let g = 0; g < groups; g++) {
        const index = next[g]!++;
        const entry: Entry = { index, term: 1, type: 0, data: payload };
        batch.append(g, [entry]);
        batch.setHardState(g, { term: 1, vote: 1, commit: index - 1 });
      }
      await batch.commit();
    };
    for (let i = 0; i < 3; i++) await flushOnce();
    const before = storage.metrics();
    const writeBefore = processWriteBytes();
    const cpuBefore = process.cpuUsage();
    const latencies: number[] = [];
    const started = performance.now();
    const deadline = started + benchSeconds() * 1000;
    while (performance.now() < deadline) {
      const t = performance.now();
      await flushOnce();
      latencies.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const after = storage.metrics();
    const written = processWriteBytes() - writeBefore;
    await storage.close();
    const payloadBytes = latencies.length * groups * ENTRY_BYTES;
    latencies.sort((a, b) => a - b);
    const row = [
      groups,
      latencies.length,
      payloadBytes / seconds / 1e6,
      latencies.length / seconds,
      (after.entriesAppended - before.entriesAppended) / seconds,
      (after.segmentSyncs - before.segmentSyncs) / seconds,
      percentile(latencies, 50),
      percentile(latencies, 99),
      percentile(latencies, 99.9),
      written / payloadBytes,
      (cpu.user + cpu.system) / 1e4 / seconds,
    ];
    const reopenStarted = performance.now();
    const reopened = await NodeStorage.open(dir);
    const reopenMs = performance.now() - reopenStarted;
    const report = reopened.recovery;
    await reopened.close();
    const recovery = [
      groups,
      report.bytesScanned / 1e6,
      report.framesScanned,
      reopenMs,
      report.bytesScanned / 1e6 / (reopenMs / 1000),
    ];
    return { row, recovery };
  } finally {
    removeDir(dir);
  }
}

const widths = [6, 6, 8, 10, 10, 8, 7, 7, 7, 5, 6];
console.log(
  `NodeStorage flush: one ${ENTRY_BYTES / 1024} KiB entry + hard state per group per flush, sync on, ${benchSeconds()} s per row`,
);
console.log(
  formatRow(
    ["groups", "n", "MB/s", "flushes/s", "entries/s", "syncs/s", "p50 ms", "p99 ms", "p999", "WA", "CPU%"],
    widths,
  ),
);
const recoveries: (string | number)[][] = [];
for (const groups of GROUP_COUNTS) {
  const { row, recovery } = await run(groups);
  console.log(formatRow(row, widths));
  recoveries.push(recovery);
}
const recoveryWidths = [6, 10, 8, 10, 10];
console.log("\nreopen (recovery scan of what each row wrote, page cache warm)");
console.log(formatRow(["groups", "MB", "frames", "open ms", "MB/s"], recoveryWidths));
for (const recovery of recoveries) console.log(formatRow(recovery, recoveryWidths));
