// Proves stream analytics in the secure deployment: on a three-node cluster with TLS and
// authentication on, an application created with `sluice analytics create` (over TLS, with the
// access key `sluice auth init` wrote) runs in a node, whose in-node clients reach the cluster
// as the internal principal over TLS, and writes the rows a reference computes into its output
// stream; `describe` shows it running with its metrics; the CLI without a key changes nothing.
import { join } from "node:path";
import { SluiceClient } from "@sluice/client";
import { type CliRun, readStream, runCli, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 21174-21185.
const BASE_PORT = 21_174;
const KEYS = 3;
const WINDOWS = 4;

let cluster: TestCluster;
let client: SluiceClient;
let endpointArgs: string[];
let tlsArgs: string[];
let keyArgs: string[];

beforeAll(async () => {
  cluster = await startCluster({
    basePort: BASE_PORT,
    tls: true,
    auth: true,
    env: { ...process.env, SLUICE_DELIVERY: "off" },
  });
  const endpoints = cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`);
  const credentials = cluster.credentials;
  if (cluster.tlsCa === undefined || cluster.certsDir === undefined || credentials === undefined)
    throw new Error("expected a cluster with TLS and authentication");
  client = new SluiceClient({ endpoints, tls: { ca: cluster.tlsCa }, credentials });
  endpointArgs = endpoints.flatMap((endpoint) => ["--endpoint", endpoint]);
  tlsArgs = ["--tls-ca", join(cluster.certsDir, "ca.crt")];
  keyArgs = ["--access-key", credentials.accessKeyId, "--secret-key", credentials.secretAccessKey];
}, 90_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
}, 60_000);

/** Runs `sluice ARGS` against the cluster (no key in the environment) and waits for it to exit. */
function sluice(args: readonly string[]): Promise<CliRun> {
  const env = { ...process.env };
  for (const name of [
    "SLUICE_ACCESS_KEY_ID",
    "SLUICE_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
  ])
    delete env[name];
  return runCli([...args, ...endpointArgs], { env });
}

describe("analytics on a cluster with TLS and authentication", () => {
  it("runs an application that writes its results, created and described by the CLI", async () => {
    const input = "sec-events";
    await client.createStream({ streamName: input, shardCount: 1 });
    await client.waitForStreamStatus(input, { timeoutMs: 30_000 });
    const sql = `SELECT k, COUNT(*) AS n FROM "${input}" GROUP BY TUMBLE(ts, INTERVAL '1' SECOND), k`;
    const createArgs = ["analytics", "create", "sec-counts", "--sql", sql, "--output", "sec-out"];

    // Without a key (TLS alone) the cluster refuses, and nothing is created.
    const anonymous = await sluice([...createArgs, ...tlsArgs]);
    expect(anonymous.status).not.toBe(0);
    expect(anonymous.stderr).toMatch(/sluice analytics create: .*(Unrecognized|credentials|authenticat)/i);
    const create = await sluice([...createArgs, ...tlsArgs, ...keyArgs]);
    expect(create.status, create.stderr).toBe(0);
    const list = await sluice(["analytics", "list", "--json", ...tlsArgs, ...keyArgs]);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((definition) => definition.name)).toEqual([
      "sec-counts",
    ]);

    const base = Math.floor(Date.now() / 1_000) * 1_000 - 60_000;
    const records: { partitionKey: string; data: Buffer }[] = [];
    const expected = new Map<string, number>();
    for (let window = 0; window < WINDOWS; window++) {
      for (let k = 0; k < KEYS; k++) {
        for (let i = 0; i < 2 + k * window; i++) {
          records.push({
            partitionKey: `k${k}`,
            data: Buffer.from(JSON.stringify({ k: `k${k}`, ts: base + window * 1_000 + i })),
          });
          const key = `${new Date(base + window * 1_000).toISOString()}|k${k}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
      }
    }
    const put = await client.putRecords(
      streams.PutRecordsRequest.fromPartial({ streamName: input, records }),
    );
    expect(put.failedRecordCount).toBe(0);

    const rows = await waitFor(
      async () => {
        const found = (await readStream(client, "sec-out").catch(() => [])).map(
          (data) => JSON.parse(data.toString("utf8")) as { window_start: string; k: string; n: number },
        );
        return found.length >= expected.size ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300, what: "the application's output on the secure cluster" },
    ).catch((error) => {
      const logs = cluster.nodeIds.map((nodeId) => cluster.process(nodeId).logTail(20));
      throw new Error(`${String(error)}\n${logs.join("\n")}`);
    });
    expect(rows).toHaveLength(expected.size);
    expect(new Map(rows.map((row) => [`${row.window_start}|${row.k}`, row.n]))).toEqual(expected);

    const described = await waitFor(
      async () => {
        const run = await sluice(["analytics", "describe", "sec-counts", ...tlsArgs, ...keyArgs]);
        expect(run.status, run.stderr).toBe(0);
        return /state: running on node \d/.test(run.stdout) ? run.stdout : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "describe to show the application running" },
    );
    expect(described).toMatch(/metrics: records_in=\d+ late_records_dropped=0 windows_emitted=\d+/);
    expect(described).not.toContain("note:");
  }, 150_000);
});
