// Proves a real three-node cluster's Kinesis HTTP API speaks AWS CBOR 1.1 as the AWS SDK for Java v2 does — requests and answers encoded by an independent CBOR implementation (@smithy/core's), blobs as byte strings, timestamps as tag 1 epoch milliseconds, errors as {__type, message} in CBOR, truncated CBOR as SerializationException — and streams SubscribeToShard events in CBOR when asked in CBOR.
import * as http2 from "node:http2";
import { EventStreamDecoder } from "@sluice/gateway";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { cbor, tag } from "@smithy/core/cbor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19572-19583.
const BASE_PORT = 19_572;
const CBOR = "application/x-amz-cbor-1.1";

let cluster: TestCluster;
let endpoint: string;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  endpoint = `http://127.0.0.1:${cluster.ports(2).http}`;
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: Record<string, unknown>;
}

/** One Kinesis operation over HTTP/1.1 with a CBOR body. */
async function call(operation: string, body: Uint8Array): Promise<Answer> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": CBOR, "X-Amz-Target": `Kinesis_20131202.${operation}` },
    body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: bytes.length === 0 ? {} : (cbor.deserialize(bytes) as Record<string, unknown>),
  };
}

const send = (operation: string, document: Record<string, unknown>) =>
  call(operation, cbor.serialize(document));

async function activeStream(streamName: string): Promise<string> {
  expect((await send("CreateStream", { StreamName: streamName, ShardCount: 1 })).status).toBe(200);
  return waitFor(
    async () => {
      const { body } = await send("DescribeStreamSummary", { StreamName: streamName });
      const summary = body.StreamDescriptionSummary as Record<string, unknown> | undefined;
      return summary?.StreamStatus === "ACTIVE" ? (summary.StreamARN as string) : undefined;
    },
    { timeoutMs: 20_000, what: `${streamName} to be ACTIVE` },
  );
}

describe("AWS CBOR 1.1 on the Kinesis HTTP API", () => {
  it("puts byte-string blobs and reads them back with tag 1 millisecond timestamps", async () => {
    const streamName = `cbor-${process.pid}`;
    await activeStream(streamName);
    const before = Date.now();
    const data = [Buffer.from([0, 1, 2, 255]), Buffer.from("second"), Buffer.alloc(0)];
    const put = await send("PutRecords", {
      StreamName: streamName,
      Records: data.map((bytes, k) => ({ Data: new Uint8Array(bytes), PartitionKey: `k${k}` })),
    });
    expect(put).toMatchObject({ status: 200, contentType: CBOR, body: { FailedRecordCount: 0 } });

    const { body: iterator } = await send("GetShardIterator", {
      StreamName: streamName,
      ShardId: "shardId-000000000000",
      ShardIteratorType: "AT_TIMESTAMP",
      Timestamp: tag({ tag: 1, value: before - 60_000 }), // epoch milliseconds, as Java v2 sends
    });
    const { body: page } = await send("GetRecords", { ShardIterator: iterator.ShardIterator });
    const records = page.Records as Record<string, unknown>[];
    expect(records.map((record) => Buffer.from(record.Data as Uint8Array))).toEqual(data);
    const stamp = records[0]?.ApproximateArrivalTimestamp as { tag: number | bigint; value: number };
    expect(Number(stamp.tag)).toBe(1);
    expect(Number.isInteger(stamp.value)).toBe(true);
    expect(stamp.value).toBeGreaterThanOrEqual(before - 1_000); // milliseconds, not seconds
    expect(stamp.value).toBeLessThanOrEqual(Date.now() + 1_000);
  }, 60_000);

  it("answers errors as {__type, message} in CBOR, and bad CBOR with SerializationException", async () => {
    const missing = await send("DescribeStreamSummary", { StreamName: "no-such-stream" });
    expect(missing.status).toBe(400);
    expect(missing.contentType).toBe(CBOR);
    expect(missing.body).toMatchObject({ __type: "ResourceNotFoundException" });
    expect(missing.body.message).toEqual(expect.stringContaining("no-such-stream"));

    const whole = cbor.serialize({
      StreamName: "s",
      Records: [{ Data: new Uint8Array(10), PartitionKey: "k" }],
    });
    for (const cut of [1, 5, whole.length - 1]) {
      const truncated = await call("PutRecords", whole.subarray(0, cut));
      expect(truncated.status).toBe(400);
      expect(truncated.body).toMatchObject({ __type: "SerializationException" });
    }
    const wrongType = await send("PutRecords", {
      StreamName: "s",
      Records: [{ Data: "text", PartitionKey: "k" }],
    });
    expect(wrongType.body).toMatchObject({ __type: "SerializationException" });
    expect(wrongType.body.message).toEqual(expect.stringContaining("Records[0].Data"));
  }, 60_000);

  it("streams SubscribeToShard events in CBOR over HTTP/2 when asked in CBOR", async () => {
    const streamName = `cbor-sub-${process.pid}`;
    const streamArn = await activeStream(streamName);
    const { body: registered } = await send("RegisterStreamConsumer", {
      StreamARN: streamArn,
      ConsumerName: "c",
    });
    const consumerArn = (registered.Consumer as Record<string, unknown>).ConsumerARN as string;
    await waitFor(
      async () =>
        (
          (await send("DescribeStreamConsumer", { ConsumerARN: consumerArn })).body.ConsumerDescription as
            | Record<string, unknown>
            | undefined
        )?.ConsumerStatus === "ACTIVE",
      { timeoutMs: 20_000, what: "the consumer to be ACTIVE" },
    );
    await send("PutRecords", {
      StreamName: streamName,
      Records: [{ Data: new Uint8Array([7, 7]), PartitionKey: "k" }],
    });

    const session = http2.connect(endpoint);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/",
        "content-type": CBOR,
        "x-amz-target": "Kinesis_20131202.SubscribeToShard",
      });
      stream.end(
        cbor.serialize({
          ConsumerARN: consumerArn,
          ShardId: "shardId-000000000000",
          StartingPosition: { Type: "TRIM_HORIZON" },
        }),
      );
      const [headers] = await Promise.all([
        new Promise<http2.IncomingHttpHeaders>((r) => stream.once("response", r)),
      ]);
      expect(headers[":status"]).toBe(200);
      expect(headers["content-type"]).toBe("application/vnd.amazon.eventstream");
      const decoder = new EventStreamDecoder();
      const messages = await new Promise<ReturnType<EventStreamDecoder["push"]>>((resolve) => {
        const seen: ReturnType<EventStreamDecoder["push"]> = [];
        stream.on("data", (chunk: Buffer) => {
          seen.push(...decoder.push(chunk));
          if (seen.length >= 2) resolve(seen);
        });
      });
      stream.close();
      expect(messages[0]?.headers).toMatchObject({
        ":message-type": "event",
        ":event-type": "initial-response",
      });
      expect(messages[1]?.headers).toMatchObject({
        ":event-type": "SubscribeToShardEvent",
        ":content-type": CBOR,
      });
      const event = cbor.deserialize(new Uint8Array(messages[1]?.payload ?? [])) as Record<string, unknown>;
      const records = event.Records as Record<string, unknown>[];
      expect(Buffer.from(records[0]?.Data as Uint8Array)).toEqual(Buffer.from([7, 7]));
      expect(event.ContinuationSequenceNumber).toEqual(expect.stringMatching(/^\d+$/));
    } finally {
      session.close();
    }
  }, 60_000);
});
