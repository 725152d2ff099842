/**
 * CPU and resident memory of the server processes over one workload, from /proc (Linux): CPU as
 * % of one core per process and in total, peak RSS per process sampled every
 * RSS_SAMPLE_INTERVAL_MS, and the bench process's own CPU, since client and servers share the
 * machine's cores.
 */
import { readProcessStat } from "@sluice/harness";
import { CLOCK_TICKS_PER_SECOND, RSS_SAMPLE_INTERVAL_MS } from "./constants.ts";

export interface ProcessResources {
  readonly pid: number;
  readonly cpuPercentOfOneCore: number;
  readonly rssPeakMiB: number;
}

export interface Resources {
  readonly processes: readonly ProcessResources[];
  /** Sum over the server processes. */
  readonly serverCpuPercentOfOneCore: number;
  /** The largest peak RSS of one server process. */
  readonly serverRssPeakMiBMax: number;
  readonly benchCpuPercentOfOneCore: number;
}

const MIB = 1_048_576;

function ticks(pid: number): number {
  try {
    const stat = readProcessStat(pid);
    return stat.userTicks + stat.systemTicks;
  } catch {
    return 0;
  }
}

function rss(pid: number): number {
  try {
    return readProcessStat(pid).rssBytes;
  } catch {
    return 0;
  }
}

export class ResourceMeter {
  readonly #pids: readonly number[];
  readonly #startedAt = performance.now();
  readonly #startTicks: readonly number[];
  readonly #rssPeak: number[];
  readonly #selfCpu = process.cpuUsage();
  readonly #timer: NodeJS.Timeout;

  constructor(pids: readonly number[]) {
    this.#pids = pids.filter((pid) => pid > 0);
    this.#startTicks = this.#pids.map(ticks);
    this.#rssPeak = this.#pids.map(rss);
    this.#timer = setInterval(() => this.#sample(), RSS_SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  #sample(): void {
    for (const [position, pid] of this.#pids.entries()) {
      this.#rssPeak[position] = Math.max(this.#rssPeak[position] ?? 0, rss(pid));
    }
  }

  finish(): Resources {
    clearInterval(this.#timer);
    this.#sample();
    const elapsedSeconds = (performance.now() - this.#startedAt) / 1_000;
    const percent = (tickCount: number) =>
      round((100 * tickCount) / CLOCK_TICKS_PER_SECOND / Math.max(elapsedSeconds, 1e-3), 1);
    const processes = this.#pids.map((pid, position) => ({
      pid,
      cpuPercentOfOneCore: percent(ticks(pid) - (this.#startTicks[position] ?? 0)),
      rssPeakMiB: round((this.#rssPeak[position] ?? 0) / MIB, 1),
    }));
    const self = process.cpuUsage(this.#selfCpu);
    return {
      processes,
      serverCpuPercentOfOneCore: round(
        processes.reduce((sum, entry) => sum + entry.cpuPercentOfOneCore, 0),
        1,
      ),
      serverRssPeakMiBMax: Math.max(0, ...processes.map((entry) => entry.rssPeakMiB)),
      benchCpuPercentOfOneCore: round(
        (100 * (self.user + self.system)) / 1e6 / Math.max(elapsedSeconds, 1e-3),
        1,
      ),
    };
  }
}

export function round(value: number, digits = 2): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}
