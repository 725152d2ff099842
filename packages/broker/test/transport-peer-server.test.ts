// Proves the node:http2 peer server speaks gRPC to grpc-js clients: unary services answer (values
// and error statuses, unknown methods UNIMPLEMENTED), messages split across DATA chunks or packed
// several to a chunk arrive whole and in order, oversized or compressed messages are refused, and
// one server carries a transport's Raft streams and a unary service together, as a node's does.
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { MessageType } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import { GrpcPeerTransport } from "../src/transport/grpc-transport.js";
import { PeerHttp2Server, type PeerUnaryCall } from "../src/transport/peer-server.js";
import { PeerState } from "../src/transport/transport.js";
import { entry, groupMessage, message, waitFor } from "./transport-fixtures.js";

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

const identity = (value: Buffer): Buffer => value;

/** A unary service of raw bytes, declared as grpc-js service definitions are. */
const echoService = {
  echo: {
    path: "/test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  refuse: {
    path: "/test.Echo/Refuse",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

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
  it("serves a unary service to grpc-js clients: values, error statuses, deadlines, unknown methods", async () => {
    const s = await server(19241);
    const deadlines: (Date | number)[] = [];
    s.addUnaryService(echoService, {
      echo: (call: PeerUnaryCall, callback: grpc.sendUnaryData<Buffer>) => {
        deadlines.push(call.getDeadline());
        expect(call.cancelled).toBe(false);
        expect(call.getPeer()).toMatch(/^127\.0\.0\.1:\d+$/);
        callback(null, Buffer.concat([Buffer.from("echo:"), call.request as Buffer]));
      },
      refuse: (_call: PeerUnaryCall, callback: grpc.sendUnaryData<Buffer>) =>
        callback({ code: grpc.status.FAILED_PRECONDITION, details: "not the leader: ask node 3 (100%)" }),
    });
    const client = new grpc.Client("127.0.0.1:19241", grpc.credentials.createInsecure());
    open.push(client);
    const call = (method: "echo" | "refuse", request: Buffer, deadline?: number) =>
      new Promise<{ error: grpc.ServiceError | null; value: Buffer | undefined }>((resolve) => {
        client.makeUnaryRequest(
          echoService[method].path,
          identity,
          identity,
          request,
          new grpc.Metadata(),
          deadline === undefined ? {} : { deadline },
          (error, value) => resolve({ error, value }),
        );
      });
    const big = Buffer.alloc(200_000, 1); // spans many DATA chunks
    const sentAtMs = Date.now();
    const echoed = await call("echo", big, sentAtMs + 60_000);
    expect(echoed.error).toBeNull();
    expect(echoed.value).toEqual(Buffer.concat([Buffer.from("echo:"), big]));
    // The client's deadline reaches the handler (as grpc-timeout, which the client rounds).
    expect(deadlines[0]).toBeInstanceOf(Date);
    expect(Math.abs((deadlines[0] as Date).getTime() - (sentAtMs + 60_000))).toBeLessThan(30_000);
    expect((await call("echo", Buffer.alloc(0))).value?.toString()).toBe("echo:");
    expect(deadlines[1]).toBe(Number.POSITIVE_INFINITY);
    const refused = await call("refuse", Buffer.from("x"));
    expect(refused.error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.error?.details).toBe("not the leader: ask node 3 (100%)");
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

  it("carries a transport's Raft streams and a unary service on one port, and outlives the transport", async () => {
    const shared = await server(19245);
    shared.addUnaryService(echoService, {
      echo: (call: PeerUnaryCall, callback: grpc.sendUnaryData<Buffer>) =>
        callback(null, call.request as Buffer),
      refuse: (_call: PeerUnaryCall, callback: grpc.sendUnaryData<Buffer>) =>
        callback({ code: grpc.status.ABORTED }),
    });
    const peers = new Map([
      [1, "127.0.0.1:19245"],
      [2, "127.0.0.1:19246"],
    ]);
    const quiet = { info() {}, warn() {} };
    const a = new GrpcPeerTransport({ nodeId: 1, clusterId: "c", server: shared, peers, logger: quiet });
    const b = new GrpcPeerTransport({
      nodeId: 2,
      clusterId: "c",
      listenAddress: "127.0.0.1:19246",
      peers,
      logger: quiet,
    });
    open.push(b);
    const got: number[] = [];
    a.onReceive((_from, messages) => got.push(...messages.map((m) => m.message.index)));
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => b.peerStates().get(1) === PeerState.Up, 5000, "b's stream to the shared port up");
    const data = new Uint8Array(70_000).fill(3);
    const app = message({
      type: MessageType.App,
      from: 2,
      to: 1,
      term: 1,
      index: 9,
      entries: [entry(10, 1, data)],
    });
    expect(b.send(1, [groupMessage(7, app)])).toBe(true);
    await waitFor(() => got.includes(9), 5000, "a 70 KB entry delivered through the shared port");
    await a.close();
    // The transport took its stream handler away; the server and its unary service stay.
    const client = new grpc.Client("127.0.0.1:19245", grpc.credentials.createInsecure());
    open.push(client);
    const echoed = await new Promise<Buffer | undefined>((resolve, reject) =>
      client.makeUnaryRequest(
        echoService.echo.path,
        identity,
        identity,
        Buffer.from("still here"),
        (error, value) => (error ? reject(error) : resolve(value)),
      ),
    );
    expect(echoed?.toString()).toBe("still here");
  });
});
