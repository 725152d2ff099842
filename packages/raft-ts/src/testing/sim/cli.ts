import { parseArgs } from "node:util";
import { RaftBug } from "../../options.js";
import { mutationSettings } from "./mutation-profiles.js";
import { DEFAULT_STEPS, formatViolation, runSeeds } from "./run.js";
import { ViolationKind } from "./violation.js";

/**
 * The simulator's command line (`pnpm --filter raft-ts sim …`):
 *
 *   --seeds N          how many seeds to run (default 100)
 *   --first-seed S     the first seed (default 1); seeds S … S+N-1 run
 *   --steps K          scheduled events per seed (default 500)
 *   --nodes 3|5        cluster size (default: 3 for even seeds, 5 for odd ones)
 *   --bug NAME         switch on a RaftBug mutation (repeatable); a single one runs with its
 *                      tuned fault mix (mutation-profiles.ts)
 *   --without KIND     switch off one safety check (repeatable), e.g. committed-is-durable, to
 *                      see which other checks catch a bug on their own
 *   --trace            print every event of every seed (use with --seeds 1 to replay a failure)
 *   --stop             stop at the first violation
 *
 * Exits 1 when any seed breaks a property, after printing each violation with its trace.
 */
function main(): number {
  const { values } = parseArgs({
    // `pnpm … sim -- --flag` passes the "--" through.
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      seeds: { type: "string", default: "100" },
      "first-seed": { type: "string", default: "1" },
      steps: { type: "string", default: String(DEFAULT_STEPS) },
      nodes: { type: "string" },
      bug: { type: "string", multiple: true },
      without: { type: "string", multiple: true },
      trace: { type: "boolean", default: false },
      stop: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(
      "usage: sim [--seeds N] [--first-seed S] [--steps K] [--nodes 3|5] [--bug NAME]... [--without KIND]... [--trace] [--stop]",
    );
    console.log(`bugs: ${Object.values(RaftBug).join(", ")}`);
    return 0;
  }
  const seeds = parsePositive("--seeds", values.seeds);
  const firstSeed = parseNonNegative("--first-seed", values["first-seed"]);
  const steps = parsePositive("--steps", values.steps);
  const nodes = values.nodes === undefined ? undefined : parsePositive("--nodes", values.nodes);
  const known = new Set<string>(Object.values(RaftBug));
  const bugs = (values.bug ?? []).map((name) => {
    if (!known.has(name)) throw new Error(`unknown --bug ${name}; one of ${[...known].join(", ")}`);
    return name as RaftBug;
  });
  // One mutation runs with its tuned fault mix (and cluster size, unless --nodes says otherwise).
  const mutation = bugs.length === 1 ? mutationSettings(bugs[0]!) : undefined;
  const profile = mutation?.profile;
  const kinds = new Set<string>(Object.values(ViolationKind));
  const disabledChecks = (values.without ?? []).map((name) => {
    if (!kinds.has(name)) throw new Error(`unknown --without ${name}; one of ${[...kinds].join(", ")}`);
    return name as ViolationKind;
  });
  const clusterSize = nodes ?? mutation?.nodes;

  const started = performance.now();
  let lastReport = started;
  let done = 0;
  let failed = 0;
  const summary = runSeeds({
    firstSeed,
    seeds,
    steps,
    bugs,
    disabledChecks,
    stopOnViolation: values.stop,
    ...(clusterSize === undefined ? {} : { nodes: clusterSize }),
    ...(profile === undefined ? {} : { profile }),
    ...(values.trace ? { traceSink: (line: string) => console.log(line) } : {}),
    onResult: (result) => {
      done++;
      if (result.violation !== null) {
        failed++;
        console.log(formatViolation(result.violation, !values.trace));
      }
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        const rate = (done / (now - started)) * 1000;
        console.error(`… ${done}/${seeds} seeds, ${failed} failed, ${rate.toFixed(0)} seeds/s`);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const t = summary.totals;
  console.log(
    `${summary.runs} seeds (${firstSeed}..${firstSeed + summary.runs - 1}) × ${steps} steps` +
      `${bugs.length > 0 ? ` with ${bugs.join(", ")}` : ""}: ${summary.violations.length} violations in ${seconds.toFixed(1)} s`,
  );
  console.log(
    `  elections ${t.elections}, committed entries ${t.committed}, acknowledged proposals ${t.acknowledged} (unknown outcome ${t.outcomeUnknown}), ` +
      `crashes ${t.crashes} (torn ${t.tornPersists}), restarts ${t.restarts}, partitions ${t.partitions}, ` +
      `transfers ${t.transfers}, conf changes ${t.confChangesApplied}/${t.confChangesProposed}, ` +
      `snapshots taken ${t.snapshotsTaken} sent ${t.snapshotsInstalled}, reads ${t.readsAnswered}/${t.readsAsked}, messages ${t.messagesSent} ` +
      `(dropped ${t.messagesDropped}, duplicated ${t.messagesDuplicated})`,
  );
  return summary.violations.length > 0 ? 1 : 0;
}

function parsePositive(flag: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new Error(`${flag} must be a positive integer, got ${value}`);
  return number;
}

function parseNonNegative(flag: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new Error(`${flag} must be a non-negative integer, got ${value}`);
  }
  return number;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
}
