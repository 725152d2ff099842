/**
 * Reading a process's CPU time, memory and disk writes from /proc (Linux), for benchmarks and
 * for tests that assert counts, never times.
 */
import { readFileSync } from "node:fs";

export interface ProcessStat {
  /** User and system CPU time, in clock ticks (usually 100 per second). */
  readonly userTicks: number;
  readonly systemTicks: number;
  /** Resident set size in bytes. */
  readonly rssBytes: number;
}

/** Clock ticks per second of /proc/<pid>/stat on Linux (USER_HZ). */
export const CLOCK_TICKS_PER_SECOND = 100;

export function readProcessStat(pid: number): ProcessStat {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
  return { userTicks: utime, systemTicks: stime, rssBytes: rssKiB * 1024 };
}

export interface ProcessIo {
  /** Bytes the process caused to be written to the storage layer (/proc/<pid>/io write_bytes). */
  readonly writeBytes: number;
  /** Bytes passed to write(2) and similar, cached or not (wchar). */
  readonly writeChars: number;
  readonly readBytes: number;
}

export function readProcessIo(pid: number): ProcessIo {
  const text = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { writeBytes: field("write_bytes"), writeChars: field("wchar"), readBytes: field("read_bytes") };
}

export interface SchedulerStat {
  /** Time the process's main thread ran on a CPU, in nanoseconds. */
  readonly runNs: number;
  /** Time it was runnable but waited for a CPU (other load on the machine), in nanoseconds. */
  readonly waitNs: number;
  /** Time slices it ran. */
  readonly timeslices: number;
}

/**
 * The scheduler's account of the main thread (/proc/<pid>/schedstat): with `waitNs` a benchmark
 * tells a slow process from a starved one (on a shared machine, latency spent waiting for a CPU).
 */
export function readSchedulerStat(pid: number): SchedulerStat {
  const [run, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(" ").map(Number);
  return { runNs: run ?? 0, waitNs: wait ?? 0, timeslices: slices ?? 0 };
}
