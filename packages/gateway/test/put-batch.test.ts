// Proves the write path's batch helpers and the forward request encoder — encoding a shard's share of a request once (encodeRecordBatchOf), reading per-record sizes and cutting a throttled prefix from the encoded batch — agree with the broker's reference codec, and that the forwarder told not to use streams sends every batch a node gets in one turn as one unary ForwardPutRecords call over real gRPC, each caller getting its own result (forward-stream.test.ts covers the stream).
import * as grpc from "@grpc/grpc-js";
import {
  CorruptBatchError,
  decodeRecordBatch,
  encodeRecordBatch,
  encodeRecordBatchOf,
  recordBatchPayloadBytes,
  recordBatchPrefix,
} from "@sluice/broker";
import { forward } from "@sluice/proto";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { GrpcPeerForwarder, PeerUnavailableError } from "../src/index.js";
import { encodeForwardPutRecordsRequest } from "../src/server/forward-codec.js";

const record = fc.record({
  partitionKey: fc.string({ minLength: 1, maxLength: 20 }),
  data: fc.uint8Array({ maxLength: 100 }).map((array) => Buffer.from(array)),
  explicitHashKey: fc.oneof(fc.constant(""), fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String)),
});

describe("record batch helpers", () => {
  it("encodeRecordBatchOf equals encodeRecordBatch of the selected records; sizes and prefixes match them", () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        (records, picks, cut) => {
          const positions = Int32Array.from(picks, (pick) => pick % records.length);
          const selected = Array.from(positions, (at) => {
            const { partitionKey, data, explicitHashKey } = records[at] as (typeof records)[number];
            return explicitHashKey === "" ? { partitionKey, data } : { partitionKey, data, explicitHashKey };
          });
          const batch = encodeRecordBatchOf(records, positions, 0);
          expect(batch.equals(encodeRecordBatch(selected, 0))).toBe(true);
          expect(Array.from(recordBatchPayloadBytes(batch))).toEqual(
            selected.map((r) => r.data.length + Buffer.byteLength(r.partitionKey)),
          );
          const count = 1 + (cut % selected.length);
          const before = Buffer.from(batch);
          const prefix = recordBatchPrefix(batch, count);
          expect(batch.equals(before)).toBe(true);
          expect(prefix.equals(encodeRecordBatch(selected.slice(0, count), 0))).toBe(true);
          expect(decodeRecordBatch(prefix).records).toHaveLength(count);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("refuses a prefix outside 1 … count and a damaged batch", () => {
    const batch = encodeRecordBatch(
      [
        { partitionKey: "a", data: Buffer.alloc(10) },
        { partitionKey: "b", data: Buffer.alloc(3) },
      ],
      0,
    );
    expect(() => recordBatchPrefix(batch, 0)).toThrow(RangeError);
    expect(() => recordBatchPrefix(batch, 3)).toThrow(RangeError);
    expect(recordBatchPrefix(batch, 2)).toBe(batch);
    expect(() => recordBatchPayloadBytes(batch.subarray(0, batch.length - 1))).toThrow(CorruptBatchError);
    expect(() => recordBatchPrefix(Buffer.concat([batch, Buffer.alloc(1)]), 1)).toThrow(CorruptBatchError);
  });
});

describe("encodeForwardPutRecordsRequest", () => {
  it("writes what the generated decoder reads back as the same request", () => {
    const uint32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff }));
    fc.assert(
      fc.property(
        fc.record({
          deadlineUnixMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
          batches: fc.array(
            fc.record({
              streamId: uint32,
              groupId: uint32,
              records: fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array)),
            }),
            { maxLength: 20 },
          ),
        }),
        (request) => {
          const decoded = forward.ForwardPutRecordsRequest.decode(encodeForwardPutRecordsRequest(request));
          expect(decoded.deadlineUnixMs).toBe(request.deadlineUnixMs);
          expect(decoded.batches.map((b) => [b.streamId, b.groupId, b.records.toString("hex")])).toEqual(
            request.batches.map((b) => [b.streamId, b.groupId, b.records.toString("hex")]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("GrpcPeerForwarder", () => {
  const servers: grpc.Server[] = [];
  const forwarders: GrpcPeerForwarder[] = [];
  afterEach(async () => {
    for (const forwarder of forwarders.splice(0)) forwarder.close();
    await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.tryShutdown(done))));
  });

  it("without streams, sends the batches of one turn to a node as one unary call and hands each caller its own result", async () => {
    const calls: forward.ForwardPutRecordsRequest[] = [];
    const server = new grpc.Server();
    servers.push(server);
    server.addService(forward.ForwardServiceService, {
      forwardPutRecords: (
        call: grpc.ServerUnaryCall<forward.ForwardPutRecordsRequest, forward.ForwardPutRecordsResponse>,
        callback: grpc.sendUnaryData<forward.ForwardPutRecordsResponse>,
      ) => {
        calls.push(call.request);
        callback(null, {
          results: call.request.batches.map((batch) => ({
            acceptedCount: batch.records.length,
            index: batch.groupId * 10,
            errorCode: batch.groupId === 3 ? "NOT_LEADER" : "",
            errorMessage: "",
            leaderHint: batch.groupId === 3 ? 2 : 0,
            firstOffset: 0,
          })),
        });
      },
      forwardMetadataCommand: (
        _call: grpc.ServerUnaryCall<
          forward.ForwardMetadataCommandRequest,
          forward.ForwardMetadataCommandResponse
        >,
        callback: grpc.sendUnaryData<forward.ForwardMetadataCommandResponse>,
      ) => callback({ code: grpc.status.UNIMPLEMENTED }),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync("127.0.0.1:19951", grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const forwarder = new GrpcPeerForwarder({
      addresses: new Map([
        [2, "127.0.0.1:19951"],
        [3, "127.0.0.1:19952"],
      ]),
      useStreams: false,
    });
    forwarders.push(forwarder);
    const deadline = Date.now() + 5_000;
    const replies = await Promise.all([
      forwarder.putRecords(2, 7, 1, Buffer.alloc(5), deadline),
      forwarder.putRecords(2, 7, 2, Buffer.alloc(6), deadline),
      forwarder.putRecords(2, 8, 3, Buffer.alloc(7), deadline),
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.batches.map((batch) => [batch.streamId, batch.groupId])).toEqual([
      [7, 1],
      [7, 2],
      [8, 3],
    ]);
    expect(replies.map((reply) => [reply.accepted, reply.index, reply.errorCode, reply.leaderHint])).toEqual([
      [5, 10, "", 0],
      [6, 20, "", 0],
      [7, 30, "NOT_LEADER", 2],
    ]);

    // Nothing listens on node 3's port: every batch of that call is refused, retriably.
    const refused = await Promise.allSettled([
      forwarder.putRecords(3, 7, 1, Buffer.alloc(5), Date.now() + 2_000),
      forwarder.putRecords(3, 7, 2, Buffer.alloc(5), Date.now() + 2_000),
    ]);
    for (const outcome of refused) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(PeerUnavailableError);
    }
    await expect(forwarder.putRecords(9, 7, 1, Buffer.alloc(5), deadline)).rejects.toBeInstanceOf(
      PeerUnavailableError,
    );
  });
});
