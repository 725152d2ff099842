// Proves a stream-sourced delivery stream into S3-compatible storage (s3rver, started here) on a
// real three-node cluster: 100,000 records arrive once each in gzipped objects no larger than
// the size hint plus one record; while the S3 server is down the delivery backs off, its
// freshness grows and nothing is lost, and it catches up when the server returns.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionStore } from "../src/index.js";
import { type DeliveredObject, decodeObject, deliveryMetricMax, putRange, tally } from "./support.js";

// This file uses ports 20320-20331 and 20398 (the S3 server).
const BASE_PORT = 20_320;
const S3_PORT = 20_398;
const BUCKET = "sluice-delivery";
const RECORD_BYTES = 64;
const SIZE_HINT_BYTES = 1_048_576;

let cluster: TestCluster;
let client: SluiceClient;
let s3Directory: string;
let s3Server: S3rver | undefined;
let s3: S3Client;

async function startS3(): Promise<void> {
  s3Server = new S3rver({ port: S3_PORT, address: "127.0.0.1", silent: true, directory: s3Directory });
  await s3Server.run();
}

/** Every object under `data/`, decoded; bodies cached by key (a key's body never changes). */
const bodies = new Map<string, DeliveredObject>();
async function readBucket(): Promise<DeliveredObject[]> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: "data/",
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key as string;
      if (bodies.has(key)) continue;
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      bodies.set(
        key,
        decodeObject(
          key,
          Buffer.from(
            await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
          ),
        ),
      );
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return [...bodies.values()];
}

beforeAll(async () => {
  s3Directory = mkdtempSync(join(tmpdir(), "sluice-delivery-s3-"));
  await startS3();
  s3 = new S3Client({
    endpoint: `http://127.0.0.1:${S3_PORT}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
  });
}, 60_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
  s3?.destroy();
  await s3Server?.close();
  rmSync(s3Directory, { recursive: true, force: true });
}, 60_000);

describe("S3 delivery", () => {
  it("delivers 100,000 records once each, and catches up after the S3 server was down", async () => {
    const streamName = "s3-source";
    await client.createStream({
      streamName,
      shardCount: 2,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    await client.waitForStreamStatus(streamName, { timeoutMs: 30_000 });
    const store = new DefinitionStore({ client });
    const name = "s3-gzip";
    await store.create({
      name,
      source: { kind: "stream", streamName },
      destination: {
        kind: "s3",
        bucket: BUCKET,
        prefix: "data/",
        errorPrefix: "errors/",
        endpoint: `http://127.0.0.1:${S3_PORT}`,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      },
      bufferSizeBytes: SIZE_HINT_BYTES,
      bufferIntervalMs: 1_000,
      compression: "gzip",
    });

    await putRange(client, streamName, 0, 50_000);
    await waitFor(async () => tally(await readBucket()).distinct === 50_000, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: "the first 50,000 records in S3",
    });

    // The destination goes away: records wait, freshness grows, failures are counted.
    await s3Server?.close();
    s3Server = undefined;
    await putRange(client, streamName, 50_000, 100_000);
    const statuses = () => cluster.runningNodeIds().map((nodeId) => cluster.admin(nodeId).nodeStatus());
    await waitFor(async () => (await deliveryMetricMax(statuses(), name, "freshness_ms")) >= 3_000, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "freshness to grow while S3 is down",
    });
    expect(await deliveryMetricMax(statuses(), name, "failures")).toBeGreaterThan(0);

    await startS3();
    const objects = await waitFor(
      async () => {
        const found = await readBucket();
        return tally(found).distinct === 100_000 ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "every record in S3 after it returned" },
    );
    expect(tally(objects).duplicates).toBe(0);
    for (const object of objects) {
      expect(object.key).toMatch(/^data\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/s3-gzip-shardId-\d+-\d+-\d+\.gz$/);
      expect(object.bytes).toBeLessThan(SIZE_HINT_BYTES + RECORD_BYTES);
    }
    await waitFor(async () => (await deliveryMetricMax(statuses(), name, "freshness_ms")) === 0, {
      timeoutMs: 30_000,
      what: "freshness back to 0 once caught up",
    });
  }, 180_000);
});
