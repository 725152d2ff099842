// Proves each request validator accepts valid input and answers invalid input with the Kinesis error name the API model and service limits call for, in a message naming the member.
import { describe, expect, it } from "vitest";
import {
  encodeSequenceNumber,
  formatShardId,
  parseShardId,
  partitionKeyHash,
  validateCreateStream,
  validateGetRecords,
  validateGetShardIterator,
  validateListShards,
  validatePutRecord,
  validatePutRecords,
  validateRetentionHours,
  validateShardFilter,
  validateStreamRef,
  validateTags,
} from "../src/index.js";

const MIB = 1024 * 1024;
const NOW = 1_700_000_000_000;

function failure(fn: () => unknown): { kinesisName: string; message: string } | undefined {
  try {
    fn();
  } catch (error) {
    return { kinesisName: (error as { kinesisName: string }).kinesisName, message: (error as Error).message };
  }
  return undefined;
}

const put = (over: object = {}) => ({
  streamName: "orders",
  data: Buffer.from("x"),
  partitionKey: "k",
  explicitHashKey: "",
  ...over,
});

describe("records", () => {
  it("accepts valid records and computes their hash key and bytes", () => {
    expect(validatePutRecord(put())).toMatchObject({
      streamName: "orders",
      bytes: 2,
      hashKey: partitionKeyHash("k"),
    });
    expect(validatePutRecord(put({ partitionKey: "😀".repeat(256) })).bytes).toBe(1 + 4 * 256);
    expect(validatePutRecord(put({ explicitHashKey: "0" })).hashKey.equals(Buffer.alloc(16))).toBe(true);
    expect(validatePutRecord(put({ data: Buffer.alloc(MIB - 1) })).bytes).toBe(MIB);
  });

  it("answers bad records with the right Kinesis error", () => {
    const cases: [object, string, string][] = [
      [{ partitionKey: "" }, "ValidationException", "PartitionKey"],
      [{ partitionKey: "k".repeat(257) }, "ValidationException", "PartitionKey must be 1 to 256 characters"],
      [{ data: Buffer.alloc(MIB) }, "InvalidArgumentException", "at most 1048576 bytes, got 1048577"],
      [{ explicitHashKey: "01" }, "ValidationException", "ExplicitHashKey"],
      [{ explicitHashKey: (1n << 128n).toString() }, "InvalidArgumentException", "out of range"],
      [{ sequenceNumberForOrdering: "abc" }, "ValidationException", "SequenceNumberForOrdering"],
      [{ streamName: "" }, "InvalidArgumentException", "StreamName or StreamARN"],
      [{ streamName: "bad name" }, "ValidationException", "StreamName"],
      [{ streamName: "s".repeat(129) }, "ValidationException", "StreamName must be 1 to 128"],
    ];
    for (const [over, name, text] of cases) {
      const f = failure(() => validatePutRecord(put(over)));
      expect(f?.kinesisName, JSON.stringify(over).slice(0, 80)).toBe(name);
      expect(f?.message).toContain(text);
    }
  });

  it("bounds PutRecords to 1-500 records and 5 MiB", () => {
    const record = { data: Buffer.alloc(10), partitionKey: "k", explicitHashKey: "" };
    expect(validatePutRecords({ streamName: "s", records: [record, record] }).totalBytes).toBe(22);
    expect(failure(() => validatePutRecords({ streamName: "s", records: [] }))?.kinesisName).toBe(
      "ValidationException",
    );
    expect(
      failure(() => validatePutRecords({ streamName: "s", records: Array(501).fill(record) }))?.message,
    ).toContain("got 501");
    const big = { data: Buffer.alloc(MIB - 1), partitionKey: "k", explicitHashKey: "" };
    expect(
      failure(() => validatePutRecords({ streamName: "s", records: Array(6).fill(big) }))?.kinesisName,
    ).toBe("InvalidArgumentException");
    expect(
      failure(() =>
        validatePutRecords({ streamName: "s", records: [record, { ...record, partitionKey: "" }] }),
      )?.message,
    ).toContain("Records[1].PartitionKey");
  });
});

describe("streams and ids", () => {
  it("resolves StreamName and StreamARN, which must agree", () => {
    const arn = "arn:aws:kinesis:us-east-1:000000000000:stream/orders";
    expect(validateStreamRef({ streamArn: arn })).toBe("orders");
    expect(validateStreamRef({ streamName: "orders", streamArn: arn })).toBe("orders");
    expect(failure(() => validateStreamRef({ streamName: "other", streamArn: arn }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateStreamRef({ streamArn: "arn:nope" }))?.kinesisName).toBe(
      "ValidationException",
    );
  });

  it("reads shard ids in the forms Kinesis accepts", () => {
    expect(formatShardId(7)).toBe("shardId-000000000007");
    expect(parseShardId("shardId-000000000007")).toBe(7);
    expect(parseShardId("shardId-7")).toBe(7);
    expect(parseShardId("7")).toBe(7);
    expect(parseShardId("shard-7")).toBeNull();
  });

  it("validates CreateStream, retention and tags", () => {
    expect(validateCreateStream({ streamName: "s", shardCount: 3 })).toMatchObject({
      shardCount: 3,
      mode: "PROVISIONED",
    });
    expect(validateCreateStream({ streamName: "s", streamModeDetails: { streamMode: 2 } })).toMatchObject({
      shardCount: 4,
      mode: "ON_DEMAND",
    });
    expect(failure(() => validateCreateStream({ streamName: "s" }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateCreateStream({ streamName: "s", shardCount: -1 }))?.kinesisName).toBe(
      "ValidationException",
    );
    expect(failure(() => validateCreateStream({ streamName: "s", shardCount: 10_001 }))?.kinesisName).toBe(
      "LimitExceededException",
    );
    expect(validateRetentionHours(24)).toBe(24);
    expect(failure(() => validateRetentionHours(23))?.message).toContain("from 24 to 8760 hours, got 23");
    expect(failure(() => validateRetentionHours(8761))?.kinesisName).toBe("InvalidArgumentException");
    expect(validateTags({ team: "a b", "x:y": "" })).toBeDefined();
    expect(
      failure(() => validateTags(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]))))
        ?.kinesisName,
    ).toBe("InvalidArgumentException");
    expect(failure(() => validateTags({ ["k".repeat(129)]: "v" }))?.kinesisName).toBe("ValidationException");
    expect(failure(() => validateTags({ k: "v".repeat(257) }))?.kinesisName).toBe("ValidationException");
  });
});

describe("reads", () => {
  const base = {
    streamName: "s",
    shardId: "shardId-000000000001",
    startingSequenceNumber: "",
    timestamp: undefined,
  };

  it("requires and forbids GetShardIterator members by type", () => {
    const seq = encodeSequenceNumber(10, 2, 1);
    expect(validateGetShardIterator({ ...base, shardIteratorType: 3 }, NOW).start).toEqual({
      type: "TRIM_HORIZON",
    });
    expect(
      validateGetShardIterator(
        { ...base, shardIteratorType: "AT_SEQUENCE_NUMBER", startingSequenceNumber: seq },
        NOW,
      ).start,
    ).toMatchObject({
      type: "AT_SEQUENCE_NUMBER",
      position: { index: 10, offset: 2, shardNumber: 1 },
    });
    expect(
      validateGetShardIterator({ ...base, shardIteratorType: 5, timestamp: NOW - 1 }, NOW).start,
    ).toEqual({ type: "AT_TIMESTAMP", timestampMs: NOW - 1 });
    const cases: [object, string][] = [
      [{ shardIteratorType: 1 }, "InvalidArgumentException"],
      [
        { shardIteratorType: 2, startingSequenceNumber: encodeSequenceNumber(10, 2, 9) },
        "InvalidArgumentException",
      ],
      [{ shardIteratorType: 1, startingSequenceNumber: "12a" }, "ValidationException"],
      [{ shardIteratorType: 4, startingSequenceNumber: seq }, "InvalidArgumentException"],
      [{ shardIteratorType: 5 }, "InvalidArgumentException"],
      [{ shardIteratorType: 5, timestamp: NOW + 60_000 }, "InvalidArgumentException"],
      [{ shardIteratorType: 3, timestamp: NOW }, "InvalidArgumentException"],
      [{ shardIteratorType: 0 }, "ValidationException"],
      [{ shardIteratorType: "SOMETIMES" }, "ValidationException"],
      [{ shardIteratorType: 3, shardId: "" }, "ValidationException"],
      [{ shardIteratorType: 3, shardId: "nope" }, "ResourceNotFoundException"],
    ];
    for (const [over, name] of cases) {
      expect(
        failure(() => validateGetShardIterator({ ...base, ...over } as never, NOW))?.kinesisName,
        JSON.stringify(over),
      ).toBe(name);
    }
  });

  it("bounds GetRecords Limit and the iterator's length", () => {
    expect(validateGetRecords({ shardIterator: "abc" }).limit).toBe(10_000);
    expect(validateGetRecords({ shardIterator: "abc", limit: 1 }).limit).toBe(1);
    expect(failure(() => validateGetRecords({ shardIterator: "abc", limit: 10_001 }))?.message).toContain(
      "Limit must be an integer from 1 to 10000",
    );
    expect(failure(() => validateGetRecords({ shardIterator: "a".repeat(513) }))?.kinesisName).toBe(
      "ValidationException",
    );
    expect(failure(() => validateGetRecords({ shardIterator: "" }))?.kinesisName).toBe("ValidationException");
  });

  it("keeps ListShards' NextToken apart from the members it replaces", () => {
    expect(validateListShards({ nextToken: "t" })).toEqual({ nextToken: "t", maxResults: undefined });
    expect(validateListShards({ streamName: "s", maxResults: 5 })).toMatchObject({
      streamName: "s",
      maxResults: 5,
    });
    expect(failure(() => validateListShards({ nextToken: "t", streamName: "s" }))?.message).toContain(
      "StreamName",
    );
    expect(failure(() => validateListShards({ nextToken: "t", shardFilter: { type: 4 } }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateListShards({ streamName: "s", maxResults: 0 }))?.kinesisName).toBe(
      "ValidationException",
    );
    expect(validateShardFilter({ type: "AFTER_SHARD_ID", shardId: "shardId-000000000001" })).toEqual({
      type: "AFTER_SHARD_ID",
      shardId: "shardId-000000000001",
    });
    expect(validateShardFilter({ type: 6, timestamp: 5 })).toEqual({
      type: "FROM_TIMESTAMP",
      timestampMs: 5,
    });
    expect(failure(() => validateShardFilter({ type: "AFTER_SHARD_ID" }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateShardFilter({ type: "AT_TIMESTAMP" }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateShardFilter({ type: "AT_LATEST", shardId: "x" }))?.kinesisName).toBe(
      "InvalidArgumentException",
    );
    expect(failure(() => validateShardFilter({ type: "SOON" }))?.kinesisName).toBe("ValidationException");
  });
});
