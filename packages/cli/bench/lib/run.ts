/**
 * The programmatic entry point of `scripts/bench`: starts each target in turn (the Sluice cluster
 * once per round for both of its APIs, each peer by itself, so no two targets share the machine at
 * once), runs every workload against it, stops it, and repeats the whole sequence `rounds` times
 * (the machine is noisy: interleaved rounds show the spread). A target that fails to start, or a
 * workload that fails, is reported as skipped with the reason; the others still run.
 */
import { cpus, loadavg, totalmem } from "node:os";
import { startCluster, type TestCluster } from "@sluice/harness";
import { SERVER_START_TIMEOUT_MS, SLUICE_BASE_PORT } from "./constants.ts";
import { startJetStream } from "./jetstream-target.ts";
import {
  sluiceHttpTarget,
  startKinesalite,
  startKinesisLocal,
  startNullEndpoint,
} from "./kinesis-targets.ts";
import { SluiceGrpcDriver } from "./sluice-grpc-driver.ts";
import type { BenchTarget, TargetName } from "./target.ts";
import {
  deliveryWorkload,
  putRecordsWorkload,
  putRecordWorkload,
  skippedResult,
  type WorkloadResult,
  type WorkloadSettings,
} from "./workloads.ts";

export const WORKLOAD_KINDS = ["put-records", "put-record", "delivery-poll", "delivery-subscribe"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface BenchOptions extends WorkloadSettings {
  readonly targets: readonly TargetName[];
  readonly workloads: readonly WorkloadKind[];
  /** Callers of the PutRecord workload, one run per entry. */
  readonly callers: readonly number[];
  readonly rounds: number;
  /** Node's --cpu-prof for the Sluice nodes, profiles written here. */
  readonly cpuProfDir?: string;
  /** Progress lines (stderr in the CLI). */
  readonly log: (line: string) => void;
}

export interface TargetInfo {
  readonly name: TargetName;
  readonly description: string;
  readonly durability: string;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly node: string;
    readonly loadAverageAtStart: readonly number[];
    readonly loadAverageAtEnd: readonly number[];
  };
  readonly settings: Omit<BenchOptions, "log">;
  readonly targets: readonly TargetInfo[];
  /** Every workload of every target in every round, in the order they ran. */
  readonly results: readonly (WorkloadResult & { readonly round: number })[];
}

function workloadNames(options: BenchOptions): string[] {
  const names: string[] = [];
  for (const kind of options.workloads) {
    if (kind === "put-record") for (const callers of options.callers) names.push(`put-record-${callers}`);
    else names.push(kind);
  }
  return names;
}

async function runWorkloads(
  target: BenchTarget,
  options: BenchOptions,
  round: number,
): Promise<WorkloadResult[]> {
  const results: WorkloadResult[] = [];
  const attempt = async (workload: string, run: (streamName: string) => Promise<WorkloadResult>) => {
    const streamName = `bench-${target.name}-${workload}-r${round}`.replaceAll(/[^a-zA-Z0-9_-]/g, "-");
    options.log(`${target.name}: ${workload} (${options.seconds} s)`);
    try {
      const result = await run(streamName);
      results.push(result);
      options.log(
        `${target.name}: ${workload}: ${result.skipped ?? `${result.recordsPerSecond} records/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms${result.lastError === undefined ? "" : ` (${result.lastError})`}`}`,
      );
    } catch (error) {
      options.log(`${target.name}: ${workload} failed: ${(error as Error).message}`);
      results.push(skippedResult(target.name, workload, `failed: ${(error as Error).message.slice(0, 200)}`));
    }
  };
  for (const kind of options.workloads) {
    switch (kind) {
      case "put-records":
        await attempt(kind, (stream) => putRecordsWorkload(target, stream, options));
        break;
      case "put-record":
        for (const callers of options.callers) {
          await attempt(`put-record-${callers}`, (stream) =>
            putRecordWorkload(target, stream, callers, options),
          );
        }
        break;
      case "delivery-poll":
      case "delivery-subscribe":
        if (target.name === "null") break;
        await attempt(kind, (stream) =>
          deliveryWorkload(target, stream, kind === "delivery-poll" ? "poll" : "subscribe", options),
        );
        break;
    }
  }
  return results;
}

async function startPeer(name: Exclude<TargetName, "sluice-grpc" | "sluice-http">, maxSockets: number) {
  switch (name) {
    case "null":
      return startNullEndpoint(maxSockets);
    case "kinesalite":
      return startKinesalite(maxSockets);
    case "kinesis-local":
      return startKinesisLocal(maxSockets);
    case "jetstream":
      return startJetStream({ syncAlways: false });
    case "jetstream-sync":
      return startJetStream({ syncAlways: true });
  }
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadavg().map((value) => Number(value.toFixed(2)));
  const maxSockets = Math.max(options.producers, ...options.callers, 8);
  const infos = new Map<TargetName, TargetInfo>();
  const results: (WorkloadResult & { round: number })[] = [];
  const record = (round: number, list: readonly WorkloadResult[]) => {
    for (const result of list) results.push({ ...result, round });
  };
  const skipAll = (round: number, name: TargetName, reason: string) => {
    options.log(`${name}: skipped: ${reason}`);
    record(
      round,
      workloadNames(options).map((workload) => skippedResult(name, workload, reason)),
    );
  };
  for (let round = 1; round <= options.rounds; round += 1) {
    if (options.rounds > 1) options.log(`round ${round} of ${options.rounds}`);
    const sluiceTargets = options.targets.filter(
      (name): name is "sluice-grpc" | "sluice-http" => name === "sluice-grpc" || name === "sluice-http",
    );
    if (sluiceTargets.length > 0) {
      let cluster: TestCluster | undefined;
      try {
        options.log(`sluice: starting three nodes on ports ${SLUICE_BASE_PORT}-${SLUICE_BASE_PORT + 11}`);
        cluster = await startCluster({
          basePort: SLUICE_BASE_PORT,
          startTimeoutMs: SERVER_START_TIMEOUT_MS,
          ...(options.cpuProfDir === undefined
            ? {}
            : { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${options.cpuProfDir}` } }),
        });
        for (const name of sluiceTargets) {
          const started = cluster;
          const target: BenchTarget =
            name === "sluice-grpc"
              ? {
                  name,
                  description: "Sluice, 3 nodes, gRPC API (its own client)",
                  durability: "quorum of 3, fsync before ack",
                  driver: new SluiceGrpcDriver(started),
                  pids: () => started.nodeIds.map((nodeId) => started.process(nodeId).pid ?? 0),
                  stop: async () => {},
                }
              : sluiceHttpTarget(started, maxSockets);
          infos.set(name, { name, description: target.description, durability: target.durability });
          try {
            record(round, await runWorkloads(target, options, round));
          } finally {
            await target.stop();
          }
        }
      } catch (error) {
        for (const name of sluiceTargets) {
          if (!results.some((result) => result.round === round && result.target === name)) {
            skipAll(round, name, `did not start: ${(error as Error).message}`);
          }
        }
      } finally {
        await cluster?.stop();
      }
    }
    for (const name of options.targets) {
      if (name === "sluice-grpc" || name === "sluice-http") continue;
      options.log(`${name}: starting`);
      let target: BenchTarget | undefined;
      try {
        target = await startPeer(name, maxSockets);
      } catch (error) {
        skipAll(round, name, `did not start: ${(error as Error).message.slice(0, 300)}`);
        continue;
      }
      infos.set(name, { name, description: target.description, durability: target.durability });
      try {
        record(round, await runWorkloads(target, options, round));
      } finally {
        await target.stop();
      }
    }
  }
  const { log: _log, ...settings } = options;
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
      node: process.version,
      loadAverageAtStart,
      loadAverageAtEnd: loadavg().map((value) => Number(value.toFixed(2))),
    },
    settings,
    targets: options.targets.map(
      (name) => infos.get(name) ?? { name, description: "(did not start)", durability: "" },
    ),
    results,
  };
}
