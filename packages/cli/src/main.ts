#!/usr/bin/env node
/**
 * The `sluice` command: `sluice node` runs one node; `sluice cluster up|down|status` runs a local
 * three-node cluster. Commands planned for later issues are not listed until they exist.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { clusterDown, clusterStatus, clusterUp } from "./cluster/local-cluster.js";
import { runAnalyticsCommand } from "./commands/analytics.js";
import { runAuthCommand } from "./commands/auth.js";
import { runBenchCommand } from "./commands/bench.js";
import { runCertsCommand } from "./commands/certs.js";
import { runDeliveryCommand } from "./commands/delivery.js";
import { runGroupCommand } from "./commands/group.js";
import { runPutCommand, runStreamCommand, runTailCommand } from "./commands/index.js";
import { EXIT_USAGE } from "./constants.js";
import { PACKAGE_NAME } from "./index.js";
import { runNodeCommand } from "./node/run.js";

const USAGE = `usage: sluice <command> [options]

commands:
  node [options]                        run one node (sluice node --help lists the options)
  cluster up|down|status [--data DIR]   a local three-node cluster on loopback (data under ./data;
                                        up --tls: certificates in DIR/certs, TLS everywhere)
  stream create|describe|list|delete|split|merge|scale|retention
                                        manage streams (sluice stream --help)
  put STREAM [RECORD...]                write records, or stdin's lines (sluice put --help)
  tail STREAM                           print a stream's records as they arrive (sluice tail --help)
  group status STREAM GROUP             a consumer group's members, leases, checkpoints, lag (sluice group --help)
  delivery create|describe|list|delete  delivery streams into files, S3 or PostgreSQL (sluice delivery --help)
  analytics create|list|describe|delete|preview
                                        continuous SQL over a stream into another (sluice analytics --help)
  certs init [--out DIR]                a cluster CA, node and client certificates (sluice certs --help)
  auth init [--out DIR]                 an access key and an admin policy for --auth-keys/--auth-policy (sluice auth --help)
  bench [--targets LIST] [--seconds N]  Sluice side by side with its peers, from a checkout (sluice bench -h)
  version                               print the version
`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "version":
      console.log(`${PACKAGE_NAME} 0.1.0`);
      return 0;
    case "node":
      return runNodeCommand(rest, env);
    case "stream":
      return runStreamCommand(rest, env);
    case "put":
      return runPutCommand(rest, env);
    case "tail":
      return runTailCommand(rest, env);
    case "group":
      return runGroupCommand(rest, env);
    case "delivery":
      return runDeliveryCommand(rest, env);
    case "analytics":
      return runAnalyticsCommand(rest, env);
    case "certs":
      return runCertsCommand(rest, env);
    case "auth":
      return runAuthCommand(rest, env);
    case "bench":
      return runBenchCommand(rest);
    case "cluster": {
      let parsed: {
        positionals: string[];
        values: { data?: string; "base-port"?: string; tls?: boolean };
      };
      try {
        parsed = parseArgs({
          args: [...rest],
          allowPositionals: true,
          options: {
            data: { type: "string", default: "./data" },
            "base-port": { type: "string" },
            tls: { type: "boolean", default: false },
          },
        });
      } catch (error) {
        process.stderr.write(
          `sluice cluster: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`,
        );
        return EXIT_USAGE;
      }
      const action = parsed.positionals[0];
      const basePortText = parsed.values["base-port"];
      const basePort = basePortText === undefined ? undefined : Number(basePortText);
      if (basePort !== undefined && (!Number.isInteger(basePort) || basePort < 1 || basePort > 65_500)) {
        process.stderr.write(`sluice cluster: --base-port must be a port number, not "${basePortText}"\n`);
        return EXIT_USAGE;
      }
      const options = { dataDir: parsed.values.data ?? "./data", basePort, tls: parsed.values.tls };
      switch (action) {
        case "up":
          return clusterUp(options);
        case "down":
          return clusterDown(options);
        case "status":
          return clusterStatus(options);
        default:
          process.stderr.write(`sluice cluster: expected up, down or status\n${USAGE}`);
          return EXIT_USAGE;
      }
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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
      // A node keeps no handle once stopped, but a stray timer must not hold the exit.
      if (process.argv[2] === "node") process.exit(status);
    },
    (error: unknown) => {
      process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
