/**
 * The floor under every per-operation figure of the streams benchmark: what the building blocks a
 * PutRecord passes through cost in CPU on this machine, each alone, with nothing of Sluice around
 * them. A PutRecord through a node that does not lead its shard crosses a grpc-js unary call (the
 * client's), an HTTP/2 unary call (the forward to the leader), four Raft messages on the peers'
 * long-lived HTTP/2 streams, two flushes on each of three nodes (a synced segment write, a LevelDB
 * batch and its commit index) and the promise chains between them; this prints what each of those costs, so a figure
 * can be read against the sum of its parts.
 *
 *   scripts/bench-floors [--calls 5000]
 *
 * RPCs run between two processes on loopback (the server a child process); both processes' CPU
 * is read from /proc/<pid>/stat (10 ms ticks, hence thousands of calls) and reported per call.
 * Disk writes go to a temporary folder on the data disk. Prints a table; writes JSON to
 * bench-results/.
 */
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { readProcessStat } from "@sluice/harness";
import { NodeStorage } from "@sluice/storage";

/** /proc/<pid>/stat counts CPU time in these. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Calls before measuring, so that the code is optimized and the connections are warm. */
const WARM_UP_CALLS = 1_000;
/** A forwarded PutRecord request is about this large (one 1 KiB record and its framing). */
const REQUEST_BYTES = 1_100;
/** The answers are a few dozen bytes (sequence number, shard id). */
const RESPONSE_BYTES = 40;
/** One synced segment write of a small flush (a 1 KiB entry and its framing, in a 4 KiB page). */
const DISK_WRITE_BYTES = 4_096;
/** The data of the entry a NodeStorage flush appends: one 1 KiB record. */
const ENTRY_BYTES = 1_024;
const GRPC_PATH = "/bench.Floor/Echo";

const { values } = parseArgs({
  options: { calls: { type: "string", default: "5000" }, server: { type: "string" } },
});

// ---- the child: servers for every RPC kind, on ports it reports to the parent ----------------
if (values.server !== undefined) {
  const answer = Buffer.alloc(RESPONSE_BYTES, 2);
  const grpcAnswer = Buffer.alloc(5 + RESPONSE_BYTES, 2);
  grpcAnswer[0] = 0;
  grpcAnswer.writeUInt32BE(RESPONSE_BYTES, 1);
  const grpcServer = new grpc.Server();
  grpcServer.addService(
    {
      echo: {
        path: GRPC_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    { echo: (_call: unknown, callback: (e: null, v: Buffer) => void) => callback(null, answer) },
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  // node:http2 speaking gRPC's unary protocol (as the peer port does), and a long-lived stream.
  const h2 = http2.createServer();
  h2.on("stream", (stream, headers) => {
    if (headers[":path"] === "/stream") {
      stream.respond({ ":status": 200 });
      stream.on("data", () => stream.write(answer));
      return;
    }
    stream.on("data", () => {});
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(grpcAnswer);
    });
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const tcp = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", () => socket.write(answer));
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const port = (server: net.Server | http2.Http2Server) => (server.address() as net.AddressInfo).port;
  process.send?.({ grpcPort, h2Port: port(h2), tcpPort: port(tcp) });
  await new Promise(() => {});
}

interface Row {
  readonly name: string;
  readonly perCallClientUs: number;
  readonly perCallServerUs: number | null;
  readonly callsPerSecond: number;
}

const calls = Number(values.calls);
if (!Number.isInteger(calls) || calls < 1_000) throw new Error("--calls must be an integer ≥ 1000");

const cpuTicks = (pid: number): number => {
  const stat = readProcessStat(pid);
  return stat.userTicks + stat.systemTicks;
};

/** Runs `one` sequentially `calls` times after a warm-up; CPU of this process and of `serverPid`. */
async function measure(name: string, one: () => Promise<unknown>, serverPid: number | null): Promise<Row> {
  for (let i = 0; i < WARM_UP_CALLS; i++) await one();
  const serverBefore = serverPid === null ? 0 : cpuTicks(serverPid);
  const clientBefore = cpuTicks(process.pid);
  const startedAt = performance.now();
  for (let i = 0; i < calls; i++) await one();
  const seconds = (performance.now() - startedAt) / 1_000;
  const usPerTick = 1e6 / CLOCK_TICKS_PER_SECOND;
  return {
    name,
    perCallClientUs: ((cpuTicks(process.pid) - clientBefore) * usPerTick) / calls,
    perCallServerUs: serverPid === null ? null : ((cpuTicks(serverPid) - serverBefore) * usPerTick) / calls,
    callsPerSecond: calls / seconds,
  };
}

/** A message written to `duplex` and the server's answer read back, one at a time. */
function measureExchange(
  name: string,
  duplex: { write(chunk: Buffer): boolean; on(event: "data", listener: () => void): unknown },
  message: Buffer,
  serverPid: number,
): Promise<Row> {
  let answered: () => void = () => {};
  duplex.on("data", () => answered());
  return measure(
    name,
    () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        duplex.write(message);
      }),
    serverPid,
  );
}

const child = fork(new URL(import.meta.url).pathname, ["--server", "1"], { stdio: "inherit" });
const ports = await new Promise<{ grpcPort: number; h2Port: number; tcpPort: number }>((resolve) =>
  child.once("message", (m) => resolve(m as { grpcPort: number; h2Port: number; tcpPort: number })),
);
const serverPid = child.pid as number;
const request = Buffer.alloc(REQUEST_BYTES, 1);
const rows: Row[] = [];
const scratch = fs.mkdtempSync(join(tmpdir(), "sluice-floors-"));
try {
  // grpc-js client → grpc-js server (the public port's stack on both ends).
  const Client = grpc.makeGenericClientConstructor(
    {
      echo: {
        path: GRPC_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    "Floor",
  );
  const grpcClient = new Client(
    `127.0.0.1:${ports.grpcPort}`,
    grpc.credentials.createInsecure(),
  ) as unknown as {
    echo(r: Buffer, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: Error | null) => void): void;
    close(): void;
  };
  rows.push(
    await measure(
      "grpc-js unary call (grpc-js client and server)",
      () =>
        new Promise<void>((resolve, reject) =>
          grpcClient.echo(request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e) =>
            e ? reject(e) : resolve(),
          ),
        ),
      serverPid,
    ),
  );
  grpcClient.close();

  // node:http2 on both ends, one stream per unary gRPC call (the peer port's ForwardService).
  const session = http2.connect(`http://127.0.0.1:${ports.h2Port}`);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(REQUEST_BYTES, 1);
  rows.push(
    await measure(
      "node:http2 unary gRPC call (a stream per call)",
      () =>
        new Promise<void>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": GRPC_PATH,
            "content-type": "application/grpc+proto",
            te: "trailers",
          });
          stream.on("data", () => {});
          stream.on("error", reject);
          stream.on("close", () => resolve());
          stream.write(prefix);
          stream.end(request);
        }),
      serverPid,
    ),
  );

  // One long-lived HTTP/2 stream, a message and its answer (a Raft message on the peer stream).
  const peerStream = session.request({ ":method": "POST", ":path": "/stream" });
  rows.push(
    await measureExchange(
      "message and answer on one long-lived HTTP/2 stream",
      peerStream,
      request,
      serverPid,
    ),
  );
  peerStream.close();
  session.close();

  // Plain TCP, the same message and answer (what a framed TCP transport would start from).
  const socket = net.connect(ports.tcpPort, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  rows.push(await measureExchange("message and answer on a TCP connection", socket, request, serverPid));
  socket.destroy();

  // A synced 4 KiB append from the event loop (O_DSYNC, libuv's thread pool), as a segment write.
  const fd = fs.openSync(
    join(scratch, "segment"),
    fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DSYNC,
  );
  const block = Buffer.alloc(DISK_WRITE_BYTES, 3);
  let position = 0;
  rows.push(
    await measure(
      "fs.writev of 4 KiB to an O_DSYNC file",
      () =>
        new Promise<void>((resolve, reject) => {
          fs.writev(fd, [block], position, (error) => (error ? reject(error) : resolve()));
          position += DISK_WRITE_BYTES;
        }),
      null,
    ),
  );
  fs.closeSync(fd);

  // A node's flush as the persist loop makes it: one 1 KiB entry appended to a group (a synced
  // segment write) and the group's commit index moved (an unsynced LevelDB batch), sync on.
  const storage = await NodeStorage.open(join(scratch, "node"));
  await storage.createGroup(1);
  const payload = new Uint8Array(ENTRY_BYTES).fill(5);
  let index = 0;
  rows.push(
    await measure(
      "NodeStorage flush: one 1 KiB entry and a commit index, sync on",
      () => {
        index += 1;
        const batch = storage.beginFlush();
        batch.append(1, [{ index, term: 1, type: 0, data: payload }]);
        batch.setHardState(1, { term: 1, vote: 1, commit: index - 1 });
        return batch.commit();
      },
      null,
    ),
  );
  await storage.close();

  // An await of an already resolved promise, and a setImmediate turn: the glue between steps.
  rows.push(await measure("await of a resolved promise", () => Promise.resolve(), null));
  rows.push(
    await measure("setImmediate turn of the event loop", () => new Promise((r) => setImmediate(r)), null),
  );
} finally {
  child.kill();
  fs.rmSync(scratch, { recursive: true, force: true });
}

const header = ["building block", "client µs CPU", "server µs CPU", "per second (sequential)"];
const table = rows.map((row) => [
  row.name,
  row.perCallClientUs.toFixed(1),
  row.perCallServerUs === null ? "—" : row.perCallServerUs.toFixed(1),
  row.callsPerSecond.toFixed(0),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] as string).length)));
console.log(
  `\nper-operation floors (${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}, ${calls} calls each)`,
);
console.log(
  header
    .map((h, i) => (i === 0 ? h.padEnd(widths[i] as number) : h.padStart(widths[i] as number)))
    .join("  "),
);
for (const r of table)
  console.log(
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  "),
  );
const outDir = join(process.cwd(), "bench-results");
fs.mkdirSync(outDir, { recursive: true });
const file = join(outDir, `floors-${new Date().toISOString().replace(/:/g, "-")}.json`);
fs.writeFileSync(
  file,
  `${JSON.stringify({ machine: { cpus: cpus().length, node: process.version, loadAverage: loadavg() }, calls, rows }, null, 1)}\n`,
);
console.log(`\nresults: ${file}`);
process.exit(0);
