// Proves that forwarding on a ForwardStream, against a real peer server (PeerHttp2Server serving the node's ForwardStream handler over a leader whose appends finish when the test says), matches answers to requests that finish out of order, rejects a request past its deadline and drops its late answer, rejects every outstanding request when the peer goes away and reconnects afterwards, refuses requests beyond its bound, falls back to unary ForwardPutRecords for a peer without ForwardStream, and says in each refusal whether the request may have reached the peer (`sent`); and that the stream's hand codecs agree with the generated ones.
import { PeerHttp2Server } from "@sluice/broker";
import { forward } from "@sluice/proto";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  createForwardService,
  createForwardStreamHandler,
  FORWARD_STREAM_PATH,
  GrpcPeerForwarder,
  PeerUnavailableError,
} from "../src/index.js";
import { ForwardStream } from "../src/server/forward-stream.js";
import {
  decodeForwardStreamRequest,
  decodeForwardStreamResponse,
  encodeForwardStreamRequest,
  encodeForwardStreamResponse,
  GRPC_PREFIX_BYTES,
  MalformedForwardMessageError,
} from "../src/server/forward-stream-codec.js";
import type { LeaderAppendReply } from "../src/server/leader-append.js";
import { waitUntil } from "./wait-until.js";

/** A shard leader whose appends to a held group wait until the test releases that group. */
class ScriptedLeader {
  readonly appended: { streamId: number; groupId: number; bytes: number }[] = [];
  private readonly gates = new Map<number, { promise: Promise<void>; open: () => void }>();

  hold(groupId: number): void {
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gates.set(groupId, { promise, open });
  }

  release(groupId: number): void {
    this.gates.get(groupId)?.open();
    this.gates.delete(groupId);
  }

  releaseAll(): void {
    for (const groupId of [...this.gates.keys()]) this.release(groupId);
  }

  readonly appendAsLeader = async (
    streamId: number,
    groupId: number,
    batch: Buffer,
  ): Promise<LeaderAppendReply> => {
    this.appended.push({ streamId, groupId, bytes: batch.length });
    const gate = this.gates.get(groupId);
    if (gate !== undefined) await gate.promise;
    return {
      accepted: batch.length,
      index: groupId * 10,
      firstOffset: 0,
      errorCode: "",
      errorMessage: "",
      leaderHint: 0,
    };
  };
}

interface Peer {
  readonly server: PeerHttp2Server;
  address: string;
  readonly leader: ScriptedLeader;
  /** ForwardStreams the server accepted. */
  streamsOpened: number;
}

const peers: Peer[] = [];
const forwarders: GrpcPeerForwarder[] = [];
const streams: ForwardStream[] = [];

afterEach(async () => {
  for (const forwarder of forwarders.splice(0)) forwarder.close();
  for (const stream of streams.splice(0)) stream.close();
  for (const peer of peers.splice(0)) {
    peer.leader.releaseAll();
    await peer.server.close();
  }
});

/** A peer port serving ForwardService (and ForwardStream unless `unaryOnly`: a node of the previous version). */
async function startPeer(port = 0, unaryOnly = false): Promise<Peer> {
  const server = new PeerHttp2Server();
  const leader = new ScriptedLeader();
  const targets = () => ({ put: leader });
  server.addUnaryService(forward.ForwardServiceService, createForwardService(targets));
  const peer: Peer = { server, address: "", leader, streamsOpened: 0 };
  if (!unaryOnly) {
    const handler = createForwardStreamHandler(targets);
    server.handleStream(FORWARD_STREAM_PATH, (call) => {
      peer.streamsOpened += 1;
      handler(call);
    });
  }
  peer.address = `127.0.0.1:${await server.listen(`127.0.0.1:${port}`)}`;
  peers.push(peer);
  return peer;
}

function forwarderTo(peer: Peer): GrpcPeerForwarder {
  const forwarder = new GrpcPeerForwarder({ addresses: new Map([[2, peer.address]]) });
  forwarders.push(forwarder);
  return forwarder;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("GrpcPeerForwarder on a ForwardStream", () => {
  it("matches each answer to its request when the leader finishes them out of order", async () => {
    const peer = await startPeer();
    const forwarder = forwarderTo(peer);
    const deadline = Date.now() + 10_000;
    peer.leader.hold(1);
    let firstSettled = false;
    const first = forwarder.putRecords(2, 7, 1, Buffer.alloc(5), deadline);
    void first.then(() => {
      firstSettled = true;
    });
    await nextTurn();
    // A later turn: a second request on the same stream, with two batches.
    const second = Promise.all([
      forwarder.putRecords(2, 7, 2, Buffer.alloc(6), deadline),
      forwarder.putRecords(2, 8, 3, Buffer.alloc(7), deadline),
    ]);
    const secondReplies = await second;
    expect(firstSettled).toBe(false);
    expect(secondReplies.map((reply) => [reply.accepted, reply.index])).toEqual([
      [6, 20],
      [7, 30],
    ]);
    peer.leader.release(1);
    const firstReply = await first;
    expect([firstReply.accepted, firstReply.index]).toEqual([5, 10]);
    expect(peer.leader.appended.map((append) => [append.streamId, append.groupId, append.bytes])).toEqual([
      [7, 1, 5],
      [7, 2, 6],
      [8, 3, 7],
    ]);
    expect(peer.streamsOpened).toBe(1);
  });

  it("rejects a request past its deadline, drops its late answer, and keeps a stream that answers others", async () => {
    const peer = await startPeer();
    const forwarder = forwarderTo(peer);
    peer.leader.hold(1);
    // Long enough for the next request's answer to come back first even on a loaded machine.
    const late = forwarder.putRecords(2, 7, 1, Buffer.alloc(5), Date.now() + 2_000);
    const lateOutcome = late.then(
      () => "resolved",
      (error: unknown) => error,
    );
    await nextTurn();
    // Answered before the deadline: the stream is alive, only that request is slow.
    await forwarder.putRecords(2, 7, 2, Buffer.alloc(5), Date.now() + 10_000);
    const error = await lateOutcome;
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect((error as Error).message).toMatch(/deadline/);
    // It reached the leader: its outcome is unknown.
    expect((error as PeerUnavailableError).sent).toBe(true);
    peer.leader.release(1);
    await waitUntil(() => peer.leader.appended.length === 2, { what: "both appends to have run" });
    const after = await forwarder.putRecords(2, 7, 3, Buffer.alloc(4), Date.now() + 10_000);
    expect([after.accepted, after.index]).toEqual([4, 30]);
    expect(peer.streamsOpened).toBe(1);
  });

  it("fails a stream on which nothing came back before a deadline, and opens a new one", async () => {
    const peer = await startPeer();
    const forwarder = forwarderTo(peer);
    peer.leader.hold(1);
    await expect(forwarder.putRecords(2, 7, 1, Buffer.alloc(5), Date.now() + 300)).rejects.toBeInstanceOf(
      PeerUnavailableError,
    );
    const reply = await waitUntil(
      () => forwarder.putRecords(2, 7, 2, Buffer.alloc(5), Date.now() + 5_000).catch(() => undefined),
      { what: "a forward on a new stream", intervalMs: 20 },
    );
    expect(reply.index).toBe(20);
    expect(peer.streamsOpened).toBe(2);
  });

  it("rejects every outstanding request when the peer goes away, and reconnects once it is back", async () => {
    const peer = await startPeer();
    const port = Number(peer.address.split(":")[1]);
    const forwarder = forwarderTo(peer);
    peer.leader.hold(1);
    peer.leader.hold(2);
    const deadline = Date.now() + 10_000;
    const outstanding = [forwarder.putRecords(2, 7, 1, Buffer.alloc(5), deadline)];
    await nextTurn();
    outstanding.push(forwarder.putRecords(2, 7, 2, Buffer.alloc(5), deadline));
    await waitUntil(() => peer.leader.appended.length === 2, { what: "both requests to reach the leader" });
    const settled = Promise.allSettled(outstanding);
    await peer.server.close();
    const outcomes = await settled;
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(PeerUnavailableError);
      expect(((outcome as PromiseRejectedResult).reason as PeerUnavailableError).sent).toBe(true);
    }
    peers.splice(peers.indexOf(peer), 1);
    peer.leader.releaseAll();

    const back = await startPeer(port);
    const reply = await waitUntil(
      () => forwarder.putRecords(2, 7, 3, Buffer.alloc(5), Date.now() + 5_000).catch(() => undefined),
      { what: "a forward after the peer came back", intervalMs: 20 },
    );
    expect([reply.accepted, reply.index]).toEqual([5, 30]);
    expect(back.streamsOpened).toBe(1);
  });

  it("uses unary ForwardPutRecords with a peer that does not serve ForwardStream", async () => {
    const peer = await startPeer(0, true);
    const forwarder = forwarderTo(peer);
    const deadline = Date.now() + 10_000;
    // The first request learns that the stream is unimplemented there: refused, retriably.
    const first = await forwarder
      .putRecords(2, 7, 1, Buffer.alloc(5), deadline)
      .catch((error: unknown) => error);
    expect(first).toBeInstanceOf(PeerUnavailableError);
    expect((first as Error).message).toMatch(/UNIMPLEMENTED/);
    // The peer served nothing on the stream: certainly not written.
    expect((first as PeerUnavailableError).sent).toBe(false);
    const second = await forwarder.putRecords(2, 7, 2, Buffer.alloc(6), deadline);
    expect([second.accepted, second.index]).toEqual([6, 20]);
  });
});

describe("ForwardStream", () => {
  it("refuses a request beyond its bound of outstanding requests", async () => {
    const peer = await startPeer();
    const stream = new ForwardStream({ nodeId: 2, address: peer.address, requestsInFlightMax: 2 });
    streams.push(stream);
    peer.leader.hold(1);
    const batch = (groupId: number) => [{ streamId: 7, groupId, records: Buffer.alloc(3) }];
    const send = (groupId: number) =>
      new Promise<readonly LeaderAppendReply[]>((resolve, reject) =>
        stream.send(batch(groupId), 64, Date.now() + 10_000, (error, results) =>
          error === null ? resolve(results) : reject(error),
        ),
      );
    const held = [send(1), send(1)];
    expect(stream.inFlight).toBe(2);
    const refused = await send(2).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PeerUnavailableError);
    expect((refused as Error).message).toMatch(/outstanding/);
    expect((refused as PeerUnavailableError).sent).toBe(false);
    peer.leader.release(1);
    const answers = await Promise.all(held);
    expect(answers.map((results) => results[0]?.index)).toEqual([10, 10]);
    expect(stream.inFlight).toBe(0);
    expect((await send(2))[0]?.index).toBe(20);
  });
});

describe("ForwardStream codecs", () => {
  const uint32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff }));
  const safe = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
  const batches = fc.array(
    fc.record({
      streamId: uint32,
      groupId: uint32,
      records: fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array)),
    }),
    { maxLength: 20 },
  );
  const results = fc.array(
    fc.record({
      acceptedCount: uint32,
      index: safe,
      errorCode: fc.string({ maxLength: 20 }),
      errorMessage: fc.string({ maxLength: 80 }),
      leaderHint: uint32,
      firstOffset: uint32,
    }),
    { maxLength: 20 },
  );

  it("writes requests the generated decoder reads back, and reads what the generated encoder writes", () => {
    fc.assert(
      fc.property(safe, safe, batches, (requestId, deadlineUnixMs, request) => {
        const message = encodeForwardStreamRequest(requestId, deadlineUnixMs, request);
        expect(message[0]).toBe(0);
        expect(message.readUInt32BE(1)).toBe(message.length - GRPC_PREFIX_BYTES);
        const body = message.subarray(GRPC_PREFIX_BYTES);
        const generated = forward.ForwardStreamRequest.decode(body);
        expect([generated.requestId, generated.deadlineUnixMs]).toEqual([requestId, deadlineUnixMs]);
        const expected = request.map((b) => [b.streamId, b.groupId, b.records.toString("hex")]);
        expect(generated.batches.map((b) => [b.streamId, b.groupId, b.records.toString("hex")])).toEqual(
          expected,
        );
        const reference = Buffer.from(
          forward.ForwardStreamRequest.encode({ requestId, deadlineUnixMs, batches: request }).finish(),
        );
        const decoded = decodeForwardStreamRequest(reference);
        expect([decoded.requestId, decoded.deadlineUnixMs]).toEqual([requestId, deadlineUnixMs]);
        expect(decoded.batches.map((b) => [b.streamId, b.groupId, b.records.toString("hex")])).toEqual(
          expected,
        );
        // The records are the decoder's own copies, not views of the received bytes.
        reference.fill(0xee);
        expect(decoded.batches.map((b) => b.records.toString("hex"))).toEqual(expected.map((e) => e[2]));
      }),
      { numRuns: 200 },
    );
  });

  it("writes answers the generated decoder reads back, and reads what the generated encoder writes", () => {
    fc.assert(
      fc.property(safe, results, (requestId, answer) => {
        const generated = forward.ForwardStreamResponse.decode(
          encodeForwardStreamResponse(requestId, answer),
        );
        expect(generated.requestId).toBe(requestId);
        expect(generated.results).toEqual(answer);
        const decoded = decodeForwardStreamResponse(
          Buffer.from(forward.ForwardStreamResponse.encode({ requestId, results: answer }).finish()),
        );
        expect(decoded.requestId).toBe(requestId);
        expect(decoded.results).toEqual(
          answer.map((result) => ({
            accepted: result.acceptedCount,
            index: result.index,
            errorCode: result.errorCode,
            errorMessage: result.errorMessage,
            leaderHint: result.leaderHint,
            firstOffset: result.firstOffset,
          })),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("refuses garbage with MalformedForwardMessageError, never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const decode of [decodeForwardStreamRequest, decodeForwardStreamResponse]) {
          try {
            decode(Buffer.from(bytes));
          } catch (error) {
            expect(error).toBeInstanceOf(MalformedForwardMessageError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
