// Proves the in-memory transport hub delivers batches asynchronously, coalesced per turn and in
// order, copies buffers at send, bounds its queues, and reports partitions and restarts as peer
// state changes.
import { MessageType } from "raft-ts";
import { describe, expect, it } from "vitest";
import { InMemoryTransportHub } from "../src/transport/memory-transport.js";
import type { GroupMessage, PeerState } from "../src/transport/transport.js";
import { entry, groupMessage, message, waitFor } from "./transport-fixtures.js";

function app(index: number, data = new Uint8Array([index & 0xff])): GroupMessage {
  return groupMessage(
    7,
    message({ type: MessageType.App, from: 1, to: 2, term: 1, index, entries: [entry(index + 1, 1, data)] }),
  );
}

describe("InMemoryTransportHub", () => {
  it("delivers everything sent in one turn as one batch, in order, after send returns", async () => {
    const hub = new InMemoryTransportHub();
    const a = hub.transport(1);
    const b = hub.transport(2);
    const batches: GroupMessage[][] = [];
    b.onReceive((from, messages) => {
      expect(from).toBe(1);
      batches.push([...messages]);
    });
    await Promise.all([a.start(), b.start()]);
    await hub.settled();
    const data = new Uint8Array([42]);
    expect(a.send(2, [app(1, data)])).toBe(true);
    expect(a.send(2, [app(2), app(3)])).toBe(true);
    data[0] = 0; // the sender's buffer is free once send returns
    expect(batches).toHaveLength(0);
    await hub.settled();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((m) => m.message.index)).toEqual([1, 2, 3]);
    expect(batches[0]?.[0]?.message.entries[0]?.data).toEqual(new Uint8Array([42]));
    expect(a.metrics().get(2)).toMatchObject({ messagesSent: 3, framesSent: 1, queuedBytes: 0 });
  });

  it("refuses sends to unknown peers and beyond the queue bound", async () => {
    const hub = new InMemoryTransportHub({ maxQueuedBytesPerPeer: 1024 });
    const a = hub.transport(1);
    hub.transport(2);
    await Promise.all([a.start(), hub.transport(2).start()]);
    expect(a.send(9, [app(1)])).toBe(false);
    hub.hold(1, 2);
    let accepted = 0;
    while (a.send(2, [app(accepted, new Uint8Array(100))])) accepted += 1;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(10);
    expect(a.metrics().get(2)?.messagesDropped).toBe(1);
  });

  it("reports partitions and restarts as peer state changes", async () => {
    const hub = new InMemoryTransportHub();
    const a = hub.transport(1);
    const events: [number, PeerState][] = [];
    a.onPeerState((peer, state) => events.push([peer, state]));
    await a.start();
    await hub.transport(2).start();
    await waitFor(() => a.peerStates().get(2) === "up", 1000, "peer 2 up");
    hub.partition(1, 2);
    await hub.settled();
    expect(a.peerStates().get(2)).toBe("down");
    expect(a.send(2, [app(1)])).toBe(false);
    hub.heal(1, 2);
    await hub.settled();
    await hub.transport(2).close();
    await hub.settled();
    const restarted = hub.transport(2);
    await restarted.start();
    await hub.settled();
    expect(events).toEqual([
      [2, "up"],
      [2, "down"],
      [2, "up"],
      [2, "down"],
      [2, "up"],
    ]);
  });

  it("drops filtered messages silently", async () => {
    const hub = new InMemoryTransportHub();
    const a = hub.transport(1);
    const b = hub.transport(2);
    const received: number[] = [];
    b.onReceive((_from, messages) => received.push(...messages.map((m) => m.message.index)));
    await Promise.all([a.start(), b.start()]);
    hub.setFilter((_from, _to, m) => m.message.index % 2 === 0);
    for (let i = 1; i <= 6; i++) expect(a.send(2, [app(i)])).toBe(true);
    await hub.settled();
    expect(received).toEqual([2, 4, 6]);
  });
});
