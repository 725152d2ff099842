import type { RaftBug } from "../../options.js";
import { SeededRandom } from "../../random.js";
import { type ClusterStats, emptyStats, SimCluster } from "./cluster.js";
import { type FaultProfile, randomFaultProfile } from "./fault-profile.js";
import { TraceRecorder } from "./trace.js";
import { SimulationViolation, ViolationKind } from "./violation.js";

/**
 * Running seeds. A run is a function of its options alone: `runSimulation({ seed })` builds the
 * run's random stream from the seed, draws the fault profile and the cluster size from it (unless
 * given), runs `steps` scheduled events checking safety after each, then settles the cluster and
 * checks that acknowledged proposals survived. A failing run is replayed with tracing on, and the
 * violation comes back with the seed, the step and the last events.
 */
export const DEFAULT_STEPS = 500;
/** Trace lines kept for a failure report. */
export const DEFAULT_TRACE_LINES = 200;

export interface SimulationOptions {
  readonly seed: number;
  /** Scheduled events before settling. @default DEFAULT_STEPS */
  readonly steps?: number;
  /** Cluster size. @default 3 for even seeds, 5 for odd ones */
  readonly nodes?: number;
  /** RaftBug mutations to switch on in every node. @default none */
  readonly bugs?: readonly RaftBug[];
  /** The fault profile of the run, drawn from its random stream. @default randomFaultProfile */
  readonly profile?: (rng: SeededRandom) => FaultProfile;
  /** Receives every trace line as it happens (the CLI's --trace); forces tracing on. */
  readonly traceSink?: (line: string) => void;
  /** Trace lines kept for the failure report. @default DEFAULT_TRACE_LINES */
  readonly traceLines?: number;
  /**
   * Checks of the SafetyChecker to switch off, to see which of the others catch a bug on their
   * own (e.g. without CommittedIsDurable, a durability bug must show as lost data). @default none
   */
  readonly disabledChecks?: readonly ViolationKind[];
}

export interface SimulationResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly violation: SimulationViolation | null;
  readonly stats: RunStats;
}

export interface RunStats extends ClusterStats {
  elections: number;
  committed: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
}

/** The cluster size a seed runs with unless told otherwise. */
export function nodesForSeed(seed: number): number {
  return seed % 2 === 0 ? 3 : 5;
}

function runOnce(options: SimulationOptions, trace: TraceRecorder): SimulationResult {
  const rng = new SeededRandom(options.seed);
  const profile = (options.profile ?? randomFaultProfile)(rng);
  const nodes = options.nodes ?? nodesForSeed(options.seed);
  const steps = options.steps ?? DEFAULT_STEPS;
  let violation: SimulationViolation | null = null;
  let cluster: SimCluster | null = null;
  try {
    cluster = new SimCluster({
      seed: options.seed,
      nodes,
      profile,
      rng,
      bugs: options.bugs ?? [],
      trace,
      disabledChecks: options.disabledChecks ?? [],
    });
    for (let i = 0; i < steps; i++) cluster.runStep();
    cluster.settle();
  } catch (error) {
    violation =
      error instanceof SimulationViolation
        ? error
        : new SimulationViolation(
            ViolationKind.CoreError,
            error instanceof Error ? `${error.name}: ${error.message}` : String(error),
            { cause: error },
          );
    violation.seed = options.seed;
    violation.step = cluster?.step ?? 0;
    if (trace.enabled && cluster !== null) trace.record(violation.step, `state:\n${cluster.describe()}`);
  }
  const stats: RunStats = {
    ...(cluster?.stats ?? emptyStats()),
    elections: cluster?.checker.elections ?? 0,
    committed: cluster?.checker.committedIndex ?? 0,
    messagesSent: cluster?.network.sent ?? 0,
    messagesDropped: cluster?.network.dropped ?? 0,
    messagesDuplicated: cluster?.network.duplicated ?? 0,
  };
  return { seed: options.seed, nodes, steps, violation, stats };
}

/**
 * Runs one seed. On a violation, replays the seed with tracing on and attaches the last trace
 * lines; a replay that fails differently means the simulation is not deterministic, which is
 * reported as a violation of its own.
 */
export function runSimulation(options: SimulationOptions): SimulationResult {
  const traceLines = options.traceLines ?? DEFAULT_TRACE_LINES;
  if (options.traceSink !== undefined) {
    const trace = new TraceRecorder({ enabled: true, limit: traceLines, sink: options.traceSink });
    const result = runOnce(options, trace);
    if (result.violation !== null) result.violation.trace = trace.snapshot();
    return result;
  }
  const result = runOnce(options, new TraceRecorder({ enabled: false }));
  if (result.violation === null) return result;
  const trace = new TraceRecorder({ enabled: true, limit: traceLines });
  const replay = runOnce(options, trace);
  if (replay.violation === null || replay.violation.message !== result.violation.message) {
    const nondeterminism = new SimulationViolation(
      ViolationKind.CoreError,
      `seed ${options.seed} is not deterministic: first run "${result.violation.message}", ` +
        `traced replay "${replay.violation?.message ?? "no violation"}"`,
    );
    nondeterminism.seed = options.seed;
    nondeterminism.step = result.violation.step;
    return { ...result, violation: nondeterminism };
  }
  result.violation.trace = trace.snapshot();
  return result;
}

/** A violation as the CLI and the tests print it: what, where, how to replay, the last events. */
export function formatViolation(violation: SimulationViolation, replayHint = true): string {
  const lines = [`seed ${violation.seed} step ${violation.step}: ${violation.message}`];
  if (violation.cause instanceof Error && violation.cause.stack !== undefined) {
    lines.push(violation.cause.stack.split("\n").slice(0, 6).join("\n"));
  }
  if (replayHint) {
    lines.push(`replay: pnpm --filter raft-ts sim --seeds 1 --first-seed ${violation.seed} --trace`);
  }
  if (violation.trace.length > 0) {
    lines.push(`last ${violation.trace.length} events:`);
    lines.push(...violation.trace.map((line) => `  ${line}`));
  }
  return lines.join("\n");
}

export interface SeedRangeOptions extends Omit<SimulationOptions, "seed"> {
  readonly firstSeed: number;
  readonly seeds: number;
  /** Stop at the first violation. @default false */
  readonly stopOnViolation?: boolean;
  /** Called after every seed (progress reporting). */
  readonly onResult?: (result: SimulationResult) => void;
}

export interface SeedRangeSummary {
  readonly runs: number;
  readonly violations: SimulationViolation[];
  readonly totals: RunStats;
}

/** Runs seeds firstSeed, firstSeed+1, … and sums their statistics. */
export function runSeeds(options: SeedRangeOptions): SeedRangeSummary {
  const violations: SimulationViolation[] = [];
  const totals: RunStats = {
    ...emptyStats(),
    elections: 0,
    committed: 0,
    messagesSent: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
  };
  let runs = 0;
  for (let i = 0; i < options.seeds; i++) {
    const result = runSimulation({ ...options, seed: options.firstSeed + i });
    runs++;
    for (const key of Object.keys(totals) as (keyof RunStats)[]) totals[key] += result.stats[key];
    options.onResult?.(result);
    if (result.violation !== null) {
      violations.push(result.violation);
      if (options.stopOnViolation === true) break;
    }
  }
  return { runs, violations, totals };
}
