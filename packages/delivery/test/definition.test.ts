// Proves the pure parts of delivery streams: definitions are validated once with the documented
// ranges and defaults, batch keys follow prefix/yyyy/MM/dd/HH/<delivery>-<shard>-<first>-<last>
// (so a retried batch has the same key), records encode as raw lines or JSON lines, and
// sequence numbers order as numbers.

import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  batchBody,
  batchKey,
  compareSequenceNumbers,
  type DeliveryBatch,
  encodeRecord,
  InvalidDefinitionError,
  validateDefinition,
} from "../src/index.js";

const IDENTITY = { id: "0123456789abcdef", createdAtMs: 1_700_000_000_000 };
const FILES = { kind: "files", directory: "/tmp/out", prefix: "p/", errorPrefix: "e/" } as const;

describe("validateDefinition", () => {
  it("fills the defaults: direct put, 5 MiB, 300 s, raw, uncompressed", () => {
    const definition = validateDefinition({ name: "d", destination: FILES }, IDENTITY);
    expect(definition).toMatchObject({
      source: { kind: "direct-put", shardCount: 2 },
      bufferSizeBytes: 5 * 1_048_576,
      bufferIntervalMs: 300_000,
      format: "raw",
      compression: "none",
    });
  });

  it("refuses buffering hints outside 1-128 MiB and 0-900 s, and bad names and destinations", () => {
    const bad = [
      { name: "d", destination: FILES, bufferSizeBytes: 1_048_575 },
      { name: "d", destination: FILES, bufferSizeBytes: 128 * 1_048_576 + 1 },
      { name: "d", destination: FILES, bufferIntervalMs: 900_001 },
      { name: "d", destination: FILES, bufferIntervalMs: -1 },
      { name: "bad name", destination: FILES },
      { name: "d", destination: { ...FILES, directory: "relative" } },
      { name: "d", destination: { ...FILES, prefix: "../up" } },
      { name: "d", destination: { kind: "s3", bucket: "B!", prefix: "", errorPrefix: "" } },
      {
        name: "d",
        destination: {
          kind: "postgres",
          connectionString: "postgres://x",
          table: "drop table",
          errorTable: "e",
        },
      },
    ] as const;
    for (const input of bad) {
      expect(() => validateDefinition(input as never, IDENTITY), JSON.stringify(input)).toThrow(
        InvalidDefinitionError,
      );
    }
    expect(
      validateDefinition({ name: "d", destination: FILES, bufferIntervalMs: 0 }, IDENTITY).bufferIntervalMs,
    ).toBe(0);
  });
});

describe("batches", () => {
  const record = (sequenceNumber: string, data: string) => ({
    sequenceNumber,
    partitionKey: 'k"1',
    data: Buffer.from(data),
    approximateArrivalTimestampMs: Date.UTC(2026, 0, 2, 3, 4, 5),
  });

  it("keys a batch by prefix, the first record's UTC hour, shard and range", () => {
    const definition = validateDefinition({ name: "d", destination: FILES, compression: "gzip" }, IDENTITY);
    const records = [record("100", "a"), record("205", "b")];
    const lines = records.map((r) => encodeRecord(r, "raw"));
    const batch: DeliveryBatch = {
      shardId: "shardId-000000000001",
      firstSequenceNumber: "100",
      lastSequenceNumber: "205",
      firstArrivalMs: records[0]?.approximateArrivalTimestampMs ?? 0,
      records,
      lines,
      bytes: 4,
    };
    expect(batchKey(definition, batch, "p/")).toBe("p/2026/01/02/03/d-shardId-000000000001-100-205.gz");
    expect(gunzipSync(batchBody(batch, "gzip")).toString()).toBe("a\nb\n");
  });

  it("encodes JSON lines with the key, sequence number, arrival time and base64 data", () => {
    const line = encodeRecord(record("7", "hi"), "json-lines").toString();
    expect(line.endsWith("\n")).toBe(true);
    expect(JSON.parse(line)).toEqual({
      partitionKey: 'k"1',
      sequenceNumber: "7",
      arrivalTimestampMs: Date.UTC(2026, 0, 2, 3, 4, 5),
      data: Buffer.from("hi").toString("base64"),
    });
  });

  it("orders sequence numbers as numbers", () => {
    expect(compareSequenceNumbers("9", "10")).toBe(-1);
    expect(
      compareSequenceNumbers(
        "49590338271490256608559692538361571095921575989136588898",
        "49590338271490256608559692538361571095921575989136588899",
      ),
    ).toBe(-1);
    expect(compareSequenceNumbers("5", "5")).toBe(0);
    expect(compareSequenceNumbers("11", "10")).toBe(1);
  });
});
