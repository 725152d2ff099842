#!/usr/bin/env node
/**
 * The `sluice` command. Subcommands arrive with the issues that own them; until then each one
 * says plainly that it is not available yet and exits with status 2.
 */
import { parseArgs } from "node:util";
import { PACKAGE_NAME } from "./index.js";

/** Exit status when a subcommand exists in the plan but not yet in this build. */
const EXIT_NOT_AVAILABLE = 2;
/** Exit status for a usage error. */
const EXIT_USAGE = 64;

const USAGE = `usage: sluice <command> [options]

commands:
  cluster up|down|status [--data DIR]   a local three-node cluster (arrives with the broker node)
  version                               print the version
`;

export function main(argv: readonly string[]): number {
  const [command, ...rest] = argv;
  switch (command) {
    case "version":
      console.log(`${PACKAGE_NAME} 0.1.0`);
      return 0;
    case "cluster": {
      const { positionals, values } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { data: { type: "string", default: "./data" } },
      });
      const action = positionals[0];
      if (action !== "up" && action !== "down" && action !== "status") {
        process.stderr.write(`sluice cluster: expected up, down or status\n${USAGE}`);
        return EXIT_USAGE;
      }
      process.stderr.write(
        `sluice cluster ${action} --data ${values.data}: the node process is not built yet (it arrives with the broker node); nothing was started\n`,
      );
      return EXIT_NOT_AVAILABLE;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? EXIT_USAGE : 0;
    default:
      process.stderr.write(`sluice: unknown command "${command}"\n${USAGE}`);
      return EXIT_USAGE;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT_USAGE;
  }
}
