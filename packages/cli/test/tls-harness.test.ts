// Proves the harness's `startCluster({ tls: true, auth: true })`: the certificates and the admin
// key are made in the cluster's data folder, every node serves TLS and checks keys, the cluster's
// own clients (which trust the CA and send the key) write and read, and a client without the key
// or without TLS is refused.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { readShard, StreamsCallError, StreamsClient, startCluster, type TestCluster } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20120-20131.
const BASE_PORT = 20_120;
const STREAM = "harness-tls";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT, tls: true, auth: true, startTimeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** The error a call ends with, or undefined when it succeeds. */
async function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("startCluster with tls and auth", () => {
  it("issues certificates and an access key into the data folder", () => {
    expect(cluster.certsDir).toBe(join(cluster.dataDir, "certs"));
    expect(existsSync(join(cluster.dataDir, "certs", "node-3.key"))).toBe(true);
    expect(cluster.tlsCa?.toString()).toContain("BEGIN CERTIFICATE");
    expect(cluster.authDir).toBe(join(cluster.dataDir, "auth"));
    expect(cluster.credentials?.accessKeyId).toMatch(/^SLKI/);
  });

  it("writes and reads through the cluster's clients over TLS with the key", async () => {
    await cluster.streams(1).createActiveStream({ streamName: STREAM, shardCount: 1 }, 30_000);
    const put = await cluster
      .streams(2)
      .putRecord({ streamName: STREAM, partitionKey: "k", data: Buffer.from("over tls") });
    const records = await readShard(cluster.streams(3), { streamName: STREAM, shardId: put.shardId });
    expect(records.map((record) => record.data.toString())).toEqual(["over tls"]);
  }, 60_000);

  it("refuses a client without the key and a plaintext client", async () => {
    const address = `127.0.0.1:${cluster.ports(1).grpc}`;
    const ca = cluster.tlsCa;
    if (ca === undefined) throw new Error("a tls cluster has a CA");
    const anonymous = new StreamsClient(address, { tls: { ca }, timeoutMs: 10_000 });
    const plaintext = new StreamsClient(address, { timeoutMs: 5_000 });
    try {
      const refused = await failureOf(anonymous.listStreams({}));
      expect(refused).toBeInstanceOf(StreamsCallError);
      expect((refused as StreamsCallError).grpcCode).toBe(GrpcStatus.UNAUTHENTICATED);
      const unencrypted = await failureOf(plaintext.listStreams({}));
      expect(unencrypted).toBeInstanceOf(StreamsCallError);
      expect((unencrypted as StreamsCallError).grpcCode).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      anonymous.close();
      plaintext.close();
    }
  }, 30_000);
});
