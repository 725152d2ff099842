// Proves that killing (SIGKILL) the node delivering shards of a delivery stream mid-delivery
// loses nothing and duplicates nothing: after the leases move, every record is in the files
// exactly once — a batch cut short by the crash is rewritten at the same key, because the new
// owner closes its first batch at the dead owner's intent.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { grpcGroupTransport, SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionStore, deliveryGroupName } from "../src/index.js";
import { putRange, readDirectoryObjects, tally } from "./support.js";

// This file uses ports 20360-20371.
const BASE_PORT = 20_360;
const RECORDS = 100_000;
const RECORD_BYTES = 256;

let cluster: TestCluster;
let client: SluiceClient;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "sluice-delivery-failover-"));
  cluster = await startCluster({
    basePort: BASE_PORT,
    // Leases of a dead node move after 3 s instead of 10 s.
    env: { ...process.env, SLUICE_DELIVERY_SESSION_TIMEOUT_MS: "3000" },
  });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
  });
}, 60_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
  rmSync(directory, { recursive: true, force: true });
}, 60_000);

describe("delivery failover", () => {
  it("delivers every record exactly once after the delivering node is killed", async () => {
    const streamName = "failover-source";
    await client.createStream({
      streamName,
      shardCount: 4,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    await client.waitForStreamStatus(streamName, { timeoutMs: 30_000 });
    // Every record is in the stream before delivery starts: a put retried across the kill could
    // write a record twice, which would not be the delivery's doing.
    await putRange(client, streamName, 0, RECORDS, 4, RECORD_BYTES);

    const definition = await new DefinitionStore({ client }).create({
      name: "failover",
      source: { kind: "stream", streamName },
      destination: { kind: "files", directory, prefix: "", errorPrefix: "errors/" },
      bufferSizeBytes: 1_048_576,
      bufferIntervalMs: 1_000,
      format: "raw",
    });

    // Once part of the stream is delivered, kill the node that holds the most leases.
    await waitFor(async () => tally(await readDirectoryObjects(directory)).distinct >= 10_000, {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: "the first records delivered",
    });
    const transport = grpcGroupTransport(
      cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
    );
    try {
      const group = await transport.describeGroup({ streamName, groupName: deliveryGroupName(definition) });
      const owners = new Map<number, number>();
      for (const shard of group.shards) {
        const nodeId = Number(/^node-(\d+)-/.exec(shard.owner)?.[1] ?? 0);
        if (nodeId > 0) owners.set(nodeId, (owners.get(nodeId) ?? 0) + 1);
      }
      const victim = [...owners].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 1;
      await cluster.kill(victim, "SIGKILL");
    } finally {
      transport.close();
    }

    const objects = await waitFor(
      async () => {
        const found = await readDirectoryObjects(directory);
        return tally(found).distinct === RECORDS ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: "every record delivered after the failover" },
    ).catch(async (error) => {
      // Say what was delivered and what the nodes reported, so a red run explains itself.
      const found = tally(await readDirectoryObjects(directory));
      const logs = cluster.nodeIds.map((nodeId) => cluster.process(nodeId).logTail(40));
      throw new Error(`${String(error)}; delivered ${JSON.stringify(found)}\n${logs.join("\n")}`);
    });
    expect(tally(objects).duplicates).toBe(0);
  }, 180_000);
});
