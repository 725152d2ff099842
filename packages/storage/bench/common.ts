// Helpers shared by the storage benchmarks: percentiles, /proc/self/io write bytes, temp dirs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const rank = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[rank]!;
}

/** Bytes this process caused to be written to storage (Linux /proc/self/io write_bytes), or NaN elsewhere. */
export function processWriteBytes(): number {
  try {
    const match = /^write_bytes:\s+(\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

export function benchDir(label: string): string {
  return mkdtempSync(join(process.env.SLUICE_BENCH_DIR ?? tmpdir(), `sluice-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Seconds each measured configuration runs (SLUICE_BENCH_SECONDS, default 1.5). */
export function benchSeconds(): number {
  const value = Number(process.env.SLUICE_BENCH_SECONDS ?? "1.5");
  return Number.isFinite(value) && value > 0 ? value : 1.5;
}

export function formatRow(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => {
      const text =
        typeof cell === "number" ? (Number.isInteger(cell) ? String(cell) : cell.toFixed(2)) : cell;
      return i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
    })
    .join("  ");
}
