// Proves the SDK's pure parts without a cluster: options are validated once with messages that
// name the field, gateway trailers become SluiceCallError with the Kinesis name, start positions
// map to the proto, and the shard map finds the shard an MD5 key falls in.
import { createHash } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { callErrorOf } from "../src/errors.js";
import { InvalidOptionsError, SluiceClient } from "../src/index.js";
import { ShardMap } from "../src/shard-map.js";
import { toProtoStart } from "../src/start-position.js";

describe("SluiceClient options", () => {
  it("refuses no endpoints, a malformed endpoint and a bad deadline", () => {
    expect(() => new SluiceClient({ endpoints: [] })).toThrow(InvalidOptionsError);
    expect(() => new SluiceClient({ endpoints: ["localhost"] })).toThrow(/host:port/);
    expect(() => new SluiceClient({ endpoints: ["127.0.0.1:1"], deadlineMs: 0 })).toThrow(/deadlineMs/);
  });

  it("refuses producer options out of range, naming the option", () => {
    const client = new SluiceClient({ endpoints: ["127.0.0.1:1"] });
    try {
      expect(() => client.producer({ streamName: "s", maxBatchRecords: 501 })).toThrow(/maxBatchRecords/);
      expect(() => client.producer({ streamName: "s", maxBatchBytes: 6 * 1_048_576 })).toThrow(
        /maxBatchBytes/,
      );
      expect(() => client.producer({ streamName: "" })).toThrow(/streamName/);
    } finally {
      client.close();
    }
  });
});

describe("callErrorOf", () => {
  it("reads the Kinesis name, code and retriable flag from the gateway's trailers", () => {
    const metadata = new Metadata();
    metadata.set("sluice-error-name", "ResourceNotFoundException");
    metadata.set("sluice-error-code", "STREAM_NOT_FOUND");
    metadata.set("sluice-error-retriable", "false");
    const error = callErrorOf("DescribeStream", "h:1", {
      name: "Error",
      message: "5 NOT_FOUND: no stream",
      code: status.NOT_FOUND,
      details: "no stream",
      metadata,
    });
    expect(error).toMatchObject({
      errorName: "ResourceNotFoundException",
      code: "STREAM_NOT_FOUND",
      retriable: false,
    });
    expect(error.message).toBe("DescribeStream on h:1: no stream");
  });

  it("calls a connection failure ServiceUnavailable, retriable", () => {
    const error = callErrorOf("ListStreams", "h:1", {
      name: "Error",
      message: "14 UNAVAILABLE: No connection established",
      code: status.UNAVAILABLE,
      details: "No connection established",
      metadata: new Metadata(),
    });
    expect(error).toMatchObject({ errorName: "ServiceUnavailable", code: "UNAVAILABLE", retriable: true });
  });
});

describe("toProtoStart", () => {
  it("requires a sequence number or timestamp where Kinesis does", () => {
    expect(() => toProtoStart({ type: "AT_SEQUENCE_NUMBER" })).toThrow(/sequenceNumber/);
    expect(() => toProtoStart({ type: "AT_TIMESTAMP" })).toThrow(/timestamp/);
    expect(toProtoStart({ type: "AT_TIMESTAMP", timestamp: new Date(5) })).toMatchObject({ timestamp: 5 });
  });
});

describe("ShardMap", () => {
  it("finds the open shard holding a key's MD5, as a linear scan does", () => {
    const space = 1n << 128n;
    const shards = [0n, 1n, 2n, 3n].map((index) => ({
      shardId: `shardId-${index}`,
      parentShardId: "",
      adjacentParentShardId: "",
      hashKeyRange: {
        startingHashKey: ((space / 4n) * index).toString(),
        endingHashKey: (index === 3n ? space - 1n : (space / 4n) * (index + 1n) - 1n).toString(),
      },
      sequenceNumberRange: { startingSequenceNumber: "1", endingSequenceNumber: "" },
    }));
    const map = new ShardMap(shards);
    for (let key = 0; key < 200; key++) {
      const hash = BigInt(`0x${createHash("md5").update(`key-${key}`).digest("hex")}`);
      const expected = shards.find(
        (shard) =>
          hash >= BigInt(shard.hashKeyRange.startingHashKey) &&
          hash <= BigInt(shard.hashKeyRange.endingHashKey),
      );
      expect(map.shardOf(`key-${key}`, "")).toBe(expected?.shardId);
    }
    expect(map.shardOf("any", (space - 1n).toString())).toBe("shardId-3");
  });
});
