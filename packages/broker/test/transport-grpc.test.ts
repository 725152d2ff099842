// Proves the gRPC peer transport delivers batches between real nodes on loopback in order and
// coalesced, pushes back when a peer's queue is full, reports a closed or silent peer Down and a
// restarted one Up again, answers a run of frames with few delayed acknowledgements, and refuses
// wrong clusters, unknown nodes and garbage without crashing.
import * as grpc from "@grpc/grpc-js";
import { MessageType, type NodeId } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import { ACK_EVERY_REQUESTS } from "../src/transport/constants.js";
import { GrpcPeerTransport } from "../src/transport/grpc-transport.js";
import type { GrpcPeerTransportOptions, TransportLogger } from "../src/transport/options.js";
import type { GroupMessage } from "../src/transport/transport.js";
import {
  envelopeFrame,
  FRAME_HEADROOM_BYTES,
  peerServiceDefinition,
  raftStreamMethod,
} from "../src/transport/wire.js";
import { entry, groupMessage, message, waitFor } from "./transport-fixtures.js";

/** Quick failure detection for the tests about failures. */
const FAST = {
  livenessIntervalMs: 50,
  livenessTimeoutMs: 300,
  reconnectBackoffMsMin: 20,
  reconnectBackoffMsMax: 200,
} as const;

/** For the tests about delivery: a loaded CI machine may stall an event loop for a second. */
const PATIENT = { livenessIntervalMs: 250, livenessTimeoutMs: 10_000 } as const;

interface CapturedLogger extends TransportLogger {
  readonly warnings: string[];
}

function capturingLogger(): CapturedLogger {
  const warnings: string[] = [];
  return {
    warnings,
    info() {},
    warn(msg, fields) {
      warnings.push(`${msg} ${JSON.stringify(fields ?? {})}`);
    },
  };
}

const open: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function addressOf(port: number): string {
  return `127.0.0.1:${port}`;
}

function transport(
  nodeId: NodeId,
  ports: ReadonlyMap<NodeId, number>,
  extra: Partial<GrpcPeerTransportOptions> = {},
): GrpcPeerTransport {
  const peers = new Map([...ports].map(([id, port]) => [id, addressOf(port)] as const));
  const t = new GrpcPeerTransport({
    nodeId,
    clusterId: "test-cluster",
    listenAddress: addressOf(ports.get(nodeId) as number),
    peers,
    logger: capturingLogger(),
    ...FAST,
    ...extra,
  });
  open.push(t);
  return t;
}

function app(from: NodeId, to: NodeId, group: number, index: number, bytes = 16): GroupMessage {
  const data = new Uint8Array(bytes).fill(index & 0xff);
  return groupMessage(
    group,
    message({
      type: MessageType.App,
      from,
      to,
      term: 3,
      index,
      commit: index,
      entries: [entry(index + 1, 3, data)],
    }),
  );
}

describe("GrpcPeerTransport", () => {
  it("exchanges batches among three nodes, in order per peer, coalesced per turn", async () => {
    const ports = new Map([
      [1, 17401],
      [2, 17402],
      [3, 17403],
    ]);
    const nodes = [1, 2, 3].map((id) => transport(id, ports, PATIENT));
    const received = new Map<string, number[]>();
    nodes.forEach((t, i) => {
      t.onReceive((from, messages) => {
        const key = `${from}>${i + 1}`;
        const list = received.get(key) ?? [];
        for (const gm of messages) {
          expect(gm.message.entries[0]?.data[0]).toBe(gm.message.index & 0xff);
          list.push(gm.message.index);
        }
        received.set(key, list);
      });
    });
    await Promise.all(nodes.map((t) => t.start()));
    await waitFor(
      () => nodes.every((t) => [...t.peerStates().values()].every((s) => s === "up")),
      5000,
      "all up",
    );
    const perPeer = 500;
    for (let round = 0; round < 10; round++) {
      // Each round is one turn: 50 sends per peer must leave as one frame.
      for (let k = 0; k < perPeer / 10; k++) {
        const index = round * (perPeer / 10) + k;
        for (const [i, t] of nodes.entries()) {
          for (const to of [1, 2, 3]) {
            if (to !== i + 1) expect(t.send(to, [app(i + 1, to, index % 7, index, 1000)])).toBe(true);
          }
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Array.from({ length: perPeer }, (_, i) => i);
    await waitFor(
      () => [...received.values()].every((l) => l.length === perPeer) && received.size === 6,
      10_000,
      "all",
    );
    for (const list of received.values()) expect(list).toEqual(expected);
    const metrics = nodes[0]?.metrics().get(2);
    expect(metrics?.messagesSent).toBe(perPeer);
    expect(metrics?.framesSent).toBeLessThanOrEqual(10);
    expect(metrics?.queuedBytes).toBe(0);
    expect(nodes[1]?.metrics().get(1)?.messagesReceived).toBe(perPeer);
  });

  it("acknowledges a run of frames with fewer answers than frames, and the sender stays up", async () => {
    const ports = new Map([
      [1, 17471],
      [2, 17472],
    ]);
    const [a, b] = [1, 2].map((id) => transport(id, ports, PATIENT)) as [
      GrpcPeerTransport,
      GrpcPeerTransport,
    ];
    let received = 0;
    b.onReceive((_from, messages) => {
      received += messages.length;
    });
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.peerStates().get(2) === "up", 5000, "2 up at 1");
    const before = a.metrics().get(2)?.acknowledgementsReceived ?? 0;
    // One message per event-loop turn: each leaves as a frame of its own. Fewer than
    // ACK_EVERY_REQUESTS, so only the delayed acknowledgement answers them.
    const frames = ACK_EVERY_REQUESTS - 2;
    for (let index = 0; index < frames; index++) {
      expect(a.send(2, [app(1, 2, 1, index)])).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => received === frames, 5000, "all frames delivered");
    const metrics = () => a.metrics().get(2);
    expect(metrics()?.framesSent).toBeGreaterThanOrEqual(frames);
    // Every frame is acknowledged in the end (none stays in flight)...
    await waitFor(() => (metrics()?.acknowledgementsReceived ?? 0) > before, 5000, "an acknowledgement");
    // ...by a few answers for the whole run (one per frame before delayed acknowledgements).
    expect((metrics()?.acknowledgementsReceived ?? 0) - before).toBeLessThanOrEqual(frames / 2);
    expect(a.peerStates().get(2)).toBe("up");
  });

  it("returns false once a peer's queue is full, and accepts again after it drains", async () => {
    const ports = new Map([
      [1, 17411],
      [2, 17412],
    ]);
    const a = transport(1, ports, {
      ...PATIENT,
      maxQueuedBytesPerPeer: 256 * 1024,
      maxFrameBytes: 64 * 1024,
    });
    const b = transport(2, ports, PATIENT);
    let got = 0;
    b.onReceive((_from, messages) => {
      got += messages.length;
    });
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.peerStates().get(2) === "up", 5000, "peer up");
    let accepted = 0;
    while (a.send(2, [app(1, 2, 1, accepted, 30_000)])) accepted += 1;
    expect(accepted).toBe(8);
    expect(a.metrics().get(2)?.messagesDropped).toBe(1);
    // One message larger than a frame is refused outright.
    await waitFor(() => got === accepted, 5000, "drained");
    expect(a.send(2, [app(1, 2, 1, 0, 70_000)])).toBe(false);
    expect(a.send(2, [app(1, 2, 1, 99, 30_000)])).toBe(true);
    await waitFor(() => got === accepted + 1, 5000, "delivered after drain");
  });

  it("reports a closed peer Down, refuses sends meanwhile, and reports it Up after a restart", async () => {
    const ports = new Map([
      [1, 17421],
      [2, 17422],
    ]);
    const a = transport(1, ports, PATIENT);
    const events: string[] = [];
    a.onPeerState((peer, state) => events.push(`${peer}:${state}`));
    let b = transport(2, ports, PATIENT);
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.peerStates().get(2) === "up", 5000, "up");
    await b.close();
    await waitFor(() => a.peerStates().get(2) === "down", 5000, "down after close");
    await waitFor(() => !a.send(2, [app(1, 2, 1, 1)]), 5000, "send refused while down");
    b = transport(2, ports, PATIENT);
    const got: number[] = [];
    b.onReceive((_from, messages) => got.push(...messages.map((m) => m.message.index)));
    await b.start();
    await waitFor(() => a.peerStates().get(2) === "up", 5000, "up after restart");
    expect(events).toEqual(["2:up", "2:down", "2:up"]);
    expect(a.send(2, [app(1, 2, 1, 42)])).toBe(true);
    await waitFor(() => got.includes(42), 5000, "delivery after restart");
    expect(a.metrics().get(2)?.connects).toBeGreaterThanOrEqual(2);
  });

  it("reports a peer that accepts the stream but never answers Down after the liveness timeout", async () => {
    const silent = new grpc.Server();
    silent.addService(peerServiceDefinition, { raftStream: () => {} });
    await new Promise<void>((resolve, reject) =>
      silent.bindAsync(addressOf(17432), grpc.ServerCredentials.createInsecure(), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    open.push({ close: () => new Promise<void>((resolve) => silent.tryShutdown(() => resolve())) });
    const logger = capturingLogger();
    const a = transport(
      1,
      new Map([
        [1, 17431],
        [2, 17432],
      ]),
      { logger },
    );
    await a.start();
    await waitFor(
      () => logger.warnings.some((w) => w.includes("no answer within 300 ms")),
      5000,
      "liveness timeout",
    );
    expect(a.peerStates().get(2)).toBe("down");
    await waitFor(() => (a.metrics().get(2)?.connects ?? 0) >= 2, 5000, "a fresh stream after the timeout");
  });

  it("refuses a stream from another cluster, with a clear line on both sides", async () => {
    const ports = new Map([
      [1, 17441],
      [2, 17442],
    ]);
    const aLog = capturingLogger();
    const bLog = capturingLogger();
    const a = transport(1, ports, { logger: aLog });
    const b = transport(2, ports, { logger: bLog, clusterId: "other-cluster" });
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => aLog.warnings.some((w) => w.includes("wrong cluster id")), 5000, "refusal logged");
    await waitFor(
      () => bLog.warnings.some((w) => w.includes("peer refused our stream")),
      5000,
      "refusal seen",
    );
    expect(aLog.warnings.find((w) => w.includes("wrong cluster id"))).toContain("other-cluster");
    expect(a.peerStates().get(2)).toBe("down");
    expect(b.peerStates().get(1)).toBe("down");
  });

  it("drops streams from unknown nodes and streams carrying garbage, and keeps serving", async () => {
    const ports = new Map([
      [1, 17451],
      [2, 17452],
    ]);
    const log = capturingLogger();
    const a = transport(1, ports, { logger: log });
    await a.start();
    const client = new grpc.Client(addressOf(17451), grpc.credentials.createInsecure());
    const attempt = (hello: { fromNodeId: number; clusterId: string }, frame: Buffer | null) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const call = client.makeBidiStreamRequest(
          raftStreamMethod.path,
          raftStreamMethod.requestSerialize,
          raftStreamMethod.responseDeserialize,
        );
        call.on("data", () => {});
        call.on("error", resolve);
        call.write({ kind: "hello", ...hello });
        if (frame !== null) call.write({ kind: "frame", chunks: [frame], length: frame.length });
      });
    const unknown = await attempt({ fromNodeId: 9, clusterId: "test-cluster" }, null);
    expect(unknown.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(unknown.details).toContain("unknown node id 9");
    const garbage = Buffer.alloc(FRAME_HEADROOM_BYTES + 40, 0xab);
    const broken = await attempt({ fromNodeId: 2, clusterId: "test-cluster" }, envelopeFrame(garbage));
    expect(broken.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(log.warnings.some((w) => w.includes("undecodable frame"))).toBe(true);
    client.close();
    // Still serving: a real peer connects and delivers.
    const b = transport(2, ports);
    await b.start();
    await waitFor(() => b.peerStates().get(1) === "up", 5000, "real peer up");
  });

  it.each([
    ["HTTP/2 written directly (no credentials)", {}, 19201],
    [
      "grpc-js's client (channel credentials given)",
      { channelCredentials: grpc.credentials.createInsecure() },
      19211,
    ],
  ])("delivers 64 KiB entries in order over %s", async (_name, credentials, basePort) => {
    const ports = new Map([
      [1, basePort],
      [2, basePort + 1],
    ]);
    const a = transport(1, ports, { ...PATIENT, ...credentials });
    const b = transport(2, ports, { ...PATIENT, ...credentials });
    const received: number[] = [];
    b.onReceive((_from, messages) => {
      for (const gm of messages) {
        const data = gm.message.entries[0]?.data;
        expect(data?.byteLength).toBe(65_536);
        expect(data?.[65_535]).toBe(gm.message.index & 0xff);
        received.push(gm.message.index);
      }
    });
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.peerStates().get(2) === "up", 5000, "peer up");
    const total = 200;
    let next = 0;
    await waitFor(
      () => {
        // Send while the queue accepts; the transport pushes back when it is full.
        while (next < total && a.send(2, [app(1, 2, 1, next, 65_536)])) next += 1;
        return received.length === total;
      },
      10_000,
      "all entries delivered",
    );
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it("validates its options once, at construction", () => {
    const peers = new Map([[2, "127.0.0.1:17462"]]);
    const base = { nodeId: 1, clusterId: "c", listenAddress: "127.0.0.1:17461", peers };
    expect(() => new GrpcPeerTransport({ ...base, nodeId: 0 })).toThrow(/nodeId/);
    expect(() => new GrpcPeerTransport({ ...base, listenAddress: "nowhere" })).toThrow(/host:port/);
    expect(() => new GrpcPeerTransport({ ...base, livenessIntervalMs: 100, livenessTimeoutMs: 150 })).toThrow(
      /twice/,
    );
    expect(
      () => new GrpcPeerTransport({ ...base, maxFrameBytes: 1 << 20, maxQueuedBytesPerPeer: 1000 }),
    ).toThrow(/at least one frame/);
  });
});
