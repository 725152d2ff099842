// Throughput of the gRPC peer transport between two processes on loopback: a sender (this
// process) and a receiver (a forked child, so each end has its own event loop, as two nodes do).
// Workloads: App messages carrying one 64 KiB entry (1, 4 or 16 groups' worth per event-loop turn),
// and coalesced heartbeats (1,000 groups per turn, one frame). The sender sends whenever `send`
// accepts and yields when it pushes back. Prints MB/s, messages/s, frames/s and CPU per end, also
// as CPU ms per MB of payload (the figure to compare: MB/s moves with other load on the machine).
// Each entry is a new view of a shared 64 KiB buffer, so the sender checksums every entry once, as
// a leader does (there, that one CRC also serves the other peer and the journal).
//   pnpm --filter @sluice/broker bench:transport   (SLUICE_BENCH_SECONDS=3 by default)
import { fork } from "node:child_process";
import { type Message, MessageType } from "raft-ts";
import { GrpcPeerTransport } from "../src/transport/grpc-transport.js";
import type { GroupMessage } from "../src/transport/transport.js";

const SENDER = 1;
const RECEIVER = 2;
/** Ports of the two ends: SLUICE_BENCH_BASE_PORT and the next one. */
const SENDER_PORT = Number(process.env.SLUICE_BENCH_BASE_PORT ?? 19290);
const RECEIVER_PORT = SENDER_PORT + 1;
const SECONDS = Number(process.env.SLUICE_BENCH_SECONDS ?? 3);
const EMPTY = new Uint8Array(0);

interface Progress {
  readonly messages: number;
  readonly bytes: number;
  readonly cpuMs: number;
}

function peers(): Map<number, string> {
  return new Map([
    [SENDER, `127.0.0.1:${SENDER_PORT}`],
    [RECEIVER, `127.0.0.1:${RECEIVER_PORT}`],
  ]);
}

function transport(nodeId: number, port: number): GrpcPeerTransport {
  return new GrpcPeerTransport({
    nodeId,
    clusterId: "bench",
    listenAddress: `127.0.0.1:${port}`,
    peers: peers(),
    // The receiver starts first and fails to reach the sender once: not worth a line.
    logger: { info() {}, warn() {} },
  });
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function receiver(): Promise<void> {
  const t = transport(RECEIVER, RECEIVER_PORT);
  let messages = 0;
  let bytes = 0;
  t.onReceive((_from, batch) => {
    messages += batch.length;
    for (const gm of batch) for (const e of gm.message.entries) bytes += e.data.byteLength;
  });
  await t.start();
  process.on("message", (request: string) => {
    if (request === "progress") process.send?.({ messages, bytes, cpuMs: cpuMs() } satisfies Progress);
    if (request === "exit") void t.close().then(() => process.exit(0));
  });
  process.send?.("ready");
}

function base(type: MessageType): Omit<Message, "type"> & { type: MessageType } {
  return {
    type,
    from: SENDER,
    to: RECEIVER,
    term: 5,
    logTerm: 5,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectHintTerm: 0,
    snapshot: null,
    context: EMPTY,
  };
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const child = fork(process.argv[1] as string, ["--receiver"], {
    execArgv: process.execArgv,
    stdio: "inherit",
  });
  const replies: ((value: unknown) => void)[] = [];
  child.on("message", (message) => replies.shift()?.(message));
  const next = () => new Promise<unknown>((resolve) => replies.push(resolve));
  await next(); // ready
  const progress = async (): Promise<Progress> => {
    const reply = next();
    child.send("progress");
    return (await reply) as Progress;
  };

  const t = transport(SENDER, SENDER_PORT);
  await t.start();
  while (t.peerStates().get(RECEIVER) !== "up") await pause(10);

  const entryBytes = new Uint8Array(64 * 1024).fill(7);
  let index = 0;
  const appendBatch = (groups: number) => (): GroupMessage[] =>
    Array.from({ length: groups }, (_, g) => g + 1).map((groupId) => {
      index += 1;
      return {
        groupId,
        message: {
          ...base(MessageType.App),
          index,
          commit: index,
          entries: [{ term: 5, index: index + 1, type: 0, data: entryBytes.subarray(0) }],
        },
      };
    });
  const heartbeats: GroupMessage[] = Array.from({ length: 1000 }, (_, g) => ({
    groupId: g + 1,
    message: { ...base(MessageType.Heartbeat), commit: 123_456 + g },
  }));

  const workloads: { name: string; batch: () => readonly GroupMessage[] }[] = [
    { name: "App, one 64 KiB entry, 1 per turn", batch: appendBatch(1) },
    { name: "App, one 64 KiB entry, 4 per turn", batch: appendBatch(4) },
    { name: "App, one 64 KiB entry, 16 per turn", batch: appendBatch(16) },
    { name: "Heartbeat, 1,000 groups per turn", batch: () => heartbeats },
  ];
  console.log(`peer transport, two processes on loopback, ${SECONDS} s per workload`);
  console.log(
    "workload                              MB/s  messages/s   frames/s  sender CPU%  receiver CPU%  sender ms/MB  receiver ms/MB",
  );
  for (const workload of workloads) {
    const before = await progress();
    const sentBefore = t.metrics().get(RECEIVER);
    const cpuBefore = cpuMs();
    const started = performance.now();
    let sent = 0;
    let refused = 0;
    while (performance.now() - started < SECONDS * 1000) {
      const batch = workload.batch();
      if (t.send(RECEIVER, batch)) {
        sent += batch.length;
        await yieldTurn();
      } else {
        refused += 1;
        await pause(1);
      }
    }
    let after = await progress();
    while (after.messages - before.messages < sent) {
      await pause(5);
      after = await progress();
    }
    const seconds = (performance.now() - started) / 1000;
    const sentAfter = t.metrics().get(RECEIVER);
    const frames = (sentAfter?.framesSent ?? 0) - (sentBefore?.framesSent ?? 0);
    const wireBytes = (sentAfter?.bytesSent ?? 0) - (sentBefore?.bytesSent ?? 0);
    const messages = after.messages - before.messages;
    const payloadMb = (after.bytes - before.bytes) / 1e6;
    const mbPerSecond = payloadMb > 0 ? payloadMb / seconds : wireBytes / 1e6 / seconds;
    console.log(
      [
        workload.name.padEnd(34),
        mbPerSecond.toFixed(1).padStart(8),
        Math.round(messages / seconds)
          .toLocaleString("en")
          .padStart(12),
        Math.round(frames / seconds)
          .toLocaleString("en")
          .padStart(10),
        ((100 * (cpuMs() - cpuBefore)) / (seconds * 1000)).toFixed(0).padStart(12),
        ((100 * (after.cpuMs - before.cpuMs)) / (seconds * 1000)).toFixed(0).padStart(14),
        payloadMb > 0 ? ((cpuMs() - cpuBefore) / payloadMb).toFixed(2).padStart(14) : "",
        payloadMb > 0 ? ((after.cpuMs - before.cpuMs) / payloadMb).toFixed(2).padStart(16) : "",
      ].join(""),
    );
    if (process.env.SLUICE_BENCH_VERBOSE) console.log(`  send refused ${refused} times (queue full)`);
    if (payloadMb === 0)
      console.log(
        `  (heartbeats: MB/s is frame bytes; ${(wireBytes / messages).toFixed(1)} bytes per heartbeat)`,
      );
  }
  child.send("exit");
  await t.close();
}

if (process.argv.includes("--receiver")) await receiver();
else await main();
