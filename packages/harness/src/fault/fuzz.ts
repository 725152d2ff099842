/**
 * The bad-input campaign: a seeded fuzzer that sends thousands of malformed, truncated, oversize
 * and random messages to a real three-node cluster — protobuf frames to the public gRPC API,
 * HTTP/JSON/CBOR bodies to the Kinesis port, and garbage to the peer port (plaintext: raw bytes,
 * and gRPC frames on the Raft and forwarding methods) — and proves that each is answered with a
 * typed error (a gRPC status other than INTERNAL/UNKNOWN, or an HTTP 4xx with an error type), or
 * for the peer port refused or closed; that no node crashes or stops serving; and that nothing
 * changes: the stream list, the canary stream's shards and records are the same afterwards.
 */
import http from "node:http";
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import { startCluster, type TestCluster } from "../cluster.js";
import { readStreamByLineage } from "../lineage-reader.js";
import { FUZZ_CASE_TIMEOUT_MS, FUZZ_CASES_DEFAULT } from "./constants.js";
import { SeededRandom } from "./random.js";

export interface BadInputOptions {
  readonly seed: number;
  /** @default FUZZ_CASES_DEFAULT */
  readonly cases?: number;
  /** First of the 12 ports of the cluster the campaign starts (when `cluster` is not given). */
  readonly basePort: number;
  /** Use this running cluster instead of starting one. */
  readonly cluster?: TestCluster;
  /** Also send a few bodies above the nodes' message limits (tens of MiB each). @default true */
  readonly oversize?: boolean;
}

/** How one case was answered. */
export type CaseOutcome =
  /** A gRPC status that names the problem, or an HTTP 4xx with an error type. */
  | "typed-error"
  /** Accepted (a random message that happened to be a valid read, or a garbage-tolerant peer stream). */
  | "ok"
  /** The connection was refused or closed without an answer (expected on the peer port only). */
  | "closed"
  /** INTERNAL / UNKNOWN / HTTP 5xx: an error that does not say what was wrong. */
  | "untyped-error"
  /** No answer before the deadline. */
  | "no-answer";

export interface BadInputResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly cases: number;
  /** target → outcome → count */
  readonly outcomes: ReadonlyMap<string, ReadonlyMap<CaseOutcome, number>>;
  readonly crashes: readonly string[];
  readonly stateChanged: readonly string[];
  /** Up to 20 cases that failed, described. */
  readonly problems: readonly string[];
  readonly report: string;
}

const CANARY_STREAM = "fuzz-canary";
const ABSENT_STREAM = "fuzz-absent";
const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** Valid requests of the public API, aimed at a stream that does not exist; the fuzzer mutates them. */
function publicTemplates(): { method: string; bytes: Buffer }[] {
  const enc = <T>(type: { fromPartial(o: object): T; encode(m: T): { finish(): Uint8Array } }, o: object) =>
    Buffer.from(type.encode(type.fromPartial(o)).finish());
  const records = [{ partitionKey: "k", data: Buffer.from("fuzz") }];
  return [
    { method: "PutRecords", bytes: enc(streams.PutRecordsRequest, { streamName: ABSENT_STREAM, records }) },
    {
      method: "PutRecord",
      bytes: enc(streams.PutRecordRequest, {
        streamName: ABSENT_STREAM,
        partitionKey: "k",
        data: Buffer.from("x"),
      }),
    },
    { method: "GetRecords", bytes: enc(streams.GetRecordsRequest, { shardIterator: "AAAAfuzz", limit: 10 }) },
    {
      method: "GetShardIterator",
      bytes: enc(streams.GetShardIteratorRequest, {
        streamName: ABSENT_STREAM,
        shardId: "shardId-000000000000",
        shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
      }),
    },
    { method: "ListShards", bytes: enc(streams.ListShardsRequest, { streamName: ABSENT_STREAM }) },
    { method: "DescribeStream", bytes: enc(streams.DescribeStreamRequest, { streamName: ABSENT_STREAM }) },
    { method: "ListStreams", bytes: enc(streams.ListStreamsRequest, { limit: 10 }) },
    {
      method: "SplitShard",
      bytes: enc(streams.SplitShardRequest, {
        streamName: ABSENT_STREAM,
        shardToSplit: "shardId-000000000000",
        newStartingHashKey: "1",
      }),
    },
    {
      method: "UpdateShardCount",
      bytes: enc(streams.UpdateShardCountRequest, {
        streamName: ABSENT_STREAM,
        targetShardCount: 2,
        scalingType: streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING,
      }),
    },
  ];
}

/** Methods that only get random bytes (they have no template). */
const PUBLIC_RANDOM_ONLY = [
  "DescribeStreamSummary",
  "MergeShards",
  "IncreaseStreamRetentionPeriod",
  "AddTagsToStream",
  "RegisterStreamConsumer",
  "DescribeLimits",
];

const KINESIS_OPERATIONS = [
  "PutRecords",
  "PutRecord",
  "GetRecords",
  "GetShardIterator",
  "ListShards",
  "DescribeStream",
  "ListStreams",
  "SplitShard",
  "UpdateShardCount",
  "MergeShards",
];

/** Mutates a buffer: flips, inserts, deletes or overwrites a few bytes, or truncates it. */
function mutate(random: SeededRandom, input: Buffer): Buffer {
  let bytes = Buffer.from(input);
  const edits = random.int(1, 4);
  for (let i = 0; i < edits; i++) {
    const at = bytes.length === 0 ? 0 : random.int(0, bytes.length - 1);
    switch (random.int(0, 4)) {
      case 0:
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << random.int(0, 7));
        break;
      case 1:
        bytes = Buffer.concat([bytes.subarray(0, at), random.bytes(random.int(1, 8)), bytes.subarray(at)]);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + random.int(1, 4))]);
        break;
      case 3:
        bytes = bytes.subarray(0, at);
        break;
      default:
        // A huge varint: a length or tag far beyond the message.
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
          bytes.subarray(at),
        ]);
    }
  }
  return bytes;
}

/** A gRPC length-prefixed message; `declaredLength` may lie. */
function grpcFrame(message: Buffer, options: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const header = Buffer.alloc(5);
  header[0] = options.compressed === true ? 1 : 0;
  header.writeUInt32BE(options.declaredLength ?? message.length, 1);
  return Buffer.concat([header, message]);
}

interface H2Answer {
  readonly status: number;
  readonly grpcStatus: number | undefined;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Sends one HTTP/2 request on a fresh session and waits for the whole answer (or a closed stream). */
function h2Request(
  port: number,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer,
): Promise<H2Answer | "closed" | "no-answer"> {
  return new Promise((resolve) => {
    let settled = false;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const finish = (value: H2Answer | "closed" | "no-answer"): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish("no-answer"), FUZZ_CASE_TIMEOUT_MS);
    session.on("error", () => finish("closed"));
    session.on("close", () => finish("closed"));
    const stream = session.request({ ":method": "POST", ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      responseHeaders = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      const status = Number(responseHeaders[":status"] ?? 0);
      if (status === 0) {
        finish("closed");
        return;
      }
      const grpcStatusText = trailers["grpc-status"] ?? responseHeaders["grpc-status"];
      finish({
        status,
        grpcStatus: grpcStatusText === undefined ? undefined : Number(grpcStatusText),
        contentType: String(responseHeaders["content-type"] ?? ""),
        body: Buffer.concat(chunks),
      });
    });
    stream.end(body);
  });
}

/**
 * Sends `message` as a request through grpc-js's own client (framing and flow control as any gRPC
 * client does them); for the oversize case, where a hand-written HTTP/2 request sees the stream
 * reset while it is still writing and misses the status the server sent.
 */
function grpcClientRequest(port: number, path: string, message: Buffer): Promise<H2Answer | "no-answer"> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
    "grpc.max_send_message_length": message.length + 1_024,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      message,
      new Metadata(),
      { deadline: Date.now() + FUZZ_CASE_TIMEOUT_MS * 4 },
      (error) => {
        client.close();
        // DEADLINE_EXCEEDED: the node did not answer.
        if (error !== null && error.code === 4) resolve("no-answer");
        else
          resolve({
            status: 200,
            grpcStatus: error?.code ?? 0,
            contentType: "application/grpc",
            body: Buffer.alloc(0),
          });
      },
    );
  });
}

/**
 * A gRPC answer is typed when its status names the problem: anything but UNKNOWN and INTERNAL for
 * a message that arrived whole (a protobuf the node could not decode is INVALID_ARGUMENT). For a
 * broken gRPC frame (compressed flag without an encoding, a length prefix longer than the body)
 * grpc-js itself answers INTERNAL, which is what the gRPC protocol prescribes, so any status
 * other than OK is accepted there; so it is on the peer port, which only cluster members use.
 */
function classifyGrpc(answer: H2Answer | "closed" | "no-answer", lenient: boolean): CaseOutcome {
  if (answer === "closed" || answer === "no-answer") return answer;
  if (answer.grpcStatus === undefined) return answer.status >= 500 ? "untyped-error" : "typed-error";
  if (answer.grpcStatus === 0) return "ok";
  if (lenient) return "typed-error";
  return answer.grpcStatus === 2 || answer.grpcStatus === 13 ? "untyped-error" : "typed-error";
}

function httpRequest(
  port: number,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
  method = "POST",
): Promise<{ status: number; body: Buffer } | "closed" | "no-answer"> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: { status: number; body: Buffer } | "closed" | "no-answer"): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish("no-answer"), FUZZ_CASE_TIMEOUT_MS);
    const request = http.request(
      { host: "127.0.0.1", port, method, path: "/", headers: { connection: "close", ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => finish({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on("error", () => finish({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    request.on("error", () => finish("closed"));
    request.end(body);
  });
}

/**
 * An HTTP answer is typed when it is a 4xx whose body names the error type (`__type`, in JSON or
 * CBOR), or a 413 for a body over the limit, or any 4xx for a request that is not a POST (the
 * status is the whole answer there).
 */
function classifyHttp(
  answer: { status: number; body: Buffer } | "closed" | "no-answer",
  method: string,
): CaseOutcome {
  if (answer === "closed" || answer === "no-answer") return answer;
  if (answer.status >= 200 && answer.status < 300) return "ok";
  if (answer.status >= 500) return "untyped-error";
  if (method !== "POST") return "typed-error";
  // A typed Kinesis error names its type: "__type" in JSON, the same key in CBOR.
  return answer.body.includes("__type") || answer.status === 413 ? "typed-error" : "untyped-error";
}

/** Opens a raw TCP connection, writes garbage, and waits for the peer to close (or the deadline). */
function rawTcp(port: number, bytes: Buffer): Promise<CaseOutcome> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      // Still open after the deadline: the server waits for more; not a failure of the node.
      resolve("closed");
    }, 1_000);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
    socket.on("connect", () => socket.end(bytes));
    socket.on("data", () => {});
  });
}

interface StateSnapshot {
  readonly streams: string;
  readonly shards: string;
  readonly records: number;
  readonly lastSequence: string;
}

async function snapshot(cluster: TestCluster): Promise<StateSnapshot> {
  const client = cluster.streams(1);
  const listed = await client.listStreams({ limit: 100 });
  const read = await readStreamByLineage(client, CANARY_STREAM, { timeoutMs: 30_000 });
  const records = read.flatMap((shard) => shard.records);
  return {
    streams: [...listed.streamNames].sort().join(","),
    shards: read.map((shard) => `${shard.shard.shardId}:${shard.closed}`).join(","),
    records: records.length,
    lastSequence: records[records.length - 1]?.sequenceNumber ?? "",
  };
}

export async function runBadInputCampaign(options: BadInputOptions): Promise<BadInputResult> {
  const random = new SeededRandom(options.seed);
  const total = options.cases ?? FUZZ_CASES_DEFAULT;
  const ownCluster = options.cluster === undefined;
  const cluster = options.cluster ?? (await startCluster({ basePort: options.basePort }));
  const outcomes = new Map<string, Map<CaseOutcome, number>>();
  const problems: string[] = [];
  const crashes: string[] = [];
  const stateChanged: string[] = [];
  const count = (target: string, outcome: CaseOutcome, describe: () => string): void => {
    let byOutcome = outcomes.get(target);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      outcomes.set(target, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    const bad =
      outcome === "untyped-error" ||
      outcome === "no-answer" ||
      (outcome === "closed" && !target.startsWith("peer"));
    if (bad && problems.length < 20) problems.push(`${target}: ${outcome} — ${describe()}`);
  };
  try {
    await cluster.streams(1).createActiveStream({
      streamName: CANARY_STREAM,
      shardCount: 2,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    await cluster.streams(1).putRecords({
      streamName: CANARY_STREAM,
      records: Array.from({ length: 20 }, (_, i) => ({
        partitionKey: `k${i}`,
        data: Buffer.from(`canary-${i}`),
        explicitHashKey: "",
      })),
    });
    const before = await snapshot(cluster);
    const templates = publicTemplates();
    let oversizeLeft = options.oversize === false ? 0 : 2;
    for (let index = 0; index < total; index++) {
      const node = random.pick(cluster.nodeIds);
      const ports = cluster.ports(node);
      const roll = random.int(0, 99);
      if (roll < 45) {
        // The public gRPC API.
        const template = random.pick(templates);
        const method = random.chance(0.85) ? template.method : random.pick(PUBLIC_RANDOM_ONLY);
        const shape = random.int(0, 5);
        let message: Buffer;
        let frame: Buffer;
        let what: string;
        const brokenFrame = shape === 2 || shape === 3;
        let oversize = false;
        if (shape === 0) {
          message = random.bytes(random.int(0, 512));
          frame = grpcFrame(message);
          what = `${message.length} random bytes`;
        } else if (shape === 1) {
          message = template.bytes.subarray(0, random.int(0, Math.max(0, template.bytes.length - 1)));
          frame = grpcFrame(message);
          what = `a ${template.method} truncated to ${message.length} bytes`;
        } else if (shape === 2) {
          message = template.bytes;
          frame = grpcFrame(message, { declaredLength: message.length + random.int(1, 1_000) }).subarray(0);
          what = "a frame whose length prefix is longer than its message";
        } else if (shape === 3) {
          message = random.bytes(random.int(1, 64));
          frame = grpcFrame(message, { compressed: true });
          what = "a frame flagged compressed (no compression negotiated)";
        } else if (shape === 4 && oversizeLeft > 0 && random.chance(0.05)) {
          oversizeLeft -= 1;
          oversize = true;
          message = Buffer.alloc(33 * 1_048_576, 0x41);
          frame = grpcFrame(message);
          what = "a 33 MiB message (above the 32 MiB limit)";
        } else {
          message = mutate(random, template.bytes);
          frame = grpcFrame(message);
          what = `a mutated ${template.method} (${message.toString("hex").slice(0, 80)})`;
        }
        const path = `/sluice.v1.StreamsService/${method}`;
        const answer = oversize
          ? await grpcClientRequest(ports.grpc, path, message)
          : await h2Request(
              ports.grpc,
              { ":path": path, "content-type": "application/grpc", te: "trailers" },
              frame,
            );
        count(
          `grpc ${method}`,
          classifyGrpc(answer, brokenFrame),
          () => `${what}; answer ${describeH2(answer)}`,
        );
      } else if (roll < 80) {
        // The Kinesis HTTP API.
        const operation = random.pick(KINESIS_OPERATIONS);
        const cbor = random.chance(0.3);
        const headers: http.OutgoingHttpHeaders = {
          "content-type": cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1",
          "x-amz-target": `Kinesis_20131202.${operation}`,
        };
        const valid = Buffer.from(
          JSON.stringify({
            StreamName: ABSENT_STREAM,
            Records: [{ PartitionKey: "k", Data: "ZnV6eg==" }],
            ShardId: "shardId-000000000000",
            ShardIteratorType: "TRIM_HORIZON",
          }),
        );
        const shape = random.int(0, 7);
        let body: Buffer;
        let what: string;
        let method = "POST";
        if (shape === 0) {
          body = random.bytes(random.int(0, 1_024));
          what = `${body.length} random bytes`;
        } else if (shape === 1) {
          body = valid.subarray(0, random.int(0, valid.length - 1));
          what = "truncated JSON";
        } else if (shape === 2) {
          body = cbor ? random.bytes(random.int(1, 64)) : mutate(random, valid);
          what = `a mutated body ${body.toString("latin1").slice(0, 60)}`;
        } else if (shape === 3) {
          body = Buffer.from(`${"[".repeat(random.int(100, 100_000))}`);
          what = "deeply nested JSON";
        } else if (shape === 4) {
          const wrong = [1, true, null, [], {}, "x".repeat(300), -1, 1e308][random.int(0, 7)];
          body = Buffer.from(
            JSON.stringify({ StreamName: wrong, Records: wrong, Limit: wrong, ShardId: wrong }),
          );
          what = `fields of the wrong type (${JSON.stringify(wrong)?.slice(0, 20)})`;
        } else if (shape === 5) {
          headers["x-amz-target"] = random.pick([
            "",
            "Kinesis_20131202.",
            "Nope.PutRecords",
            `Kinesis_20131202.${"A".repeat(300)}`,
          ]);
          body = valid;
          what = `target ${String(headers["x-amz-target"]).slice(0, 40)}`;
        } else if (shape === 6 && oversizeLeft > 0 && random.chance(0.05)) {
          oversizeLeft -= 1;
          body = Buffer.alloc(12 * 1_048_576, 0x20);
          what = "a 12 MiB body (above the 8 MiB limit)";
        } else {
          headers["content-type"] = random.pick([
            "text/plain",
            "",
            "application/x-amz-cbor-1.1",
            "application/json; charset=bogus",
          ]);
          method = random.pick(["POST", "PUT", "GET", "DELETE"]);
          body = cbor ? random.bytes(16) : valid;
          what = `${method} with content-type ${String(headers["content-type"])}`;
        }
        const answer = await httpRequest(ports.http, headers, body, method);
        count(
          `http ${operation}`,
          classifyHttp(answer, method),
          () =>
            `${what}; answer ${typeof answer === "string" ? answer : `${answer.status} ${answer.body.toString("latin1").slice(0, 120)}`}`,
        );
      } else {
        // The peer port, in plaintext: raw garbage, or gRPC frames of garbage on its methods.
        const shape = random.int(0, 2);
        if (shape === 0) {
          const bytes = random.chance(0.5)
            ? random.bytes(random.int(1, 4_096))
            : Buffer.concat([
                Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
                random.bytes(random.int(1, 512)),
              ]);
          count("peer raw", await rawTcp(ports.peer, bytes), () => `${bytes.length} bytes`);
        } else {
          const path =
            shape === 1
              ? "/sluice.peer.v1.PeerService/RaftStream"
              : random.chance(0.5)
                ? "/sluice.peer.v1.ForwardService/ForwardPutRecords"
                : "/sluice.peer.v1.ForwardService/ForwardStream";
          const message = random.bytes(random.int(0, 2_048));
          const answer = await h2Request(
            ports.peer,
            { ":path": path, "content-type": "application/grpc", te: "trailers" },
            grpcFrame(message),
          );
          const outcome = classifyGrpc(answer, true);
          count(
            `peer ${path.split("/").pop()}`,
            outcome,
            () => `${message.length} random bytes; answer ${describeH2(answer)}`,
          );
        }
      }
      if (index % 100 === 99 || index === total - 1) {
        for (const nodeId of cluster.nodeIds) {
          const node = cluster.process(nodeId);
          if (!node.running) {
            crashes.push(
              `node ${nodeId} exited during case ${index} (${node.lastExit?.signal ?? node.lastExit?.code}). ${node.logTail()}`,
            );
            await cluster.restart(nodeId).catch(() => {});
          } else {
            await cluster.waitServing(nodeId, 10_000).catch((error: unknown) => {
              crashes.push(`node ${nodeId} stopped serving by case ${index}: ${String(error).slice(0, 300)}`);
            });
          }
        }
      }
    }
    const after = await snapshot(cluster);
    for (const field of ["streams", "shards", "records", "lastSequence"] as const) {
      if (before[field] !== after[field]) stateChanged.push(`${field}: ${before[field]} → ${after[field]}`);
    }
  } finally {
    if (ownCluster) await cluster.stop().catch(() => {});
  }
  let failedCases = 0;
  for (const [target, byOutcome] of outcomes) {
    for (const [outcome, n] of byOutcome) {
      if (
        outcome === "untyped-error" ||
        outcome === "no-answer" ||
        (outcome === "closed" && !target.startsWith("peer"))
      ) {
        failedCases += n;
      }
    }
  }
  const ok = failedCases === 0 && crashes.length === 0 && stateChanged.length === 0;
  const result = { ok, seed: options.seed, cases: total, outcomes, crashes, stateChanged, problems };
  return { ...result, report: formatBadInputReport(result) };
}

function describeH2(answer: H2Answer | "closed" | "no-answer"): string {
  if (typeof answer === "string") return answer;
  const status =
    answer.grpcStatus === undefined
      ? "no grpc-status"
      : (GRPC_STATUS_NAMES[answer.grpcStatus] ?? String(answer.grpcStatus));
  return `HTTP ${answer.status} ${status}`;
}

export function formatBadInputReport(result: Omit<BadInputResult, "report">): string {
  const outcomeNames: CaseOutcome[] = ["typed-error", "ok", "closed", "untyped-error", "no-answer"];
  const lines = [
    `Bad-input campaign — seed ${result.seed}, ${result.cases} cases: ${result.ok ? "PASS" : "FAIL"}`,
    "",
    `| target | ${outcomeNames.join(" | ")} |`,
    `| --- | ${outcomeNames.map(() => "---:").join(" | ")} |`,
    ...[...result.outcomes]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([target, byOutcome]) =>
          `| ${target} | ${outcomeNames.map((name) => byOutcome.get(name) ?? 0).join(" | ")} |`,
      ),
    "",
    `Crashes: ${result.crashes.length === 0 ? "none" : result.crashes.join("; ")}. State changes: ${result.stateChanged.length === 0 ? "none" : result.stateChanged.join("; ")}.`,
  ];
  if (result.problems.length > 0)
    lines.push("", "Problems:", ...result.problems.map((problem) => `- ${problem}`));
  return `${lines.join("\n")}\n`;
}
