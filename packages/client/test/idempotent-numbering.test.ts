// Proves the idempotent Producer never sends a record whose earlier attempt may have been written
// under new numbers: against a real gRPC server on loopback that answers from a script, a record
// that met InternalFailure (outcome unknown) while another record of the same batch was given up
// (which draws a new producer id) is retried with its first producer id, shard and sequence; and a
// record refused with StaleShardMapException is numbered again for the shard that now holds it.
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordFailedError, SluiceClient } from "../src/index.js";

// This file uses port 21090.
const PORT = 21_090;
const HALF = 1n << 127n;
const LOW = "shardId-000000000000";
const HIGH = "shardId-000000000001";

type PutAnswer = (request: streams.PutRecordsRequest) => streams.PutRecordsResponse;

/** What the server answers: the shard list, and each PutRecords in turn (the last one repeats). */
let shardList: streams.Shard[] = [];
let answers: PutAnswer[] = [];
const requests: streams.PutRecordsRequest[] = [];
let server: grpc.Server;
let client: SluiceClient;

function shard(shardId: string, start: bigint, end: bigint, closed = false): streams.Shard {
  return streams.Shard.fromPartial({
    shardId,
    hashKeyRange: { startingHashKey: start.toString(), endingHashKey: end.toString() },
    sequenceNumberRange: { startingSequenceNumber: "0", endingSequenceNumber: closed ? "9" : "" },
  });
}

/** A partition key whose MD5 falls in the low (or high) half of the hash key space. */
function keyIn(low: boolean, prefix: string): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}-${n}`;
    const hash = BigInt(`0x${createHash("md5").update(key).digest("hex")}`);
    if (hash < HALF === low) return key;
  }
}

function ok(sequenceNumber: string): PutAnswer {
  return (request) =>
    streams.PutRecordsResponse.fromPartial({
      records: request.records.map(() => ({ shardId: request.producerShardId, sequenceNumber })),
    });
}

function failing(errorCode: string): PutAnswer {
  return (request) =>
    streams.PutRecordsResponse.fromPartial({
      failedRecordCount: request.records.length,
      records: request.records.map(() => ({ errorCode, errorMessage: `scripted ${errorCode}` })),
    });
}

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(streams.StreamsServiceService, {
    listShards: (_call: unknown, callback: grpc.sendUnaryData<streams.ListShardsResponse>) =>
      callback(null, streams.ListShardsResponse.fromPartial({ shards: shardList })),
    putRecords: (
      call: grpc.ServerUnaryCall<streams.PutRecordsRequest, unknown>,
      callback: grpc.sendUnaryData<streams.PutRecordsResponse>,
    ) => {
      requests.push(call.request);
      const answer = (answers.length > 1 ? answers.shift() : answers[0]) as PutAnswer;
      callback(null, answer(call.request));
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${PORT}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  client = new SluiceClient({ endpoints: [`127.0.0.1:${PORT}`], deadlineMs: 10_000 });
});
afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

describe("Producer, idempotent numbering", () => {
  it("retries a record of unknown outcome under its first numbers after another record was given up", async () => {
    requests.length = 0;
    shardList = [shard(LOW, 0n, HALF - 1n), shard(HIGH, HALF, (1n << 128n) - 1n)];
    const lowKey = keyIn(true, "low");
    const highKey = keyIn(false, "high");
    // Round 1: one request per shard, answered in arrival order; round 2: the low record again.
    const byShard: Record<string, PutAnswer[]> = {
      [LOW]: [failing("InternalFailure"), ok("1000")],
      [HIGH]: [failing("OutOfOrderSequenceException")],
    };
    answers = [
      (request) => (byShard[request.producerShardId]?.shift() ?? failing("InternalFailure"))(request),
    ];
    const producer = client.producer({ streamName: "s", idempotent: true, lingerMs: 50 });
    const low = producer.send({ partitionKey: lowKey, data: "low" });
    const high = producer.send({ partitionKey: highKey, data: "high" });
    await expect(high).rejects.toBeInstanceOf(RecordFailedError);
    await expect(low).resolves.toEqual({ shardId: LOW, sequenceNumber: "1000" });
    await producer.close();

    const lowAttempts = requests.filter((request) => request.producerShardId === LOW);
    expect(lowAttempts).toHaveLength(2);
    const [firstTry, retry] = lowAttempts as [streams.PutRecordsRequest, streams.PutRecordsRequest];
    // The given-up record drew a new producer id, yet the retry keeps the first one and its sequence.
    expect(Buffer.from(retry.producerId).toString("hex")).toBe(
      Buffer.from(firstTry.producerId).toString("hex"),
    );
    expect(retry.producerSequence).toBe(firstTry.producerSequence);
    expect(producer.producerId).not.toBe(Buffer.from(firstTry.producerId).toString("hex"));
  });

  it("numbers a record again for its child shard after StaleShardMapException", async () => {
    requests.length = 0;
    const lowKey = keyIn(true, "child");
    shardList = [shard(LOW, 0n, HALF - 1n), shard(HIGH, HALF, (1n << 128n) - 1n)];
    const child = "shardId-000000000002";
    answers = [
      (request) => {
        // The reshard lands with the first answer: the low shard is closed, its child takes it.
        shardList = [
          shard(LOW, 0n, HALF - 1n, true),
          shard(HIGH, HALF, (1n << 128n) - 1n),
          shard(child, 0n, HALF - 1n),
        ];
        return failing("StaleShardMapException")(request);
      },
      ok("2000"),
    ];
    const producer = client.producer({ streamName: "s", idempotent: true, lingerMs: 0 });
    await expect(producer.send({ partitionKey: lowKey, data: "x" })).resolves.toEqual({
      shardId: child,
      sequenceNumber: "2000",
    });
    await producer.close();
    expect(requests.map((request) => [request.producerShardId, request.producerSequence])).toEqual([
      [LOW, 0],
      [child, 0],
    ]);
  });
});
