// Proves that PutRecord and PutRecords on a real three-node cluster follow Kinesis: every record
// goes to the shard that the MD5 of its partition key (or its ExplicitHashKey) names, computed
// here independently; responses match requests in length and order; sequence numbers are
// decimal and strictly increasing per shard; and each invalid input fails with the exact Kinesis
// error name and writes nothing.
import {
  evenHashKeyRanges,
  partitionKeyHashKey,
  rangeIndexOf,
  readShardFromTrimHorizon,
  startCluster,
  type TestCluster,
  uniqueStreamName,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19620-19631.
const BASE_PORT = 19_620;
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const MIB = 1_048_576;
const HASH_KEY_MAX = (1n << 128n) - 1n;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function freshName(prefix: string): string {
  return uniqueStreamName(`put-${prefix}`);
}

function shardId(position: number): string {
  return `shardId-${String(position).padStart(12, "0")}`;
}

/** An ON_DEMAND stream (no write throttling) with `shardCount` shards, ACTIVE. */
async function activeStream(prefix: string, shardCount: number): Promise<string> {
  const streamName = freshName(prefix);
  await cluster.streams(1).createActiveStream({ streamName, shardCount, streamModeDetails: ON_DEMAND });
  return streamName;
}

/** Every record of every shard, keyed by shard id. */
async function readAll(
  streamName: string,
  shardCount: number,
  nodeId = 1,
): Promise<Map<string, streams.Record[]>> {
  const byShard = new Map<string, streams.Record[]>();
  for (let position = 0; position < shardCount; position++) {
    byShard.set(
      shardId(position),
      await readShardFromTrimHorizon(cluster.streams(nodeId), streamName, shardId(position)),
    );
  }
  return byShard;
}

async function expectEmpty(streamName: string, shardCount: number): Promise<void> {
  for (const [id, records] of await readAll(streamName, shardCount, 2)) {
    expect({ id, count: records.length }).toEqual({ id, count: 0 });
  }
}

function expectIncreasing(sequenceNumbers: readonly string[]): void {
  for (let i = 1; i < sequenceNumbers.length; i++) {
    expect(BigInt(sequenceNumbers[i] as string) > BigInt(sequenceNumbers[i - 1] as string)).toBe(true);
  }
}

describe("PutRecord", () => {
  it("routes by the MD5 of the partition key's UTF-8 bytes, non-ASCII keys included", async () => {
    const streamName = await activeStream("route", 4);
    const ranges = evenHashKeyRanges(4);
    const keys = ["a", "order-42", "ключ", "鍵", "🔑", "e\u0301", "é", " ", "x".repeat(256)];
    for (let i = 0; i < 40; i++) keys.push(`key-${i}`);
    const seen = new Set<number>();
    for (const [position, partitionKey] of keys.entries()) {
      const expected = rangeIndexOf(ranges, partitionKeyHashKey(partitionKey));
      seen.add(expected);
      const response = await cluster
        .streams((position % 3) + 1)
        .putRecord({ streamName, partitionKey, data: Buffer.from(`r${position}`) });
      expect({ partitionKey, shardId: response.shardId }).toEqual({
        partitionKey,
        shardId: shardId(expected),
      });
      expect(response.sequenceNumber).toMatch(/^[1-9]\d*$|^0$/);
    }
    expect(seen.size).toBe(4);
    // Read back: each record is in the shard its key hashes to, with its key and data intact.
    const read = await readAll(streamName, 4, 3);
    const total = [...read.values()].reduce((sum, records) => sum + records.length, 0);
    expect(total).toBe(keys.length);
    for (const [id, records] of read) {
      for (const record of records) {
        expect(shardId(rangeIndexOf(ranges, partitionKeyHashKey(record.partitionKey)))).toBe(id);
        expect(Buffer.from(record.data).toString()).toBe(`r${keys.indexOf(record.partitionKey)}`);
      }
    }
  });

  it("routes an ExplicitHashKey to the shard whose range holds it, at both ends of every range", async () => {
    const streamName = await activeStream("explicit", 3);
    const ranges = evenHashKeyRanges(3);
    for (const [position, range] of ranges.entries()) {
      for (const hashKey of [range.start, range.end]) {
        const response = await cluster.streams(2).putRecord({
          streamName,
          partitionKey: "ignored-for-routing",
          explicitHashKey: hashKey.toString(),
          data: Buffer.from("x"),
        });
        expect({ hashKey, shardId: response.shardId }).toEqual({ hashKey, shardId: shardId(position) });
      }
    }
    expect(ranges.at(-1)?.end).toBe(HASH_KEY_MAX);
  });

  it("returns sequence numbers that increase per shard, and accepts SequenceNumberForOrdering", async () => {
    const streamName = await activeStream("ordering", 1);
    const sequenceNumbers: string[] = [];
    let previous = "";
    for (let i = 0; i < 10; i++) {
      const response = await cluster.streams((i % 3) + 1).putRecord({
        streamName,
        partitionKey: "same",
        data: Buffer.from(String(i)),
        sequenceNumberForOrdering: previous,
      });
      sequenceNumbers.push(response.sequenceNumber);
      previous = response.sequenceNumber;
    }
    expectIncreasing(sequenceNumbers);
    const read = (await readAll(streamName, 1)).get(shardId(0)) ?? [];
    expect(read.map((record) => record.sequenceNumber)).toEqual(sequenceNumbers);
    expect(read.map((record) => Buffer.from(record.data).toString())).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
  });

  it("refuses each invalid input with the Kinesis error name and writes nothing", async () => {
    const streamName = await activeStream("bad", 2);
    const put = (request: Partial<streams.PutRecordRequest>) =>
      cluster.streams(3).putRecord({ streamName, partitionKey: "k", data: Buffer.from("d"), ...request });
    const cases: [string, Partial<streams.PutRecordRequest>, string][] = [
      ["empty partition key", { partitionKey: "" }, "ValidationException"],
      ["257-character partition key", { partitionKey: "k".repeat(257) }, "ValidationException"],
      [
        "data + key over 1 MiB",
        { partitionKey: "kk", data: Buffer.alloc(MIB - 1) },
        "InvalidArgumentException",
      ],
      ["data alone over 1 MiB", { data: Buffer.alloc(MIB + 1) }, "InvalidArgumentException"],
      ["hash key 2^128", { explicitHashKey: (HASH_KEY_MAX + 1n).toString() }, "InvalidArgumentException"],
      ["non-decimal hash key", { explicitHashKey: "0x10" }, "ValidationException"],
      ["negative hash key", { explicitHashKey: "-1" }, "ValidationException"],
      ["hash key with a leading zero", { explicitHashKey: "01" }, "ValidationException"],
      ["letters as hash key", { explicitHashKey: "abc" }, "ValidationException"],
      ["bad SequenceNumberForOrdering", { sequenceNumberForOrdering: "12a" }, "ValidationException"],
      ["bad stream name", { streamName: "bad name" }, "ValidationException"],
      ["unknown stream", { streamName: freshName("ghost") }, "ResourceNotFoundException"],
    ];
    for (const [what, request, errorName] of cases) {
      await expect(put(request), what).rejects.toMatchObject({ errorName });
    }
    // The limits themselves are allowed: 256 characters, and exactly 1 MiB of data and key.
    await put({ partitionKey: "k".repeat(256) });
    await put({ partitionKey: "kk", data: Buffer.alloc(MIB - 2) });
    await put({ explicitHashKey: HASH_KEY_MAX.toString() });
    await put({ explicitHashKey: "0" });
    const read = await readAll(streamName, 2);
    expect([...read.values()].reduce((sum, records) => sum + records.length, 0)).toBe(4);
  });
});

describe("PutRecords", () => {
  it("answers every record in request order with its shard and an increasing sequence number", async () => {
    const streamName = await activeStream("batch", 4);
    const ranges = evenHashKeyRanges(4);
    // Two explicit hash keys in the middle of the batch, on range boundaries.
    const explicit = new Map([
      [100, (ranges[2]?.start ?? 0n).toString()],
      [200, (ranges[1]?.end ?? 0n).toString()],
    ]);
    const entries: streams.PutRecordsRequestEntry[] = Array.from({ length: 500 }, (_, i) => ({
      partitionKey: `batch-key-${i % 37}-ü`,
      explicitHashKey: explicit.get(i) ?? "",
      data: Buffer.from(`payload-${i}`),
    }));
    const response = await cluster.streams(2).putRecords({ streamName, records: entries });
    expect(response.failedRecordCount).toBe(0);
    expect(response.records).toHaveLength(500);
    const perShard = new Map<string, string[]>();
    for (const [i, result] of response.records.entries()) {
      const entry = entries[i] as streams.PutRecordsRequestEntry;
      const hashKey =
        entry.explicitHashKey === ""
          ? partitionKeyHashKey(entry.partitionKey)
          : BigInt(entry.explicitHashKey);
      expect({ i, shardId: result.shardId, errorCode: result.errorCode }).toEqual({
        i,
        shardId: shardId(rangeIndexOf(ranges, hashKey)),
        errorCode: "",
      });
      expect(result.sequenceNumber).toMatch(/^[1-9]\d*$/);
      perShard.set(result.shardId, [...(perShard.get(result.shardId) ?? []), result.sequenceNumber]);
    }
    expect(response.records[100]?.shardId).toBe(shardId(2));
    expect(response.records[200]?.shardId).toBe(shardId(1));
    for (const sequenceNumbers of perShard.values()) expectIncreasing(sequenceNumbers);
    expect(new Set(response.records.map((result) => result.sequenceNumber)).size).toBe(500);

    // Read back from another node: each shard holds its records in request order.
    const read = await readAll(streamName, 4, 3);
    for (const [id, sequenceNumbers] of perShard) {
      expect((read.get(id) ?? []).map((record) => record.sequenceNumber)).toEqual(sequenceNumbers);
    }
  });

  it("refuses each invalid batch as a whole with the Kinesis error name and writes nothing", async () => {
    const streamName = await activeStream("badbatch", 2);
    const one = { partitionKey: "k", data: Buffer.from("d") };
    const putBatch = (records: Partial<streams.PutRecordsRequestEntry>[], name = streamName) =>
      cluster
        .streams(1)
        .putRecords({ streamName: name, records: records as streams.PutRecordsRequestEntry[] });
    const cases: [string, () => Promise<unknown>, string][] = [
      ["no records", () => putBatch([]), "ValidationException"],
      ["501 records", () => putBatch(Array.from({ length: 501 }, () => one)), "ValidationException"],
      [
        "over 5 MiB in all",
        () => putBatch(Array.from({ length: 6 }, () => ({ partitionKey: "k", data: Buffer.alloc(MIB - 1) }))),
        "InvalidArgumentException",
      ],
      [
        "an empty key among good records",
        () => putBatch([one, { ...one, partitionKey: "" }, one]),
        "ValidationException",
      ],
      [
        "a 257-character key",
        () => putBatch([one, { ...one, partitionKey: "k".repeat(257) }]),
        "ValidationException",
      ],
      [
        "a record over 1 MiB",
        () => putBatch([one, { partitionKey: "kk", data: Buffer.alloc(MIB - 1) }]),
        "InvalidArgumentException",
      ],
      [
        "a hash key out of range",
        () => putBatch([one, { ...one, explicitHashKey: (HASH_KEY_MAX + 1n).toString() }]),
        "InvalidArgumentException",
      ],
      [
        "a non-decimal hash key",
        () => putBatch([one, { ...one, explicitHashKey: "1e5" }]),
        "ValidationException",
      ],
      ["unknown stream", () => putBatch([one], freshName("ghost")), "ResourceNotFoundException"],
    ];
    for (const [what, call, errorName] of cases) {
      await expect(call(), what).rejects.toMatchObject({ errorName });
    }
    await expectEmpty(streamName, 2);
    // Exactly 500 records and exactly 5 MiB are allowed.
    expect((await putBatch(Array.from({ length: 500 }, () => one))).failedRecordCount).toBe(0);
    const fiveMiB = Array.from({ length: 5 }, () => ({ partitionKey: "k", data: Buffer.alloc(MIB - 1) }));
    expect((await putBatch(fiveMiB)).failedRecordCount).toBe(0);
  });
});
