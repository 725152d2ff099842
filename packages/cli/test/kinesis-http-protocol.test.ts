// Proves that the Kinesis HTTP API answers every malformed request with the error Kinesis gives
// (wrong or missing target, unknown operation, malformed JSON, wrong member types, wrong content
// type, wrong method, oversize body, HTTP/2 streams reset mid-body) and keeps serving; that a
// node answers 503 ServiceUnavailable until its gateway is ready; and that every member of the
// shapes table names a field of the generated request message.
import * as http2 from "node:http2";
import { OPERATIONS } from "@sluice/gateway";
import { startCluster, TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19124-19135 (the cluster) and 19136-19147 (a node started alone).
const BASE_PORT = 19_124;
const LONE_BASE_PORT = 19_136;
const TARGET = "Kinesis_20131202";
const JSON_TYPE = "application/x-amz-json-1.1";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let cluster: TestCluster;
let url: string;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  url = `http://127.0.0.1:${cluster.ports(1).http}/`;
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

interface Answer {
  readonly status: number;
  readonly type: string | null;
  readonly errorType: string | null;
  readonly requestId: string | null;
  readonly body: Record<string, unknown>;
}

async function post(
  target: string | undefined,
  body: string | Buffer,
  contentType: string = JSON_TYPE,
  method = "POST",
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": contentType };
  if (target !== undefined) headers["x-amz-target"] = target;
  const response = await fetch(url, { method, headers, ...(method === "GET" ? {} : { body }) });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    errorType: response.headers.get("x-amzn-errortype"),
    requestId: response.headers.get("x-amzn-requestid"),
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

function expectError(answer: Answer, status: number, name: string): void {
  expect({ status: answer.status, errorType: answer.errorType, type: answer.body.__type }).toEqual({
    status,
    errorType: name,
    type: name,
  });
  expect(answer.body.message).toBeTypeOf("string");
  expect(answer.requestId).toMatch(UUID);
}

describe("protocol errors over HTTP/1.1", () => {
  it("answers a missing, foreign or unknown X-Amz-Target with UnknownOperationException", async () => {
    expectError(await post(undefined, "{}"), 400, "UnknownOperationException");
    expectError(await post("DynamoDB_20120810.ListTables", "{}"), 400, "UnknownOperationException");
    expectError(await post(`${TARGET}.Frobnicate`, "{}"), 400, "UnknownOperationException");
    expectError(await post(TARGET, "{}"), 400, "UnknownOperationException");
  });

  it("answers malformed JSON, an empty body and members of the wrong type with SerializationException", async () => {
    expectError(await post(`${TARGET}.ListStreams`, "{not json"), 400, "SerializationException");
    expectError(await post(`${TARGET}.ListStreams`, ""), 400, "SerializationException");
    expectError(await post(`${TARGET}.ListStreams`, "[1,2]"), 400, "SerializationException");
    const wrongType = await post(`${TARGET}.DescribeStream`, JSON.stringify({ StreamName: 42 }));
    expectError(wrongType, 400, "SerializationException");
    expect(wrongType.body.message).toContain("StreamName");
    const nested = await post(
      `${TARGET}.PutRecords`,
      JSON.stringify({
        StreamName: "s",
        Records: [{ PartitionKey: "k", Data: "AAAA" }, { PartitionKey: 7 }],
      }),
    );
    expect(nested.body.message).toContain("Records[1].PartitionKey");
    const badBase64 = await post(
      `${TARGET}.PutRecord`,
      JSON.stringify({ StreamName: "s", PartitionKey: "k", Data: "not base64!" }),
    );
    expectError(badBase64, 400, "SerializationException");
    expectError(
      await post(`${TARGET}.ListStreams`, JSON.stringify({ Limit: 1.5 })),
      400,
      "SerializationException",
    );
  });

  it("answers an enum value Kinesis does not have with ValidationException, as Kinesis does", async () => {
    const answer = await post(
      `${TARGET}.GetShardIterator`,
      JSON.stringify({ StreamName: "s", ShardId: "shardId-000000000000", ShardIteratorType: "SOMEWHERE" }),
    );
    expectError(answer, 400, "ValidationException");
    expect(answer.body.message).toContain("TRIM_HORIZON");
  });

  it("refuses another content type (404) and another method (403), and accepts application/json", async () => {
    expectError(await post(`${TARGET}.ListStreams`, "{}", "text/plain"), 404, "UnknownOperationException");
    expectError(await post(`${TARGET}.ListStreams`, "{}", "GET", "GET"), 403, "AccessDeniedException");
    const plain = await post(`${TARGET}.ListStreams`, "{}", "application/json; charset=utf-8");
    expect(plain.status).toBe(200);
    expect(plain.body.StreamNames).toBeInstanceOf(Array);
    const amz = await post(`${TARGET}.ListStreams`, "{}");
    expect(amz.type).toBe(JSON_TYPE);
    expect(amz.requestId).toMatch(UUID);
    expect(amz.errorType).toBeNull();
  });

  it("refuses a body over the limit with 413 and keeps serving", async () => {
    const big = Buffer.alloc(9 * 1_048_576, 0x20);
    expectError(await post(`${TARGET}.PutRecords`, big), 413, "SerializationException");
    expect((await post(`${TARGET}.ListStreams`, "{}")).status).toBe(200);
  });

  it("serves SubscribeToShard over HTTP/2 only, and says so to an HTTP/1.1 caller", async () => {
    const answer = await post(
      `${TARGET}.SubscribeToShard`,
      JSON.stringify({
        ConsumerARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1",
        ShardId: "shardId-000000000000",
        StartingPosition: { Type: "LATEST" },
      }),
    );
    expectError(answer, 400, "InvalidArgumentException");
    expect(answer.body.message).toContain("HTTP/2");
  });
});

describe("protocol errors over h2c", () => {
  async function h2Request(
    session: http2.ClientHttp2Session,
    headers: http2.OutgoingHttpHeaders,
    body: Buffer | undefined,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const stream = session.request({
      ":method": "POST",
      ":path": "/",
      "content-type": JSON_TYPE,
      ...headers,
    });
    let status = 0;
    let text = "";
    stream.on("response", (responseHeaders) => {
      status = Number(responseHeaders[":status"]);
    });
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    stream.on("error", () => {});
    if (body !== undefined) stream.end(body);
    // The answer is complete at the end of its data, as for any HTTP/2 client: a 413 resets the
    // stream with NO_ERROR while this side still has body queued, which Node's client does not
    // turn into "close".
    await new Promise<void>((resolve) => {
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
    });
    return { status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  it("survives streams reset mid-body, refuses oversize bodies with 413, and keeps the session serving", async () => {
    const session = http2.connect(`http://127.0.0.1:${cluster.ports(2).http}`);
    session.on("error", () => {});
    try {
      // Ten streams that send half a body and then reset.
      for (let i = 0; i < 10; i++) {
        const stream = session.request({
          ":method": "POST",
          ":path": "/",
          "content-type": JSON_TYPE,
          "x-amz-target": `${TARGET}.PutRecord`,
        });
        stream.on("error", () => {});
        stream.write('{"StreamName": "s", "Data": "AAAA');
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
      const big = await h2Request(
        session,
        { "x-amz-target": `${TARGET}.PutRecords` },
        Buffer.alloc(9 * 1_048_576, 0x20),
      );
      expect(big.status).toBe(413);
      expect(big.body.__type).toBe("SerializationException");
      const malformed = await h2Request(
        session,
        { "x-amz-target": `${TARGET}.ListStreams` },
        Buffer.from("{"),
      );
      expect(malformed).toMatchObject({ status: 400, body: { __type: "SerializationException" } });
      const ok = await h2Request(session, { "x-amz-target": `${TARGET}.ListStreams` }, Buffer.from("{}"));
      expect(ok.status).toBe(200);
    } finally {
      session.close();
    }
    // The node is still up for everyone.
    expect((await post(`${TARGET}.DescribeLimits`, "{}")).status).toBe(200);
  }, 30_000);
});

describe("readiness", () => {
  it("answers 503 ServiceUnavailable while the node's metadata service has no quorum", async () => {
    const lone = new TestCluster({ basePort: LONE_BASE_PORT });
    try {
      lone.process(1).start();
      const answer = await waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${lone.ports(1).http}/`, {
            method: "POST",
            headers: { "content-type": JSON_TYPE, "x-amz-target": `${TARGET}.ListStreams` },
            body: "{}",
          });
          return { status: response.status, errorType: response.headers.get("x-amzn-errortype") };
        },
        { timeoutMs: 20_000, what: "node 1 alone to answer on its Kinesis port" },
      );
      expect(answer).toEqual({ status: 503, errorType: "ServiceUnavailable" });
    } finally {
      await lone.stop();
    }
  }, 60_000);
});

describe("the shapes table", () => {
  it("covers every operation of the gRPC API, naming only fields the generated request message has", () => {
    const grpcOperations = Object.values(streams.StreamsServiceService).map((method) =>
      method.path.split("/").pop(),
    );
    expect([...OPERATIONS.keys()].sort()).toEqual(grpcOperations.sort());
    for (const spec of OPERATIONS.values()) {
      const fields = Object.keys(spec.create({}) as object);
      for (const member of spec.input.members) {
        expect({ operation: spec.name, field: member.field, known: fields.includes(member.field) }).toEqual({
          operation: spec.name,
          field: member.field,
          known: true,
        });
      }
    }
  });
});
