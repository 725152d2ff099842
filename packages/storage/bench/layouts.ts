// Compares candidate journal layouts with raw file and LevelDB operations, per flush of 64 KiB to
// each of G groups: (a) one node-wide journal file, one vectored write and one fdatasync per
// flush; (b) one file per group, each written and fdatasync'ed (in parallel on the libuv pool);
// (b') BookKeeper: the synced journal plus an unsynced copy into per-group entry logs; (c) a
// LevelDB batch of the same entries with sync. Prints MB/s of payload, flushes/s, p50/p99 flush
// latency and write amplification (process write_bytes per payload byte).
//   node --conditions=sluice-source --import ./test/fixtures/ts-hooks.mjs bench/layouts.ts
import { closeSync, fdatasync, openSync, write, writev } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { benchDir, benchSeconds, formatRow, percentile, processWriteBytes, removeDir } from "./common.js";

const ENTRY_BYTES = 64 * 1024;
const GROUP_COUNTS = [1, 4, 64];

function call<T>(run: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, value) => (error === null ? resolve(value) : reject(error))),
  );
}
const sync = (fd: number) => call<void>((done) => fdatasync(fd, (error) => done(error, undefined)));

interface Layout {
  readonly name: string;
  setup(dir: string, groups: number): Promise<void>;
  flush(payloads: Buffer[]): Promise<void>;
  teardown(): Promise<void>;
}

function journal(): Layout {
  let fd = -1;
  let position = 0;
  return {
    name: "(a) one journal, 1 fdatasync",
    async setup(dir) {
      fd = openSync(join(dir, "journal"), "w");
      position = 0;
    },
    async flush(payloads) {
      const bytes = payloads.reduce((sum, p) => sum + p.length, 0);
      await call<number>((done) => writev(fd, payloads, position, done));
      position += bytes;
      await sync(fd);
    },
    async teardown() {
      closeSync(fd);
    },
  };
}

function perGroupFiles(): Layout {
  let fds: number[] = [];
  let positions: number[] = [];
  return {
    name: "(b) file per group, G fdatasyncs",
    async setup(dir, groups) {
      fds = Array.from({ length: groups }, (_, g) => openSync(join(dir, `group-${g}`), "w"));
      positions = fds.map(() => 0);
    },
    async flush(payloads) {
      await Promise.all(
        payloads.map(async (payload, g) => {
          const fd = fds[g]!;
          await call<number>((done) => write(fd, payload, 0, payload.length, positions[g]!, done));
          positions[g]! += payload.length;
          await sync(fd);
        }),
      );
    },
    async teardown() {
      for (const fd of fds) closeSync(fd);
    },
  };
}

function bookkeeper(): Layout {
  const inner = journal();
  let fds: number[] = [];
  return {
    name: "(b') journal + entry logs (BK)",
    async setup(dir, groups) {
      await inner.setup(dir, groups);
      fds = Array.from({ length: groups }, (_, g) => openSync(join(dir, `entry-log-${g}`), "w"));
    },
    async flush(payloads) {
      await inner.flush(payloads);
      // BookKeeper also writes every entry to its ledger's entry log (synced later, in the background).
      await Promise.all(payloads.map((payload, g) => call<number>((done) => write(fds[g]!, payload, done))));
    },
    async teardown() {
      await inner.teardown();
      for (const fd of fds) closeSync(fd);
    },
  };
}

function leveldb(): Layout {
  let db: ClassicLevel<string, Buffer> | null = null;
  let seq = 0;
  return {
    name: "(c) LevelDB batch, sync",
    async setup(dir) {
      db = new ClassicLevel<string, Buffer>(join(dir, "level"), { valueEncoding: "buffer" });
      await db.open();
      seq = 0;
    },
    async flush(payloads) {
      const ops = payloads.map((value, g) => ({
        type: "put" as const,
        key: `${g}/${String(seq++).padStart(12, "0")}`,
        value,
      }));
      await db!.batch(ops, { sync: true });
    },
    async teardown() {
      await db!.close();
    },
  };
}

async function measure(layout: Layout, groups: number): Promise<(string | number)[]> {
  const dir = benchDir("layouts");
  try {
    await layout.setup(dir, groups);
    const payloads = Array.from({ length: groups }, (_, g) => Buffer.alloc(ENTRY_BYTES, g & 0xff));
    for (let i = 0; i < 3; i++) await layout.flush(payloads); // warm up
    const latencies: number[] = [];
    const writeBefore = processWriteBytes();
    const started = performance.now();
    const deadline = started + benchSeconds() * 1000;
    while (performance.now() < deadline) {
      const t = performance.now();
      await layout.flush(payloads);
      latencies.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    await layout.teardown();
    const written = processWriteBytes() - writeBefore;
    const payloadBytes = latencies.length * groups * ENTRY_BYTES;
    latencies.sort((a, b) => a - b);
    return [
      layout.name,
      groups,
      payloadBytes / seconds / 1e6,
      latencies.length / seconds,
      percentile(latencies, 50),
      percentile(latencies, 99),
      written / payloadBytes,
    ];
  } finally {
    removeDir(dir);
  }
}

const widths = [34, 6, 8, 10, 8, 8, 6];
console.log(`layouts: ${ENTRY_BYTES / 1024} KiB per group per flush, ${benchSeconds()} s per row`);
console.log(formatRow(["layout", "groups", "MB/s", "flushes/s", "p50 ms", "p99 ms", "WA"], widths));
for (const groups of GROUP_COUNTS) {
  for (const make of [journal, perGroupFiles, bookkeeper, leveldb]) {
    console.log(formatRow(await measure(make(), groups), widths));
  }
}
