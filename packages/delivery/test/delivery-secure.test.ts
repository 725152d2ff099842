// Proves delivery streams in the default secure deployment: on a three-node cluster with TLS and
// authentication on, a files delivery stream created through the Firehose API (the AWS SDK over
// HTTPS, SigV4 with the key `sluice auth init` wrote into client.env) delivers every record put,
// also after the key and policy files are reloaded; and that Firehose calls are authorized per
// delivery stream — a principal allowed only firehose:PutRecordBatch on `logs-*` puts to `logs-a`
// but is denied putting to `metrics-a` and creating a delivery stream, and creating one that reads
// a Kinesis stream needs kinesis:GetRecords on that stream.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateDeliveryStreamCommand,
  type CreateDeliveryStreamCommandInput,
  FirehoseClient,
  PutRecordBatchCommand,
} from "@aws-sdk/client-firehose";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payload, readDirectoryObjects, tally } from "./support.js";

// This file uses ports 20372-20383.
const BASE_PORT = 20_372;
const WRITER = { accessKeyId: "AKIDLOGSWRITER", secretAccessKey: "logs-writer-secret-1" };
const COPIER = { accessKeyId: "AKIDCOPIER", secretAccessKey: "copier-secret-1" };
const BATCH_RECORDS = 500;
const BATCHES = 4;

let cluster: TestCluster;
let directory: string;
const clients: FirehoseClient[] = [];

function firehose(credentials: { accessKeyId: string; secretAccessKey: string }): FirehoseClient {
  const client = new FirehoseClient({
    endpoint: `https://127.0.0.1:${cluster.ports(1).http}`,
    region: "us-east-1",
    credentials,
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca: cluster.tlsCa }) },
  });
  clients.push(client);
  return client;
}

function filesStream(name: string, subdirectory: string): CreateDeliveryStreamCommandInput {
  return {
    DeliveryStreamName: name,
    DeliveryStreamType: "DirectPut",
    ExtendedS3DestinationConfiguration: {
      BucketARN: `arn:sluice:files:::${join(directory, subdirectory)}`,
      RoleARN: "arn:aws:iam::000000000000:role/none",
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
    },
  };
}

function batch(name: string, from: number): PutRecordBatchCommand {
  return new PutRecordBatchCommand({
    DeliveryStreamName: name,
    Records: Array.from({ length: BATCH_RECORDS }, (_, i) => ({ Data: payload(from + i) })),
  });
}

/** The error name a call fails with, or "ok"; `messages` collects the errors' messages. */
const messages: string[] = [];
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    messages.push((error as Error).message);
    return (error as Error).name;
  }
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "sluice-delivery-secure-"));
  cluster = await startCluster({ basePort: BASE_PORT, tls: true, auth: true });
}, 90_000);
afterAll(async () => {
  for (const client of clients) client.destroy();
  await cluster?.stop();
  rmSync(directory, { recursive: true, force: true });
}, 60_000);

describe("delivery streams with TLS and authentication", () => {
  it("delivers records put through the Firehose API with the client.env key, across a key reload", async () => {
    if (cluster.credentials === undefined || cluster.authDir === undefined) throw new Error("auth is on");
    const admin = firehose(cluster.credentials);
    await admin.send(new CreateDeliveryStreamCommand(filesStream("logs-a", "logs-a")));
    await admin.send(new CreateDeliveryStreamCommand(filesStream("metrics-a", "metrics-a")));
    for (let i = 0; i < BATCHES / 2; i++) {
      const put = await admin.send(batch("logs-a", i * BATCH_RECORDS));
      expect(put.FailedPutCount).toBe(0);
    }

    // Two more principals in the key and policy files; every node takes them without a restart.
    const keysFile = join(cluster.authDir, "access-keys");
    const policyFile = join(cluster.authDir, "policy.json");
    writeFileSync(
      keysFile,
      `${readFileSync(keysFile, "utf8")}${WRITER.accessKeyId}:${WRITER.secretAccessKey}:logs-writer\n${COPIER.accessKeyId}:${COPIER.secretAccessKey}:copier\n`,
    );
    const policy = JSON.parse(readFileSync(policyFile, "utf8")) as { principals: Record<string, unknown[]> };
    policy.principals["logs-writer"] = [
      { effect: "Allow", actions: ["firehose:PutRecordBatch"], resources: ["logs-*"] },
    ];
    policy.principals.copier = [
      {
        effect: "Allow",
        actions: ["firehose:CreateDeliveryStream"],
        resources: ["arn:aws:firehose:*:*:deliverystream/copy-*"],
      },
      { effect: "Allow", actions: ["kinesis:GetRecords"], resources: ["open-*"] },
    ];
    writeFileSync(policyFile, JSON.stringify(policy));
    const writer = firehose(WRITER);
    await waitFor(
      async () =>
        (await outcome(writer.send(batch("logs-a", BATCHES * BATCH_RECORDS)))) !==
        "UnrecognizedClientException",
      {
        timeoutMs: 20_000,
        what: "node 1 to take the new key",
      },
    );

    // The writer: PutRecordBatch on logs-* and nothing else.
    for (let i = BATCHES / 2; i < BATCHES; i++) {
      const put = await writer.send(batch("logs-a", i * BATCH_RECORDS));
      expect(put.FailedPutCount).toBe(0);
    }
    expect(await outcome(writer.send(batch("metrics-a", 0)))).toBe("AccessDeniedException");
    expect(await outcome(writer.send(new CreateDeliveryStreamCommand(filesStream("logs-b", "logs-b"))))).toBe(
      "AccessDeniedException",
    );

    // Creating a delivery stream from a Kinesis stream needs the creator's kinesis:GetRecords on it.
    const copier = firehose(COPIER);
    const fromStream = (name: string, stream: string): CreateDeliveryStreamCommandInput => ({
      ...filesStream(name, name),
      DeliveryStreamType: "KinesisStreamAsSource",
      KinesisStreamSourceConfiguration: {
        KinesisStreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
        RoleARN: "arn:aws:iam::000000000000:role/none",
      },
    });
    expect(
      await outcome(copier.send(new CreateDeliveryStreamCommand(fromStream("copy-a", "secret-orders")))),
    ).toBe("AccessDeniedException");
    expect(messages.at(-1)).toContain("kinesis:GetRecords on resource: stream/secret-orders");
    expect(
      await outcome(copier.send(new CreateDeliveryStreamCommand(fromStream("other-a", "open-orders")))),
    ).toBe("AccessDeniedException");
    expect(messages.at(-1)).toContain("firehose:CreateDeliveryStream on resource: deliverystream/other-a");

    // Every record of logs-a arrives once (the writer's probe batch too, if node 1 had the key by then).
    const expected = BATCHES * BATCH_RECORDS;
    await waitFor(
      async () => tally(await readDirectoryObjects(join(directory, "logs-a"))).distinct >= expected,
      { timeoutMs: 60_000, intervalMs: 250, what: `${expected} records delivered into files` },
    );
    const { distinct, duplicates } = tally(await readDirectoryObjects(join(directory, "logs-a")));
    expect(duplicates).toBe(0);
    expect(distinct).toBeGreaterThanOrEqual(expected);
    expect(distinct).toBeLessThanOrEqual(expected + BATCH_RECORDS);
    expect(await readDirectoryObjects(join(directory, "metrics-a"))).toEqual([]);
  }, 120_000);
});
