// Proves a LinkProxy forwards bytes both ways in order (with added latency too), refuses and
// closes connections in drop mode, forwards nothing in blackhole mode, and on healing a blackhole
// closes the connections that lost bytes, over real loopback TCP.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinkProxy } from "../src/fault/link-proxy.js";
import { waitFor } from "../src/wait-for.js";

// This file uses ports 20590-20591.
const ECHO_PORT = 20_590;
const PROXY_PORT = 20_591;

let echo: Server;
let proxy: LinkProxy;

beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(ECHO_PORT, "127.0.0.1", resolve));
  proxy = new LinkProxy({ listenPort: PROXY_PORT, targetPort: ECHO_PORT });
  await proxy.start();
});
afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => echo.close(resolve));
});

interface Client {
  readonly socket: Socket;
  received: string;
  closed: boolean;
}

async function open(): Promise<Client> {
  const socket = tcpConnect(PROXY_PORT, "127.0.0.1");
  const client: Client = { socket, received: "", closed: false };
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    client.received += chunk;
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    client.closed = true;
  });
  // A connection the proxy refuses may be reset before it reports "connect".
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => resolve());
  });
  return client;
}

const wait = { timeoutMs: 5_000, intervalMs: 5 };

describe("LinkProxy", () => {
  it("forwards both ways in order, with and without added latency", async () => {
    const client = await open();
    client.socket.write("a");
    await waitFor(() => client.received === "a", { ...wait, what: "the echo of a" });
    proxy.setDelayMs(30);
    for (const letter of "bcdef") client.socket.write(letter);
    proxy.setDelayMs(0);
    client.socket.write("g");
    await waitFor(() => client.received === "abcdefg", { ...wait, what: "abcdefg in order" });
    client.socket.destroy();
  });

  it("closes every connection and each new one in drop mode", async () => {
    const before = await open();
    proxy.setMode("drop");
    await waitFor(() => before.closed, { ...wait, what: "the open connection to close" });
    const during = await open();
    await waitFor(() => during.closed, { ...wait, what: "a new connection to be closed" });
    proxy.heal();
    const after = await open();
    after.socket.write("x");
    await waitFor(() => after.received === "x", { ...wait, what: "forwarding after heal" });
    after.socket.destroy();
  });

  it("forwards nothing in blackhole mode and closes the lossy connection on heal", async () => {
    const client = await open();
    proxy.setMode("blackhole");
    const droppedBefore = proxy.droppedBytes;
    client.socket.write("lost");
    const fresh = await open();
    fresh.socket.write("also lost");
    // Both writes reached the proxy and were thrown away (so nothing is still on its way).
    await waitFor(() => proxy.droppedBytes - droppedBefore === "lost".length + "also lost".length, {
      ...wait,
      what: "the proxy to drop both writes",
    });
    expect(client.received).toBe("");
    expect(client.closed).toBe(false);
    proxy.heal();
    await waitFor(() => client.closed && fresh.closed, {
      ...wait,
      what: "lossy connections to close on heal",
    });
  });
});
