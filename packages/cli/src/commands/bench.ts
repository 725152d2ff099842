/**
 * `sluice bench [options]`: Sluice side by side with its peers (issue #11). The bench lives next
 * to the package's sources (packages/cli/bench/bench.ts, run with Node's type stripping) and
 * starts its own servers, so the command runs it from a checkout as a child process with the
 * same arguments and passes its exit code on; `./scripts/bench` is the same thing.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { EXIT_FAILURE, EXIT_USAGE, type Io, processIo } from "./common.js";

export const BENCH_HELP = `usage: sluice bench [options]

Starts Sluice (three nodes) and its peers (null Kinesis endpoint, kinesalite, kinesis-local,
NATS JetStream with 3 replicas) on ports 20800-20899, runs the same workloads against each and
prints a side-by-side table; JSON and an SVG chart go to bench-results/.

options (sluice bench --help lists them all):
  --targets LIST   sluice-grpc,sluice-http,null,kinesalite,kinesis-local,jetstream,jetstream-sync
  --seconds N      seconds per workload (default 10)
  --rounds N       repeat every target N times, interleaved (default 1; figures are medians)
  --smoke          one second per workload, Sluice only: proves the bench works
  --write-docs     regenerate the table and chart of docs/benchmarks.md

It runs from a checkout (the bench is not part of the installed package): ./scripts/bench.
exit codes: 0 ok, 1 a workload failed, 2 usage
`;

/** packages/cli/bench/bench.ts, from dist/commands/bench.js and from src/commands/bench.ts alike. */
export const BENCH_SCRIPT_PATH = fileURLToPath(new URL("../../bench/bench.ts", import.meta.url));

export async function runBenchCommand(args: readonly string[], io: Io = processIo): Promise<number> {
  if (args.includes("-h") && !args.includes("--help")) {
    io.stdout.write(BENCH_HELP);
    return 0;
  }
  if (!existsSync(BENCH_SCRIPT_PATH)) {
    io.stderr.write(
      `sluice bench: ${BENCH_SCRIPT_PATH} is missing: the bench runs from a checkout of the repository (./scripts/bench), not from an installed package\n`,
    );
    return EXIT_USAGE;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BENCH_SCRIPT_PATH, ...args], { stdio: "inherit" });
    child.once("error", (error) => {
      io.stderr.write(`sluice bench: ${error.message}\n`);
      resolve(EXIT_FAILURE);
    });
    // Killed by a signal: 128 + its number, as a shell reports it.
    child.once("exit", (code, signal) =>
      resolve(code ?? (signal === null ? EXIT_FAILURE : 128 + (constants.signals[signal] ?? 0))),
    );
  });
}
