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

const CLUSTER_USAGE = `usage: sluice cluster up|down|status [options]

A local three-node cluster on loopback, one node per zone (a, b, c), each a background
\`sluice node\` process with its data in DIR/node-N, its log in DIR/node-N.log, its pid in
DIR/node-N.pid.
  up       start the nodes not running yet and wait until all three serve; print the endpoints
  down     stop the nodes: SIGTERM, then SIGKILL for one that misses the deadline
  status   each node's process, health and leaderships

options:
  --data DIR         the cluster's folder (default ./data)
  --base-port PORT   move every port: gRPC PORT+0..2, Kinesis HTTP +10..12, metrics +20..22,
                     peer +30..32 (default: gRPC 50051-50053, HTTP 4567-4569, metrics
                     9464-9466, peer 7401-7403)
  --tls              up: issue certificates into DIR/certs once and run TLS on every port
                     (mutual TLS between the nodes); a folder with DIR/certs is TLS from then on
  -h, --help         this text

examples:
  sluice cluster up                      # three nodes, data under ./data
  sluice cluster up --tls --data /tmp/c  # TLS everywhere; clients trust /tmp/c/certs/ca.crt
  sluice cluster status
  sluice cluster down

exit codes:
  0 done; 1 a node did not start or stop in time (see DIR/node-N.log); 64 bad usage
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
        values: { data?: string; "base-port"?: string; tls?: boolean; help?: boolean };
      };
      try {
        parsed = parseArgs({
          args: [...rest],
          allowPositionals: true,
          options: {
            data: { type: "string", default: "./data" },
            "base-port": { type: "string" },
            tls: { type: "boolean", default: false },
            help: { type: "boolean", short: "h", default: false },
          },
        });
      } catch (error) {
        process.stderr.write(
          `sluice cluster: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`,
        );
        return EXIT_USAGE;
      }
      if (parsed.values.help === true) {
        process.stdout.write(CLUSTER_USAGE);
        return 0;
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
