// Proves the `sluice stream|put|tail` commands end to end: the built CLI (node
// packages/cli/dist/main.js) against a real three-node cluster, checking output (tables and
// --json) and the documented exit codes (0 ok, 2 usage, 3 not found), and that the TLS flags
// (--tls-ca/--tls-cert/--tls-key, or SLUICE_CA/SLUICE_CERT/SLUICE_KEY) never clash with
// `put --key`.
import { type CliRun, runCli, startCluster, type TestCluster } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19024-19035.
const BASE_PORT = 19_024;

let cluster: TestCluster;
let endpointArgs: string[];

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  endpointArgs = cluster.nodeIds.flatMap((nodeId) => [
    "--endpoint",
    `127.0.0.1:${cluster.ports(nodeId).grpc}`,
  ]);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function sluice(args: readonly string[], stdin?: string, env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return runCli(args, {
    stdin: stdin ?? "",
    env: { ...process.env, SLUICE_CA: "", SLUICE_CERT: "", SLUICE_KEY: "", ...env },
  });
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("sluice stream|put|tail", () => {
  it("prints help with examples for every command, exit 0", async () => {
    for (const command of [
      ["stream", "--help"],
      ["put", "--help"],
      ["tail", "--help"],
    ]) {
      const run = await sluice(command);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain("examples:");
      expect(run.stdout).toContain("exit codes:");
    }
  });

  it("creates, lists, describes, scales, sets retention and deletes a stream", async () => {
    const create = await sluice(["stream", "create", "cli-orders", "--shards", "2", ...endpointArgs]);
    expect(create.stderr).toBe("");
    expect(create.status).toBe(0);
    expect(create.stdout).toMatch(/cli-orders\s+2\s+PROVISIONED\s+ACTIVE/);

    const list = await sluice(["stream", "list", "--json", ...endpointArgs]);
    expect(list.status).toBe(0);
    const streams = JSON.parse(list.stdout) as { stream: string; status: string }[];
    expect(streams).toContainEqual(expect.objectContaining({ stream: "cli-orders", status: "ACTIVE" }));

    const describeRun = await sluice(["stream", "describe", "cli-orders", "--json", ...endpointArgs]);
    expect(describeRun.status).toBe(0);
    const description = JSON.parse(describeRun.stdout) as { openShards: number; shards: unknown[] };
    expect(description.openShards).toBe(2);
    expect(description.shards).toHaveLength(2);

    const table = await sluice(["stream", "describe", "cli-orders", ...endpointArgs]);
    expect(table.stdout).toMatch(/SHARD\s+STATE/);
    expect(table.stdout).toContain("shardId-000000000001");

    const scale = await sluice(["stream", "scale", "cli-orders", "3", "--json", ...endpointArgs]);
    expect(scale.stderr).toBe("");
    expect(JSON.parse(scale.stdout)).toMatchObject({ stream: "cli-orders", to: 3, status: "ACTIVE" });

    const retention = await sluice(["stream", "retention", "cli-orders", "48", "--json", ...endpointArgs]);
    expect(retention.status).toBe(0);
    expect(JSON.parse(retention.stdout)).toMatchObject({ retentionHours: 48, previousHours: 24 });

    const removed = await sluice(["stream", "delete", "cli-orders", ...endpointArgs]);
    expect(removed.status).toBe(0);
  }, 60_000);

  it("puts records from arguments and stdin, and tails them back across a split", async () => {
    expect((await sluice(["stream", "create", "cli-events", "--shards", "1", ...endpointArgs])).status).toBe(
      0,
    );
    const put = await sluice([
      "put",
      "cli-events",
      "first",
      "second",
      "--key",
      "k",
      "--json",
      ...endpointArgs,
    ]);
    expect(put.stderr).toBe("");
    expect(put.status).toBe(0);
    const acks = jsonLines(put.stdout);
    expect(acks.map((ack) => ack.partitionKey)).toEqual(["k", "k"]);
    expect(String(acks[0]?.sequenceNumber) < String(acks[1]?.sequenceNumber)).toBe(true);

    const split = await sluice(["stream", "split", "cli-events", "shardId-000000000000", ...endpointArgs]);
    expect(split.stderr).toBe("");
    expect(split.status).toBe(0);

    const lines = Array.from({ length: 200 }, (_, index) => JSON.stringify({ user: `u${index % 7}`, index }));
    const bulk = await sluice(
      ["put", "cli-events", "--key-template", "{json.user}", ...endpointArgs],
      `${lines.join("\n")}\n`,
    );
    expect(bulk.stderr).toBe("");
    expect(bulk.status).toBe(0);
    expect(bulk.stdout).toMatch(/RECORDS\s+FAILED/);
    expect(bulk.stdout).toMatch(/\b200\s+0\b/);

    const tail = await sluice([
      "tail",
      "cli-events",
      "--from",
      "TRIM_HORIZON",
      "--no-follow",
      "--json",
      ...endpointArgs,
    ]);
    expect(tail.stderr).toBe("");
    expect(tail.status).toBe(0);
    const records = jsonLines(tail.stdout);
    expect(records).toHaveLength(202);
    expect(records.slice(0, 2).map((record) => record.data)).toEqual(["first", "second"]);
    // Per user, the records come back in the order they were written.
    const last = new Map<string, number>();
    for (const record of records.slice(2)) {
      const { user, index } = JSON.parse(String(record.data)) as { user: string; index: number };
      expect(record.partitionKey).toBe(user);
      expect(index).toBeGreaterThan(last.get(user) ?? -1);
      last.set(user, index);
    }

    const readable = await sluice([
      "tail",
      "cli-events",
      "--from",
      "TRIM_HORIZON",
      "--no-follow",
      "--max",
      "1",
      ...endpointArgs,
    ]);
    expect(readable.status).toBe(0);
    expect(readable.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+\s+shardId-000000000000\s+k\s+first\n$/);
  }, 60_000);

  it("exits 3 for a missing stream and 2 for usage errors, with one line that says what to do", async () => {
    const missing = await sluice(["stream", "describe", "no-such-stream", ...endpointArgs]);
    expect(missing.status).toBe(3);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("sluice stream list");

    const tailMissing = await sluice(["tail", "no-such-stream", ...endpointArgs]);
    expect(tailMissing.status).toBe(3);

    const badCount = await sluice(["stream", "create", "x", "--shards", "zero", ...endpointArgs]);
    expect(badCount.status).toBe(2);
    expect(badCount.stderr).toContain("--shards must be a positive integer");

    const badFlag = await sluice(["put", "x", "--nope", ...endpointArgs]);
    expect(badFlag.status).toBe(2);

    const badTemplate = await sluice(["put", "x", "a", "--key-template", "{what}", ...endpointArgs]);
    expect(badTemplate.status).toBe(2);
    expect(badTemplate.stderr).toContain("unknown placeholder {what}");
  }, 30_000);

  it("takes TLS files from --tls-ca/--tls-cert/--tls-key or SLUICE_CA/SLUICE_CERT/SLUICE_KEY, apart from put --key", async () => {
    const flag = await sluice(["stream", "list", "--tls-ca", "/no/such/ca.crt", ...endpointArgs]);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain("--tls-ca /no/such/ca.crt: ENOENT");

    const variable = await sluice(["stream", "list", ...endpointArgs], undefined, {
      SLUICE_KEY: "/no/such/client.key",
    });
    expect(variable.status).toBe(2);
    expect(variable.stderr).toContain("--tls-key /no/such/client.key: ENOENT");

    // The old bare flags are gone rather than ambiguous.
    expect((await sluice(["stream", "list", "--ca", "ca.crt", ...endpointArgs])).status).toBe(2);

    // --key is the partition key only: it reaches the cluster (which has no such stream), no file is read.
    const put = await sluice(["put", "no-such-stream-for-key", "a", "--key", "k", ...endpointArgs]);
    expect(put.stderr).not.toContain("ENOENT");
    expect(put.stderr).toContain("no-such-stream-for-key");
    expect(put.status).toBe(1);
  }, 30_000);

  it("exits 4 when no endpoint answers", async () => {
    const run = await sluice(["stream", "list", "--endpoint", "127.0.0.1:19049"]);
    expect(run.status).toBe(4);
    expect(run.stderr).toContain("--endpoint");
  }, 30_000);
});
