// Proves encryption at rest on a real three-node cluster (nodes 1 and 2 with a key file, node 3
// without): after StartStreamEncryption (gRPC, and the AWS SDK over HTTP) records read back
// intact through GetRecords and SubscribeToShard with EncryptionType KMS, DescribeStreamSummary
// reports KMS and the KeyId, and no node's data directory (segments, LevelDB) holds the plaintext;
// records written before the start and after StopStreamEncryption are plaintext and still read
// back, as do the encrypted ones; a node restarted with SIGKILL still decrypts; an unknown KeyId
// is KMSNotFoundException and changes nothing; the node without the key file refuses reads and
// writes of the encrypted stream with KMSAccessDeniedException and keeps serving.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
} from "@aws-sdk/client-kinesis";
import { StreamsCallError, startCluster, type TestCluster, uniqueStreamName, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20700-20711.
const BASE_PORT = 20_700;
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const SHARD_ID = "shardId-000000000000";
/** Unique per run, so a grep can only find what this run wrote. */
const RUN = randomBytes(6).toString("hex");
const PLAIN_BEFORE = `plain-before-${RUN}`;
const SECRET = `top-secret-marker-${RUN}`;
const PLAIN_AFTER = `plain-after-${RUN}`;

let cluster: TestCluster;
let keyDir: string;
const clients: KinesisClient[] = [];

beforeAll(async () => {
  keyDir = mkdtempSync(join(tmpdir(), "sluice-kms-"));
  const keyFile = join(keyDir, "kms-keys");
  writeFileSync(
    keyFile,
    `# test master keys\nalpha: ${randomBytes(32).toString("hex")}\nbeta: ${randomBytes(32).toString("hex")}\n`,
  );
  cluster = await startCluster({
    basePort: BASE_PORT,
    nodeExtraArgs: (nodeId) => (nodeId === 3 ? [] : ["--kms-key-file", keyFile]),
  });
}, 60_000);
afterAll(async () => {
  for (const client of clients) client.destroy();
  await cluster?.stop();
  if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
}, 60_000);

function kinesis(nodeId: number): KinesisClient {
  const client = new KinesisClient({
    endpoint: `http://127.0.0.1:${cluster.ports(nodeId).http}`,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

/** StartStreamEncryption over gRPC (the harness client has no wrapper for it). */
function startEncryptionGrpc(
  nodeId: number,
  request: Partial<streams.StartStreamEncryptionRequest>,
): Promise<void> {
  const raw = cluster.streams(nodeId).raw;
  return new Promise((resolve, reject) => {
    raw.startStreamEncryption(
      streams.StartStreamEncryptionRequest.fromPartial(request),
      { deadline: Date.now() + 10_000 } as never,
      (error) => (error === null ? resolve() : reject(error)),
    );
  });
}

/** Every record of the stream's shard, read from node `nodeId` over gRPC, from TRIM_HORIZON to the tip. */
async function readAll(nodeId: number, streamName: string): Promise<streams.Record[]> {
  const client = cluster.streams(nodeId);
  let iterator = (
    await client.getShardIterator({
      streamName,
      shardId: SHARD_ID,
      shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    })
  ).shardIterator;
  const records: streams.Record[] = [];
  for (;;) {
    const page = await client.getRecords({ shardIterator: iterator });
    records.push(...page.records);
    if (page.records.length === 0 && page.millisBehindLatest === 0) return records;
    iterator = page.nextShardIterator;
  }
}

/** What a read should show: data as text and its EncryptionType. */
function shape(
  records: readonly { data?: Uint8Array | undefined; encryptionType?: string | undefined }[],
): string[] {
  return records.map((r) => `${Buffer.from(r.data ?? []).toString()}|${r.encryptionType}`);
}

/** Whether `marker` occurs in any file under node `nodeId`'s data directory (grep -r, binary as text). */
function onDisk(nodeId: number, marker: string): boolean {
  const result = spawnSync("grep", ["-r", "-a", "-l", "-F", marker, cluster.nodeDataDir(nodeId)]);
  if (result.status === 0) return true;
  if (result.status === 1) return false;
  throw new Error(`grep failed: ${result.stderr.toString()}`);
}

async function summaryEncryption(nodeId: number, streamName: string): Promise<string> {
  const summary = (await cluster.streams(nodeId).describeStreamSummary({ streamName }))
    .streamDescriptionSummary;
  return `${summary?.encryptionType}|${summary?.keyId}`;
}

async function callError(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StreamsCallError) return { name: error.errorName, message: error.details };
    const e = error as { name: string; message: string; metadata?: { get(key: string): unknown[] } };
    const grpcName = e.metadata?.get("sluice-error-name")[0];
    return { name: grpcName === undefined ? e.name : String(grpcName), message: e.message };
  }
  throw new Error("expected the call to fail");
}

describe("encryption at rest on a three-node cluster", () => {
  const streamName = uniqueStreamName("enc");
  const secrets = Array.from({ length: 10 }, (_, i) => `${SECRET}-${i}`);
  const expected: string[] = [];

  it("encrypts new records: read back intact (GetRecords, SDK, SubscribeToShard), KMS reported", async () => {
    const summary = await cluster
      .streams(1)
      .createActiveStream({ streamName, shardCount: 1, streamModeDetails: ON_DEMAND });
    await cluster.streams(1).putRecord({ streamName, partitionKey: "k", data: Buffer.from(PLAIN_BEFORE) });
    expected.push(`${PLAIN_BEFORE}|NONE`);

    await startEncryptionGrpc(1, { streamName, encryptionType: "KMS", keyId: "alias/aws/kinesis" });
    for (const nodeId of [1, 2, 3]) {
      await waitFor(async () => (await summaryEncryption(nodeId, streamName)) === "KMS|alias/aws/kinesis", {
        timeoutMs: 10_000,
        what: `node ${nodeId} to report the stream encrypted`,
      });
    }
    const put = await cluster.streams(1).putRecords({
      streamName,
      records: secrets
        .slice(0, 9)
        .map((text, i) => ({ partitionKey: `k${i}`, data: Buffer.from(text), explicitHashKey: "" })),
    });
    expect(put.failedRecordCount).toBe(0);
    expect(put.encryptionType).toBe("KMS");
    const sdkPut = await kinesis(2).send(
      new PutRecordCommand({
        StreamName: streamName,
        PartitionKey: "k9",
        Data: Buffer.from(secrets[9] as string),
      }),
    );
    expect(sdkPut.EncryptionType).toBe("KMS");
    expected.push(...secrets.map((text) => `${text}|KMS`));

    for (const nodeId of [1, 2]) {
      await waitFor(async () => (await readAll(nodeId, streamName)).length === expected.length, {
        timeoutMs: 10_000,
        what: `node ${nodeId} to serve every record`,
      });
      expect(shape(await readAll(nodeId, streamName))).toEqual(expected);
    }

    // The AWS SDK over HTTP: the same records and EncryptionType, and the summary's KMS.
    const sdk = kinesis(2);
    const { ShardIterator } = await sdk.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: SHARD_ID,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    const page = await sdk.send(new GetRecordsCommand({ ShardIterator, Limit: 100 }));
    expect(
      shape((page.Records ?? []).map((r) => ({ data: r.Data, encryptionType: r.EncryptionType }))),
    ).toEqual(expected);
    const described = await sdk.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    expect(described.StreamDescriptionSummary?.EncryptionType).toBe("KMS");
    expect(described.StreamDescriptionSummary?.KeyId).toBe("alias/aws/kinesis");

    // SubscribeToShard from TRIM_HORIZON on node 2.
    const { consumer } = await cluster
      .streams(2)
      .registerStreamConsumer({ streamArn: summary.streamArn, consumerName: "reader" });
    const consumerArn = consumer?.consumerArn ?? "";
    await waitFor(
      async () =>
        (await cluster.streams(2).describeStreamConsumer({ consumerArn })).consumerDescription
          ?.consumerStatus === streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
      { timeoutMs: 10_000, what: "the consumer to be ACTIVE" },
    );
    const received: streams.Record[] = [];
    const call = cluster.streams(2).subscribeToShard({
      consumerArn,
      shardId: SHARD_ID,
      startingPosition: streams.StartingPosition.fromPartial({
        type: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
      }),
    });
    let failure: Error | undefined;
    call.on("data", (response: streams.SubscribeToShardResponse) => {
      received.push(...(response.subscribeToShardEvent?.records ?? []));
    });
    call.on("error", (error: Error) => {
      failure = error;
    });
    try {
      await waitFor(
        () => {
          if (failure !== undefined && received.length < expected.length) throw failure;
          return received.length >= expected.length;
        },
        { timeoutMs: 10_000, what: "every record on the subscription" },
      );
    } finally {
      call.cancel();
    }
    expect(shape(received)).toEqual(expected);
  }, 60_000);

  it("refuses an unknown KeyId (KMSNotFoundException) and EncryptionType NONE, changing nothing", async () => {
    const other = uniqueStreamName("enc-bad");
    await cluster
      .streams(1)
      .createActiveStream({ streamName: other, shardCount: 1, streamModeDetails: ON_DEMAND });
    const sdk = kinesis(1);
    const unknown = await callError(
      sdk.send(
        new StartStreamEncryptionCommand({ StreamName: other, EncryptionType: "KMS", KeyId: "no-such-key" }),
      ),
    );
    expect(unknown.name).toBe("KMSNotFoundException");
    const none = await callError(
      sdk.send(
        new StartStreamEncryptionCommand({ StreamName: other, EncryptionType: "NONE", KeyId: "alpha" }),
      ),
    );
    expect(none.name).toBe("InvalidArgumentException");
    const grpcUnknown = await callError(
      startEncryptionGrpc(2, { streamName: other, encryptionType: "KMS", keyId: "zeta" }),
    );
    expect(grpcUnknown.name).toBe("KMSNotFoundException");
    // Node 3 has no key file: it cannot make a data key.
    const noKeys = await callError(
      startEncryptionGrpc(3, { streamName: other, encryptionType: "KMS", keyId: "alpha" }),
    );
    expect(noKeys.name).toBe("KMSAccessDeniedException");
    expect(await summaryEncryption(1, other)).toBe("NONE|");
  }, 30_000);

  it("a node without the key file refuses the encrypted stream's reads and writes, and keeps serving", async () => {
    const read = await callError(readAll(3, streamName));
    expect(read.name).toBe("KMSAccessDeniedException");
    expect(read.message).toMatch(/kms-key-file/);
    const write = await callError(
      cluster.streams(3).putRecord({ streamName, partitionKey: "k", data: Buffer.from("x") }),
    );
    expect(write.name).toBe("KMSAccessDeniedException");
    expect(await summaryEncryption(3, streamName)).toBe("KMS|alias/aws/kinesis");
  }, 30_000);

  it("StopStreamEncryption: new records plaintext, old ones still decrypt; no plaintext secret on any disk", async () => {
    await kinesis(2).send(
      new StopStreamEncryptionCommand({
        StreamName: streamName,
        EncryptionType: "KMS",
        KeyId: "alias/aws/kinesis",
      }),
    );
    for (const nodeId of [1, 2, 3]) {
      await waitFor(async () => (await summaryEncryption(nodeId, streamName)) === "NONE|", {
        timeoutMs: 10_000,
        what: `node ${nodeId} to report the stream unencrypted`,
      });
    }
    const put = await cluster
      .streams(3)
      .putRecord({ streamName, partitionKey: "k", data: Buffer.from(PLAIN_AFTER) });
    expect(put.encryptionType).toBe("NONE");
    expected.push(`${PLAIN_AFTER}|NONE`);
    await waitFor(async () => (await readAll(1, streamName)).length === expected.length, {
      timeoutMs: 10_000,
      what: "node 1 to serve the record written after the stop",
    });
    expect(shape(await readAll(1, streamName))).toEqual(expected);

    // The plaintext written last is on every replica's disk, so everything before it is too: the
    // grep can see records, and finds none of the encrypted ones.
    for (const nodeId of [1, 2, 3]) {
      await waitFor(() => onDisk(nodeId, PLAIN_AFTER), { timeoutMs: 10_000, what: `node ${nodeId}'s disk` });
      expect(onDisk(nodeId, PLAIN_BEFORE)).toBe(true);
      expect(onDisk(nodeId, SECRET)).toBe(false);
    }
  }, 60_000);

  it("a node restarted after SIGKILL still decrypts (data key from the metadata, master key from the file)", async () => {
    await cluster.kill(1, "SIGKILL");
    await cluster.restart(1);
    await waitFor(
      async () => {
        try {
          return (await readAll(1, streamName)).length === expected.length;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, what: "node 1 to serve every record after its restart" },
    );
    expect(shape(await readAll(1, streamName))).toEqual(expected);
  }, 60_000);
});
