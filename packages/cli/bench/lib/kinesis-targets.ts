/**
 * The targets reached through the Kinesis HTTP API: Sluice's Kinesis port (a cluster the caller
 * started), the null endpoint, kinesalite and kinesis-local (both from npm, in memory, one
 * process each). The bench starts and stops the processes itself, on ports 20820-20823.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DescribeStreamSummaryCommand } from "@aws-sdk/client-kinesis";
import type { TestCluster } from "@sluice/harness";
import {
  KINESALITE_PORT,
  KINESIS_LOCAL_PORT,
  KINESIS_LOCAL_TLS_PORT,
  NULL_ENDPOINT_PORT,
  SERVER_START_TIMEOUT_MS,
} from "./constants.ts";
import { KinesisHttpDriver, kinesisClient } from "./kinesis-http-driver.ts";
import { ServerProcess, waitWhileRunning } from "./server-process.ts";
import type { BenchTarget } from "./target.ts";

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

/** Sluice's Kinesis HTTP API on each node of `cluster`; the cluster is the caller's to stop. */
export function sluiceHttpTarget(cluster: TestCluster, maxSockets: number): BenchTarget {
  const driver = new KinesisHttpDriver({
    endpoints: cluster.nodeIds.map((nodeId) => `http://127.0.0.1:${cluster.ports(nodeId).http}`),
    onDemand: true,
    subscribe: true,
    maxSockets,
  });
  return {
    name: "sluice-http",
    description: "Sluice, 3 nodes, Kinesis HTTP API (AWS SDK v3)",
    durability: "quorum of 3, fsync before ack",
    driver,
    pids: () => cluster.nodeIds.map((nodeId) => cluster.process(nodeId).pid ?? 0),
    stop: () => driver.close(),
  };
}

/** Waits until the Kinesis API at `endpoint` answers (ResourceNotFound counts as an answer). */
async function waitServing(server: ServerProcess, endpoint: string): Promise<void> {
  const probe = kinesisClient(endpoint, 1);
  try {
    await waitWhileRunning(
      [server],
      async () => {
        await probe.send(new DescribeStreamSummaryCommand({ StreamName: "probe" })).catch((error: Error) => {
          if (error.name !== "ResourceNotFoundException") throw error;
        });
        return true;
      },
      { timeoutMs: SERVER_START_TIMEOUT_MS, what: `${server.name} to serve on ${endpoint}`, intervalMs: 200 },
    );
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    probe.destroy();
  }
}

async function processTarget(
  server: ServerProcess,
  port: number,
  maxSockets: number,
  fields: Pick<BenchTarget, "name" | "description" | "durability">,
): Promise<BenchTarget> {
  const endpoint = `http://127.0.0.1:${port}`;
  await waitServing(server, endpoint);
  const driver = new KinesisHttpDriver({
    endpoints: [endpoint],
    onDemand: false,
    subscribe: false,
    maxSockets,
  });
  return {
    ...fields,
    driver,
    pids: () => [server.pid],
    stop: async () => {
      await driver.close();
      await server.stop();
    },
  };
}

export async function startNullEndpoint(maxSockets: number): Promise<BenchTarget> {
  const main = join(import.meta.dirname, "null-endpoint.ts");
  const server = new ServerProcess("null endpoint", process.execPath, [main, String(NULL_ENDPOINT_PORT)]);
  return processTarget(server, NULL_ENDPOINT_PORT, maxSockets, {
    name: "null",
    description: "null Kinesis endpoint (stores nothing): the AWS SDK's own cost",
    durability: "none (stores nothing)",
  });
}

export async function startKinesalite(maxSockets: number): Promise<BenchTarget> {
  const main = join(dirname(require.resolve("kinesalite/package.json")), "cli.js");
  const server = new ServerProcess(
    "kinesalite",
    process.execPath,
    [main, "--port", String(KINESALITE_PORT), "--createStreamMs", "0", "--shardLimit", "100"],
    { cwd: dirname(main) },
  );
  return processTarget(server, KINESALITE_PORT, maxSockets, {
    name: "kinesalite",
    description: `kinesalite ${packageVersion("kinesalite")}, one process`,
    durability: "memory only",
  });
}

export async function startKinesisLocal(maxSockets: number): Promise<BenchTarget> {
  const main = join(dirname(require.resolve("kinesis-local/package.json")), "main.js");
  const server = new ServerProcess("kinesis-local", process.execPath, [main], {
    // It reads its TLS key pair from ./server.json.
    cwd: dirname(main),
    env: {
      KINESIS_MOCK_PLAIN_PORT: String(KINESIS_LOCAL_PORT),
      KINESIS_MOCK_TLS_PORT: String(KINESIS_LOCAL_TLS_PORT),
      CREATE_STREAM_DURATION: "0ms",
      SHOULD_PERSIST_DATA: "false",
      LOG_LEVEL: "ERROR",
    },
  });
  return processTarget(server, KINESIS_LOCAL_PORT, maxSockets, {
    name: "kinesis-local",
    description: `kinesis-local ${packageVersion("kinesis-local")}, one process`,
    durability: "memory only",
  });
}
