// Proves the node:http2 peer server speaks gRPC to grpc-js clients: unary services answer (values
// and error statuses, unknown methods UNIMPLEMENTED), messages split across DATA chunks or packed
// several to a chunk arrive whole and in order, and oversized or compressed messages are refused.
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { forward } from "@sluice/proto";
import { afterEach, describe, expect, it } from "vitest";
import { PeerHttp2Server } from "../src/transport/peer-server.js";
import { waitFor } from "./transport-fixtures.js";

const open: { close(): void | Promise<void> }[] = [];

afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function server(port: number, options = {}): Promise<PeerHttp2Server> {
  const s = new PeerHttp2Server(options);
  open.push(s);
  await s.listen(`127.0.0.1:${port}`);
  return s;
}

function forwardClient(port: number): forward.ForwardServiceClient {
  const client = new forward.ForwardServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  open.push(client);
  return client;
}

/** A raw gRPC request (prefix + body per message) on its own HTTP/2 session; resolves with the
 * messages the server answered (bodies) and the grpc-status it ended with. */
function rawCall(
  port: number,
  path: string,
  writes: readonly Buffer[],
): Promise<{ messages: Buffer[]; status: number; details: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const received: Buffer[] = [];
    let status = -1;
    let details = "";
    const takeStatus = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) {
        status = Number(headers["grpc-status"]);
        details = decodeURIComponent(String(headers["grpc-message"] ?? ""));
      }
    };
    stream.on("response", takeStatus);
    stream.on("trailers", takeStatus);
    stream.on("data", (chunk: Buffer) => received.push(chunk));
    stream.on("close", () => {
      session.close();
      const all = Buffer.concat(received);
      const messages: Buffer[] = [];
      for (let at = 0; at + 5 <= all.length; ) {
        const length = all.readUInt32BE(at + 1);
        messages.push(all.subarray(at + 5, at + 5 + length));
        at += 5 + length;
      }
      resolve({ messages, status, details });
    });
    for (const write of writes) stream.write(write);
    stream.end();
  });
}

function grpcMessage(body: Buffer, flags = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

describe("PeerHttp2Server", () => {
  it("serves a unary service to grpc-js clients: values, error statuses, unknown methods", async () => {
    const s = await server(19241);
    s.addUnaryService(forward.ForwardServiceService, {
      forwardPutRecords: (
        call: { request: forward.ForwardPutRecordsRequest },
        callback: grpc.sendUnaryData<forward.ForwardPutRecordsResponse>,
      ) => {
        const bytes = call.request.batches[0]?.records.length ?? 0;
        callback(null, {
          results: [{ acceptedCount: bytes, index: 7, errorCode: "", errorMessage: "", leaderHint: 0 }],
        });
      },
      forwardMetadataCommand: (
        _call: { request: forward.ForwardMetadataCommandRequest },
        callback: grpc.sendUnaryData<forward.ForwardMetadataCommandResponse>,
      ) => callback({ code: grpc.status.FAILED_PRECONDITION, details: "not the leader: ask node 3" }),
    });
    const client = forwardClient(19241);
    const request = forward.ForwardPutRecordsRequest.fromPartial({
      batches: [{ groupId: 5, records: Buffer.alloc(200_000, 1) }],
    });
    const answer = await new Promise<forward.ForwardPutRecordsResponse>((resolve, reject) =>
      client.forwardPutRecords(request, (error, value) => (error ? reject(error) : resolve(value))),
    );
    expect(answer.results[0]?.acceptedCount).toBe(200_000);
    expect(answer.results[0]?.index).toBe(7);
    const refused = await new Promise<grpc.ServiceError>((resolve) =>
      client.forwardMetadataCommand({ command: Buffer.from("x"), deadlineUnixMs: 0 }, (error) =>
        resolve(error as grpc.ServiceError),
      ),
    );
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.details).toBe("not the leader: ask node 3");
    const unknown = await rawCall(19241, "/sluice.peer.v1.Nothing/Here", [grpcMessage(Buffer.alloc(3))]);
    expect(unknown.status).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("delivers messages whole and in order however the bytes are split into chunks", async () => {
    const s = await server(19242);
    const got: Buffer[] = [];
    s.handleStream("/test.Echo/Stream", (call) => {
      call.onMessage((message) => got.push(Buffer.from(message)));
      call.onEnd(() => {
        call.write(Buffer.from(`${got.length}`));
        call.finish({ code: grpc.status.OK, details: "" });
      });
    });
    const bodies = [
      Buffer.alloc(0),
      Buffer.from("small"),
      Buffer.alloc(100_000, 7), // spans many DATA chunks
      Buffer.alloc(3, 9),
      Buffer.alloc(40_000, 5),
    ];
    const wire = Buffer.concat(bodies.map((body) => grpcMessage(body)));
    // Writes cut at awkward places: inside a prefix, right after one, inside a body.
    const cuts = [2, 5, 11, 13, 20_000, 100_016, 100_020, wire.length];
    const writes: Buffer[] = [];
    let from = 0;
    for (const cut of cuts) {
      writes.push(wire.subarray(from, cut));
      from = cut;
    }
    const result = await rawCall(19242, "/test.Echo/Stream", writes);
    expect(result.status).toBe(grpc.status.OK);
    expect(result.messages.map(String)).toEqual([String(bodies.length)]);
    expect(got).toEqual(bodies);
  });

  it("refuses oversized and compressed messages with a status, and keeps serving", async () => {
    const s = await server(19243, { maxMessageBytes: 1000 });
    let delivered = 0;
    s.handleStream("/test.Echo/Stream", (call) => {
      call.onMessage(() => {
        delivered += 1;
      });
      call.onEnd(() => call.finish({ code: grpc.status.OK, details: "" }));
    });
    const big = await rawCall(19243, "/test.Echo/Stream", [grpcMessage(Buffer.alloc(1001))]);
    expect(big.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.details).toContain("1001 bytes");
    const compressed = await rawCall(19243, "/test.Echo/Stream", [grpcMessage(Buffer.alloc(4), 1)]);
    expect(compressed.status).toBe(grpc.status.UNIMPLEMENTED);
    expect(delivered).toBe(0);
    const fine = await rawCall(19243, "/test.Echo/Stream", [grpcMessage(Buffer.alloc(1000))]);
    expect(fine.status).toBe(grpc.status.OK);
    await waitFor(() => delivered === 1, 2000, "the message within the limit");
  });
});
