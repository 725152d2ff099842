// Proves the record-batch codec round-trips every field exactly, validates input with typed
// errors before encoding anything, and rejects truncated, extended or altered buffers with
// CorruptBatchError instead of reading past them.
import { describe, expect, it } from "vitest";
import { APPEND_RECORDS_MAX, PARTITION_KEY_CHARS_MAX, RECORD_DATA_BYTES_MAX } from "../src/constants.js";
import { AppendTooLargeError, CorruptBatchError, InvalidRecordError } from "../src/errors.js";
import {
  type AppendRecord,
  decodeRecordBatch,
  decodeRecordBatchHeader,
  encodeRecordBatch,
  forEachRecord,
} from "../src/shard/record-batch.js";

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomRecords(random: () => number, count: number): AppendRecord[] {
  const records: AppendRecord[] = [];
  for (let i = 0; i < count; i++) {
    const keyLength = 1 + Math.floor(random() * 40);
    let key = "";
    for (let k = 0; k < keyLength; k++) key += String.fromCodePoint(0x20 + Math.floor(random() * 0x2000));
    const data = Buffer.alloc(Math.floor(random() * 300));
    for (let b = 0; b < data.length; b++) data[b] = Math.floor(random() * 256);
    const record: AppendRecord =
      random() < 0.3
        ? { partitionKey: key, data, explicitHashKey: String(Math.floor(random() * 1e15)) }
        : { partitionKey: key, data };
    records.push(record);
  }
  return records;
}

describe("record batch codec", () => {
  it("round-trips keys, explicit hash keys, data and the arrival timestamp", () => {
    const random = seeded(7);
    for (let round = 0; round < 40; round++) {
      const records = randomRecords(random, 1 + Math.floor(random() * 20));
      const arrival = Math.floor(random() * 2 ** 47);
      const encoded = encodeRecordBatch(records, arrival);
      const { header, records: decoded } = decodeRecordBatch(encoded);
      expect(header).toEqual({
        version: 1,
        flags: 0,
        keyVersion: 0,
        arrivalTimestampMs: arrival,
        recordCount: records.length,
      });
      expect(decoded.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data)])).toEqual(
        records.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data)]),
      );
    }
  });

  it("visits records from an offset and stops when asked", () => {
    const records = randomRecords(seeded(3), 10);
    const encoded = encodeRecordBatch(records, 1);
    const seen: number[] = [];
    forEachRecord(encoded, 10, 4, (offset) => {
      seen.push(offset);
      return offset < 6;
    });
    expect(seen).toEqual([4, 5, 6]);
  });

  it("refuses bad records with typed errors before encoding", () => {
    const ok = { partitionKey: "k", data: Buffer.from("x") };
    expect(() => encodeRecordBatch([], 0)).toThrow(InvalidRecordError);
    expect(() => encodeRecordBatch([{ partitionKey: "", data: Buffer.alloc(1) }], 0)).toThrow(
      InvalidRecordError,
    );
    expect(() =>
      encodeRecordBatch(
        [{ partitionKey: "x".repeat(PARTITION_KEY_CHARS_MAX + 1), data: Buffer.alloc(1) }],
        0,
      ),
    ).toThrow(InvalidRecordError);
    expect(() =>
      encodeRecordBatch([ok, { partitionKey: "k", data: Buffer.alloc(RECORD_DATA_BYTES_MAX + 1) }], 0),
    ).toThrow(expect.objectContaining({ code: "INVALID_RECORD", recordIndex: 1 }));
    expect(() => encodeRecordBatch([{ ...ok, explicitHashKey: "12a" }], 0)).toThrow(InvalidRecordError);
    expect(() => encodeRecordBatch([{ partitionKey: "k", data: "text" as unknown as Buffer }], 0)).toThrow(
      InvalidRecordError,
    );
    expect(() => encodeRecordBatch(new Array(APPEND_RECORDS_MAX + 1).fill(ok), 0)).toThrow(
      AppendTooLargeError,
    );
    const big = Buffer.alloc(RECORD_DATA_BYTES_MAX);
    expect(() => encodeRecordBatch(new Array(7).fill({ partitionKey: "k", data: big }), 0)).toThrow(
      AppendTooLargeError,
    );
  });

  it("rejects every truncation, trailing bytes and altered headers as corrupt", () => {
    const encoded = encodeRecordBatch(randomRecords(seeded(11), 5), 123);
    for (let length = 0; length < encoded.length; length++) {
      expect(() => decodeRecordBatch(encoded.subarray(0, length)), `length ${length}`).toThrow(
        CorruptBatchError,
      );
    }
    expect(() => decodeRecordBatch(Buffer.concat([encoded, Buffer.alloc(1)]))).toThrow(CorruptBatchError);
    const badVersion = Buffer.from(encoded);
    badVersion[0] = 9;
    expect(() => decodeRecordBatchHeader(badVersion)).toThrow(CorruptBatchError);
    const badCount = Buffer.from(encoded);
    badCount.writeUInt32LE(1_000_000, 4);
    expect(() => decodeRecordBatchHeader(badCount)).toThrow(CorruptBatchError);
    const badTime = Buffer.from(encoded);
    badTime.writeDoubleLE(Number.NaN, 8);
    expect(() => decodeRecordBatchHeader(badTime)).toThrow(CorruptBatchError);
  });

  it("never throws anything but CorruptBatchError on random garbage", () => {
    const random = seeded(99);
    for (let round = 0; round < 2000; round++) {
      const garbage = Buffer.alloc(Math.floor(random() * 64));
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
      if (garbage.length > 0 && random() < 0.5) garbage[0] = 1;
      try {
        decodeRecordBatch(garbage);
      } catch (error) {
        expect(error).toBeInstanceOf(CorruptBatchError);
      }
    }
  });
});
