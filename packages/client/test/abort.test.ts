// Proves AbortSignal cancellation against a real gRPC server on loopback that never answers until
// told to: an aborted SluiceClient call, shard reader, stream reader or subscription rejects at
// once with AbortedError and its call is cancelled on the server; an aborted Producer send is
// rejected at once and, unless already sent, never sent (waiting for room, behind its key, or
// batched), a sent one is not retried; an aborted flush stops waiting while its records go on.
import * as grpc from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AbortedError, SluiceClient } from "../src/index.js";

// This file uses port 20050.
const PORT = 20_050;

/** A call the server holds: answered by `answer`, or cancelled by the client. */
interface HeldCall {
  readonly method: string;
  readonly request: unknown;
  cancelled: boolean;
  answer: (response: unknown) => void;
}

const held: HeldCall[] = [];
let server: grpc.Server;
let client: SluiceClient;

function hold(method: string) {
  return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const entry: HeldCall = {
      method,
      request: call.request,
      cancelled: false,
      answer: (response) => callback(null, response),
    };
    call.on("cancelled", () => {
      entry.cancelled = true;
    });
    held.push(entry);
  };
}

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(streams.StreamsServiceService, {
    putRecords: hold("putRecords"),
    describeStreamSummary: hold("describeStreamSummary"),
    listShards: hold("listShards"),
    getShardIterator: (
      _call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<streams.GetShardIteratorResponse>,
    ) => callback(null, { shardIterator: "iterator" }),
    getRecords: hold("getRecords"),
    subscribeToShard: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const entry: HeldCall = {
        method: "subscribeToShard",
        request: call.request,
        cancelled: false,
        answer: () => {},
      };
      call.on("cancelled", () => {
        entry.cancelled = true;
      });
      held.push(entry);
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${PORT}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  client = new SluiceClient({ endpoints: [`127.0.0.1:${PORT}`], deadlineMs: 60_000 });
});
afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

function heldCalls(method: string): HeldCall[] {
  return held.filter((call) => call.method === method);
}

/** The one held call of `method` not yet answered or cancelled, once it arrives. */
async function nextHeld(method: string, seen: number): Promise<HeldCall> {
  return vi.waitFor(
    () => {
      const call = heldCalls(method)[seen];
      if (call === undefined) throw new Error(`no ${method} call #${seen + 1} yet`);
      return call;
    },
    { timeout: 10_000, interval: 5 },
  );
}

async function cancelledOnServer(call: HeldCall): Promise<void> {
  await vi.waitFor(
    () => {
      if (!call.cancelled) throw new Error(`${call.method} still runs on the server`);
    },
    { timeout: 10_000, interval: 5 },
  );
}

function succeeded(request: unknown): streams.PutRecordsResponse {
  const records = (request as streams.PutRecordsRequest).records;
  return streams.PutRecordsResponse.fromPartial({
    records: records.map((_, index) => ({
      shardId: "shardId-000000000000",
      sequenceNumber: String(index + 1),
    })),
  });
}

describe("AbortSignal", () => {
  it("rejects an aborted client call with AbortedError and cancels it on the server", async () => {
    const before = heldCalls("describeStreamSummary").length;
    const controller = new AbortController();
    const pending = client.describeStreamSummary({ streamName: "s" }, { signal: controller.signal });
    const call = await nextHeld("describeStreamSummary", before);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await cancelledOnServer(call);
    // Already aborted: never sent.
    await expect(
      client.listShards({ streamName: "s" }, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(heldCalls("listShards")).toHaveLength(0);
  });

  it("ends an aborted shard reader, stream reader and subscription with AbortedError, their calls cancelled", async () => {
    const shardAbort = new AbortController();
    const records = heldCalls("getRecords").length;
    const reader = client.shardReader({
      streamName: "s",
      shardId: "shardId-000000000000",
      start: { type: "TRIM_HORIZON" },
      signal: shardAbort.signal,
    });
    const reading = (async () => {
      for await (const _ of reader) {
        // no records come
      }
    })();
    const getRecords = await nextHeld("getRecords", records);
    shardAbort.abort();
    await expect(reading).rejects.toBeInstanceOf(AbortedError);
    await cancelledOnServer(getRecords);

    const streamAbort = new AbortController();
    const lists = heldCalls("listShards").length;
    const streamReading = (async () => {
      for await (const _ of client.streamReader({
        streamName: "s",
        start: { type: "TRIM_HORIZON" },
        signal: streamAbort.signal,
      })) {
        // no records come
      }
    })();
    const listShards = await nextHeld("listShards", lists);
    streamAbort.abort();
    await expect(streamReading).rejects.toBeInstanceOf(AbortedError);
    await cancelledOnServer(listShards);

    const subscribeAbort = new AbortController();
    const subscriptions = heldCalls("subscribeToShard").length;
    const subscribing = (async () => {
      for await (const _ of client.subscribe({
        consumerArn: "arn:aws:kinesis:local:000000000000:stream/s/consumer/c:1",
        shardId: "shardId-000000000000",
        start: { type: "LATEST" },
        signal: subscribeAbort.signal,
      })) {
        // no events come
      }
    })();
    const subscribe = await nextHeld("subscribeToShard", subscriptions);
    subscribeAbort.abort();
    await expect(subscribing).rejects.toBeInstanceOf(AbortedError);
    await cancelledOnServer(subscribe);
  });

  it("drops an aborted Producer send that waits for room, behind its key, or in a batch; never sends it", async () => {
    const producer = client.producer({ streamName: "s", bufferBytes: 10, lingerMs: 0 });
    const puts = heldCalls("putRecords").length;
    const first = producer.send({ partitionKey: "k", data: "1234567" }); // 8 bytes with its key
    const request = await nextHeld("putRecords", puts);

    // Waiting for room (the buffer holds 10 bytes).
    const roomAbort = new AbortController();
    const waiting = producer.send({ partitionKey: "w", data: "1234567" }, { signal: roomAbort.signal });
    expect(producer.stats().waitingSends).toBe(1);
    roomAbort.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    expect(producer.stats().waitingSends).toBe(0);

    // Behind its key (the key's first record is in flight).
    const keyAbort = new AbortController();
    const queued = producer.send({ partitionKey: "k", data: "x" }, { signal: keyAbort.signal });
    expect(producer.stats().bufferedRecords).toBe(2);
    keyAbort.abort();
    await expect(queued).rejects.toBeInstanceOf(AbortedError);
    expect(producer.stats().bufferedRecords).toBe(1);

    request.answer(succeeded(request.request));
    await expect(first).resolves.toMatchObject({ sequenceNumber: "1" });
    await producer.flush();
    expect(heldCalls("putRecords")).toHaveLength(puts + 1);
    expect((request.request as streams.PutRecordsRequest).records).toHaveLength(1);

    // Batched, not sent (a long linger keeps it in the ready queue).
    const lingering = client.producer({ streamName: "s", lingerMs: 10_000 });
    const batchAbort = new AbortController();
    const ready = lingering.send({ partitionKey: "r", data: "r" }, { signal: batchAbort.signal });
    batchAbort.abort();
    await expect(ready).rejects.toBeInstanceOf(AbortedError);
    await lingering.flush();
    expect(lingering.stats()).toMatchObject({ bufferedRecords: 0, aborted: 1, requests: 0 });
    expect(heldCalls("putRecords")).toHaveLength(puts + 1);
    await lingering.close();
    await producer.close();
  });

  it("rejects an aborted sent record at once and does not retry it; an aborted flush stops waiting", async () => {
    const producer = client.producer({ streamName: "s", lingerMs: 0 });
    const puts = heldCalls("putRecords").length;
    const sendAbort = new AbortController();
    const sent = producer.send({ partitionKey: "s", data: "s" }, { signal: sendAbort.signal });
    const request = await nextHeld("putRecords", puts);
    const flushAbort = new AbortController();
    const flushing = producer.flush({ signal: flushAbort.signal });
    flushAbort.abort();
    await expect(flushing).rejects.toBeInstanceOf(AbortedError);
    sendAbort.abort();
    await expect(sent).rejects.toBeInstanceOf(AbortedError);
    // The request fails retriably; the aborted record is not sent again.
    request.answer(
      streams.PutRecordsResponse.fromPartial({
        failedRecordCount: 1,
        records: [{ errorCode: "InternalFailure", errorMessage: "try again" }],
      }),
    );
    await producer.flush();
    expect(heldCalls("putRecords")).toHaveLength(puts + 1);
    expect(producer.stats()).toMatchObject({ bufferedRecords: 0, aborted: 1, failed: 1, acknowledged: 0 });
    await producer.close();
  });
});
