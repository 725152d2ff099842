// Proves that GetShardIterator and GetRecords on a real three-node cluster follow Kinesis: the
// five iterator types start where Kinesis starts them, an iterator reads the same records each
// time it is used, NextShardIterator continues without gaps or repeats, every node returns the
// same records, forged iterators and bad arguments fail with the exact Kinesis error name, and an
// iterator older than five minutes (seen by a node whose clock runs 6 minutes ahead) fails with
// ExpiredIteratorException.
import {
  getRecordsUnthrottled,
  readToTip,
  startCluster,
  type TestCluster,
  uniqueStreamName,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19640-19651.
const BASE_PORT = 19_640;
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const T = streams.ShardIteratorType;
const SHARD_0 = "shardId-000000000000";
const SHARD_1 = "shardId-000000000001";
const ITERATOR_CHARS_MAX = 512;
const CLOCK_AHEAD_MS = 6 * 60_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function freshName(prefix: string): string {
  return uniqueStreamName(`read-${prefix}`);
}

/**
 * An ON_DEMAND stream of 2 shards (reads are not throttled) with `count` records in shard 0
 * (explicit hash key 0) and one in shard 1; returns shard 0's sequence numbers in order.
 */
async function streamWithRecords(
  prefix: string,
  count: number,
): Promise<{ streamName: string; sequenceNumbers: string[]; otherShardSequenceNumber: string }> {
  const streamName = freshName(prefix);
  await cluster.streams(1).createActiveStream({ streamName, shardCount: 2, streamModeDetails: ON_DEMAND });
  const response = await cluster.streams(2).putRecords({
    streamName,
    records: Array.from({ length: count }, (_, i) => ({
      partitionKey: "p",
      explicitHashKey: "0",
      data: Buffer.from(`record-${i}`),
    })),
  });
  expect(response.failedRecordCount).toBe(0);
  const other = await cluster.streams(3).putRecord({
    streamName,
    partitionKey: "p",
    explicitHashKey: ((1n << 128n) - 1n).toString(),
    data: Buffer.from("other"),
  });
  expect(other.shardId).toBe(SHARD_1);
  return {
    streamName,
    sequenceNumbers: response.records.map((record) => record.sequenceNumber),
    otherShardSequenceNumber: other.sequenceNumber,
  };
}

async function iterator(nodeId: number, request: Partial<streams.GetShardIteratorRequest>): Promise<string> {
  const { shardIterator } = await cluster.streams(nodeId).getShardIterator({ shardId: SHARD_0, ...request });
  expect(shardIterator.length).toBeGreaterThan(0);
  expect(shardIterator.length).toBeLessThanOrEqual(ITERATOR_CHARS_MAX);
  return shardIterator;
}

function texts(records: readonly streams.Record[]): string[] {
  return records.map((record) => Buffer.from(record.data).toString());
}

/** `iterator` with the character at `position` replaced by another of the same kind. */
function flipCharacter(text: string, position: number): string {
  const c = text[position] as string;
  const replacement = /[0-9]/.test(c)
    ? c === "0"
      ? "1"
      : "0"
    : /[a-z]/.test(c)
      ? c === "a"
        ? "b"
        : "a"
      : c === "A"
        ? "B"
        : "A";
  return `${text.slice(0, position)}${replacement}${text.slice(position + 1)}`;
}

describe("GetShardIterator", () => {
  it("starts TRIM_HORIZON at the first record, AT_ and AFTER_SEQUENCE_NUMBER at and after a record, LATEST after the last", async () => {
    const { streamName, sequenceNumbers } = await streamWithRecords("types", 6);
    const all = Array.from({ length: 6 }, (_, i) => `record-${i}`);
    const read = async (shardIterator: string) =>
      (await readToTip(cluster.streams(3), shardIterator)).records;

    expect(
      texts(
        await read(await iterator(1, { streamName, shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON })),
      ),
    ).toEqual(all);
    const at = await read(
      await iterator(2, {
        streamName,
        shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER,
        startingSequenceNumber: sequenceNumbers[3] as string,
      }),
    );
    expect(at[0]?.sequenceNumber).toBe(sequenceNumbers[3]);
    expect(texts(at)).toEqual(all.slice(3));
    const after = await read(
      await iterator(3, {
        streamName,
        shardIteratorType: T.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
        startingSequenceNumber: sequenceNumbers[3] as string,
      }),
    );
    expect(after[0]?.sequenceNumber).toBe(sequenceNumbers[4]);
    expect(texts(after)).toEqual(all.slice(4));
    const afterLast = await read(
      await iterator(1, {
        streamName,
        shardIteratorType: T.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
        startingSequenceNumber: sequenceNumbers[5] as string,
      }),
    );
    expect(afterLast).toEqual([]);

    const latest = await iterator(2, { streamName, shardIteratorType: T.SHARD_ITERATOR_TYPE_LATEST });
    expect(await read(latest)).toEqual([]);
    await cluster
      .streams(1)
      .putRecord({ streamName, partitionKey: "p", explicitHashKey: "0", data: Buffer.from("new") });
    const fromLatest = await waitFor(
      async () => {
        const records = await read(latest);
        return records.length > 0 ? records : undefined;
      },
      { timeoutMs: 10_000, what: "the LATEST iterator to see the record put after it" },
    );
    expect(texts(fromLatest)).toEqual(["new"]);
  });

  it("starts AT_TIMESTAMP at the first record that arrived at or after the timestamp", async () => {
    const streamName = freshName("timestamp");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1, streamModeDetails: ON_DEMAND });
    await cluster.streams(1).putRecord({ streamName, partitionKey: "p", data: Buffer.from("first") });
    const [first] = (
      await readToTip(
        cluster.streams(2),
        await iterator(2, { streamName, shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON }),
      )
    ).records;
    const firstArrival = first?.approximateArrivalTimestamp ?? 0;
    expect(firstArrival).toBeGreaterThan(0);
    // The next record must arrive strictly later than the first, whatever the clock's granularity.
    await waitFor(() => Date.now() > firstArrival + 2, {
      timeoutMs: 5_000,
      what: "the clock to pass the first arrival",
    });
    await cluster.streams(1).putRecord({ streamName, partitionKey: "p", data: Buffer.from("second") });

    const between = await iterator(3, {
      streamName,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_TIMESTAMP,
      timestamp: firstArrival + 1,
    });
    expect(texts((await readToTip(cluster.streams(3), between)).records)).toEqual(["second"]);
    const atFirst = await iterator(1, {
      streamName,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_TIMESTAMP,
      timestamp: firstArrival,
    });
    expect(texts((await readToTip(cluster.streams(1), atFirst)).records)).toEqual(["first", "second"]);
    const early = await iterator(1, {
      streamName,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_TIMESTAMP,
      timestamp: firstArrival - 3_600_000,
    });
    expect(texts((await readToTip(cluster.streams(1), early)).records)).toEqual(["first", "second"]);
  });

  it("refuses each invalid request with the Kinesis error name", async () => {
    const { streamName, sequenceNumbers, otherShardSequenceNumber } = await streamWithRecords("badit", 2);
    const get = (request: Partial<streams.GetShardIteratorRequest>) =>
      cluster.streams(2).getShardIterator({ streamName, shardId: SHARD_0, ...request });
    const cases: [string, Partial<streams.GetShardIteratorRequest>, string][] = [
      [
        "a sequence number of another shard",
        {
          shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER,
          startingSequenceNumber: otherShardSequenceNumber,
        },
        "InvalidArgumentException",
      ],
      [
        "AFTER_SEQUENCE_NUMBER with a sequence number of another shard",
        {
          shardIteratorType: T.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
          startingSequenceNumber: otherShardSequenceNumber,
        },
        "InvalidArgumentException",
      ],
      [
        "AT_SEQUENCE_NUMBER without a sequence number",
        { shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER },
        "InvalidArgumentException",
      ],
      [
        "a non-decimal sequence number",
        { shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER, startingSequenceNumber: "12x" },
        "ValidationException",
      ],
      [
        "AT_TIMESTAMP a minute in the future",
        { shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_TIMESTAMP, timestamp: Date.now() + 60_000 },
        "InvalidArgumentException",
      ],
      [
        "AT_TIMESTAMP without a timestamp",
        { shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_TIMESTAMP },
        "InvalidArgumentException",
      ],
      ["no iterator type", { shardIteratorType: T.SHARD_ITERATOR_TYPE_UNSPECIFIED }, "ValidationException"],
      [
        "an unknown shard",
        { shardId: "shardId-000000000009", shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON },
        "ResourceNotFoundException",
      ],
      [
        "an unknown stream",
        { streamName: freshName("ghost"), shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON },
        "ResourceNotFoundException",
      ],
    ];
    for (const [what, request, errorName] of cases) {
      await expect(get(request), what).rejects.toMatchObject({ errorName });
    }
    // The same sequence number is fine on its own shard.
    await get({
      shardIteratorType: T.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER,
      startingSequenceNumber: sequenceNumbers[0] as string,
    });
  });
});

describe("GetRecords", () => {
  it("reads the same records with the same iterator, pages without gaps or repeats, and agrees on every node", async () => {
    const { streamName, sequenceNumbers } = await streamWithRecords("pages", 25);
    const start = await iterator(1, { streamName, shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON });
    const first = await getRecordsUnthrottled(cluster.streams(2), { shardIterator: start, limit: 4 });
    const again = await getRecordsUnthrottled(cluster.streams(3), { shardIterator: start, limit: 4 });
    expect(first.records).toHaveLength(4);
    expect(again.records.map((record) => record.sequenceNumber)).toEqual(
      first.records.map((record) => record.sequenceNumber),
    );

    for (const nodeId of cluster.nodeIds) {
      const paged = await readToTip(cluster.streams(nodeId), start, { limit: 3 });
      expect(paged.records.map((record) => record.sequenceNumber)).toEqual(sequenceNumbers);
      expect(texts(paged.records)).toEqual(Array.from({ length: 25 }, (_, i) => `record-${i}`));
      expect(paged.records.every((record) => record.partitionKey === "p")).toBe(true);
      const tip = await getRecordsUnthrottled(cluster.streams(nodeId), {
        shardIterator: paged.nextShardIterator,
      });
      expect(tip.records).toEqual([]);
      expect(tip.millisBehindLatest).toBe(0);
      expect(tip.nextShardIterator).not.toBe("");
    }
  });

  it("refuses Limit 0 and 10001 with ValidationException and forged iterators with InvalidArgumentException", async () => {
    const { streamName } = await streamWithRecords("forged", 1);
    const shardIterator = await iterator(1, {
      streamName,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    });
    const client = cluster.streams(2);
    await expect(client.getRecords({ shardIterator, limit: 0 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(client.getRecords({ shardIterator, limit: 10_001 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(client.getRecords({ shardIterator: "" })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(
      client.getRecords({ shardIterator: "x".repeat(ITERATOR_CHARS_MAX + 1) }),
    ).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(client.getRecords({ shardIterator: "not-an-iterator" })).rejects.toMatchObject({
      errorName: "InvalidArgumentException",
    });
    for (const position of [
      0,
      Math.floor(shardIterator.length / 3),
      Math.floor(shardIterator.length / 2),
      shardIterator.length - 1,
    ]) {
      const forged = flipCharacter(shardIterator, position);
      expect(forged).not.toBe(shardIterator);
      await expect(
        client.getRecords({ shardIterator: forged }),
        `flipped at ${position}`,
      ).rejects.toMatchObject({
        errorName: "InvalidArgumentException",
      });
    }
    // Limits 1 and 10000 are allowed, and the genuine iterator still reads.
    expect((await getRecordsUnthrottled(client, { shardIterator, limit: 1 })).records).toHaveLength(1);
    expect((await getRecordsUnthrottled(client, { shardIterator, limit: 10_000 })).records).toHaveLength(1);
  });

  it("fails an iterator older than five minutes with ExpiredIteratorException (node 3's clock moved 6 minutes ahead)", async () => {
    const { streamName } = await streamWithRecords("expired", 2);
    const shardIterator = await iterator(1, {
      streamName,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    });
    await cluster.restartWithEnv(3, { SLUICE_CLOCK_OFFSET_MS: String(CLOCK_AHEAD_MS) });
    await expect(cluster.streams(3).getRecords({ shardIterator })).rejects.toMatchObject({
      errorName: "ExpiredIteratorException",
    });
    // Node 1's clock is right: for it, the same iterator is young and reads.
    expect(texts((await getRecordsUnthrottled(cluster.streams(1), { shardIterator })).records)).toEqual([
      "record-0",
      "record-1",
    ]);
  });
});
