// What one small durable write costs on this machine, by how it is issued: a vectored write to an
// O_DSYNC file through libuv's thread pool (fs.writev) against the same write on the calling
// thread (fs.writevSync), for frame sizes around the inline threshold; and an unsynced LevelDB
// batch of two small keys (a flush's hard states), which also goes through the pool. Prints, per
// operation, wall time p50/p99/mean, the mean time the calling thread was held, and the CPU the
// process used (user + system, every thread). Sizes: SLUICE_BENCH_SIZES_KIB (default 1,16,64,256).
//   node --conditions=sluice-source --import ./test/fixtures/ts-hooks.mjs bench/write-modes.ts
import { closeSync, constants, openSync, writev, writevSync } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { benchDir, formatRow, percentile, removeDir } from "./common.js";

const OPERATIONS = 1500;
const WARMUP_OPERATIONS = 200;
const HEADER_BYTES = 68;
const SIZES_KIB = (process.env.SLUICE_BENCH_SIZES_KIB ?? "1,16,64,256").split(",").map(Number);
const WIDTHS = [34, 10, 10, 10, 14, 12];

interface Figures {
  readonly wallMs: number[];
  heldMs: number;
  cpuUs: number;
}

async function measure(run: () => { held: number; done: Promise<void> }): Promise<Figures> {
  for (let i = 0; i < WARMUP_OPERATIONS; i++) await run().done;
  const figures: Figures = { wallMs: [], heldMs: 0, cpuUs: 0 };
  const cpu = process.cpuUsage();
  for (let i = 0; i < OPERATIONS; i++) {
    const started = performance.now();
    const { held, done } = run();
    await done;
    figures.wallMs.push(performance.now() - started);
    figures.heldMs += held;
  }
  const used = process.cpuUsage(cpu);
  figures.cpuUs = used.user + used.system;
  return figures;
}

function row(label: string, f: Figures): string {
  const sorted = [...f.wallMs].sort((a, b) => a - b);
  const us = (ms: number) => (ms * 1000).toFixed(0);
  return formatRow(
    [
      label,
      us(percentile(sorted, 0.5)),
      us(percentile(sorted, 0.99)),
      us(sorted.reduce((sum, ms) => sum + ms, 0) / OPERATIONS),
      us(f.heldMs / OPERATIONS),
      (f.cpuUs / OPERATIONS).toFixed(0),
    ],
    WIDTHS,
  );
}

async function main(): Promise<void> {
  const dir = benchDir("write-modes");
  try {
    console.log(formatRow(["operation", "p50 µs", "p99 µs", "mean µs", "thread held µs", "CPU µs"], WIDTHS));
    const fd = openSync(
      join(dir, "journal"),
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC,
    );
    let position = 0;
    for (const kib of SIZES_KIB) {
      const chunks = [Buffer.alloc(HEADER_BYTES, 1), Buffer.alloc(kib * 1024, 2)];
      const bytes = HEADER_BYTES + kib * 1024;
      const pool = await measure(() => {
        const started = performance.now();
        const done = new Promise<void>((resolve, reject) =>
          writev(fd, chunks, position, (error) => (error === null ? resolve() : reject(error))),
        );
        position += bytes;
        return { held: performance.now() - started, done };
      });
      console.log(row(`${kib} KiB O_DSYNC writev, thread pool`, pool));
      const inline = await measure(() => {
        const started = performance.now();
        writevSync(fd, chunks, position);
        position += bytes;
        return { held: performance.now() - started, done: Promise.resolve() };
      });
      console.log(row(`${kib} KiB O_DSYNC writev, in line`, inline));
    }
    closeSync(fd);

    const db = new ClassicLevel<Buffer, Buffer>(join(dir, "state"), {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    await db.open();
    const value = Buffer.alloc(24, 7);
    const keys = [Buffer.from("g\0\0\0\0\0\0\0\x01h"), Buffer.from("g\0\0\0\0\0\0\0\x02h")];
    const batch = await measure(() => {
      const started = performance.now();
      const done = db.batch(
        keys.map((key) => ({ type: "put" as const, key, value })),
        { sync: false },
      );
      return { held: performance.now() - started, done };
    });
    console.log(row("LevelDB batch of 2 keys, no sync", batch));
    await db.close();
  } finally {
    removeDir(dir);
  }
}

await main();
