// Proves a stream-sourced delivery stream into PostgreSQL (a server from Debian's packages,
// started here) on a real three-node cluster: 100,000 records are copied in, each exactly once;
// while PostgreSQL is down the delivery backs off, its freshness grows and nothing is lost, and
// it catches up when the server returns.

import { SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionStore } from "../src/index.js";
import { POSTGRES_AVAILABLE, PostgresServer } from "./postgres-server.js";
import { deliveryMetricMax, putRange } from "./support.js";

// This file uses ports 20340-20351 and 20397 (PostgreSQL).
const BASE_PORT = 20_340;
const POSTGRES_PORT = 20_397;

let cluster: TestCluster;
let client: SluiceClient;
let server: PostgresServer;

beforeAll(async () => {
  if (!POSTGRES_AVAILABLE) return;
  server = new PostgresServer(POSTGRES_PORT);
  server.start();
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
  });
}, 60_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
  server?.destroy();
}, 60_000);

/** Rows and distinct sequence numbers in the table; zeros while it does not exist yet. */
async function counts(): Promise<{ rows: number; distinct: number }> {
  const connection = new pg.Client({ connectionString: server.connectionString });
  connection.on("error", () => {});
  await connection.connect();
  try {
    const result = await connection.query<{ rows: string; distinct: string }>(
      "SELECT count(*) AS rows, count(DISTINCT (shard_id, sequence_number)) AS distinct FROM events",
    );
    return { rows: Number(result.rows[0]?.rows), distinct: Number(result.rows[0]?.distinct) };
  } catch {
    return { rows: 0, distinct: 0 };
  } finally {
    await connection.end();
  }
}

describe.skipIf(!POSTGRES_AVAILABLE)("PostgreSQL delivery", () => {
  it("copies 100,000 records once each, and catches up after PostgreSQL was down", async () => {
    const streamName = "pg-source";
    await client.createStream({
      streamName,
      shardCount: 2,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    await client.waitForStreamStatus(streamName, { timeoutMs: 30_000 });
    const name = "pg-events";
    await new DefinitionStore({ client }).create({
      name,
      source: { kind: "stream", streamName },
      destination: {
        kind: "postgres",
        connectionString: server.connectionString,
        table: "events",
        errorTable: "events_errors",
      },
      bufferSizeBytes: 1_048_576,
      bufferIntervalMs: 1_000,
    });

    await putRange(client, streamName, 0, 50_000);
    await waitFor(async () => (await counts()).rows === 50_000, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: "the first 50,000 rows",
    });

    server.stop();
    await putRange(client, streamName, 50_000, 100_000);
    const statuses = () => cluster.runningNodeIds().map((nodeId) => cluster.admin(nodeId).nodeStatus());
    await waitFor(async () => (await deliveryMetricMax(statuses(), name, "freshness_ms")) >= 3_000, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "freshness to grow while PostgreSQL is down",
    });
    expect(await deliveryMetricMax(statuses(), name, "failures")).toBeGreaterThan(0);

    server.start();
    const final = await waitFor(
      async () => {
        const found = await counts();
        return found.distinct === 100_000 ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "every row after PostgreSQL returned" },
    );
    expect(final.rows).toBe(100_000);
  }, 180_000);
});
