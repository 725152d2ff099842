// Proves the CBOR codec reads RFC 8949's examples and the forms the AWS SDK for Java v2 sends (indefinite lengths, tag 1 epoch milliseconds, byte-string blobs), round-trips documents, and answers any truncated, malformed or random input with a typed error — never a crash.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CborError, CborTag, decodeCbor, encodeCbor } from "../src/http/cbor.js";
import { CBOR_CODEC } from "../src/http/cbor-codec.js";
import { decodeStructure, encodeStructure } from "../src/http/document.js";
import { KinesisHttpError } from "../src/http/errors.js";
import { OPERATIONS } from "../src/http/shapes.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
/** Plain objects for comparison (decoded maps have no prototype). */
const plain = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof CborTag) return { tag: value.tag, value: plain(value.value) };
  if (value !== null && typeof value === "object" && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, plain(entry)]));
  }
  return value;
};

describe("CBOR decoding", () => {
  it("reads the examples of RFC 8949 appendix A", () => {
    const cases: [string, unknown][] = [
      ["00", 0],
      ["17", 23],
      ["1818", 24],
      ["1903e8", 1000],
      ["1a000f4240", 1_000_000],
      ["1b000000e8d4a51000", 1_000_000_000_000],
      ["20", -1],
      ["3863", -100],
      ["f90000", 0],
      ["f93c00", 1],
      ["f97bff", 65504],
      ["fa47c35000", 100000],
      ["fb3ff199999999999a", 1.1],
      ["f4", false],
      ["f5", true],
      ["f6", null],
      ["6449455446", "IETF"],
      ["62c3bc", "\u00fc"],
      ["83010203", [1, 2, 3]],
      ["9f018202039f0405ffff", [1, [2, 3], [4, 5]]],
      ["a26161016162820203", { a: 1, b: [2, 3] }],
      ["bf61610161629f0203ffff", { a: 1, b: [2, 3] }],
      ["7f657374726561646d696e67ff", "streaming"],
      ["c11a514b67b0", { tag: 1, value: 1363896240 }],
    ];
    for (const [input, expected] of cases) expect(plain(decodeCbor(hex(input))), input).toEqual(expected);
    expect(decodeCbor(hex("4401020304"))).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(decodeCbor(hex("5f42010243030405ff"))).toEqual(Buffer.from([1, 2, 3, 4, 5]));
  });

  it("round-trips -0 as -0 (a float, not the integer 0)", () => {
    // Found by the property below (seed 1661365190): -0 came back as +0.
    expect(Object.is(decodeCbor(encodeCbor(-0)), -0)).toBe(true);
    expect(Object.is((decodeCbor(encodeCbor({ a: [-0] })) as { a: number[] }).a[0], -0)).toBe(true);
  });

  it("round-trips documents", () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    );
    const document = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("node")),
        fc.dictionary(fc.string(), tie("node")),
      ),
    })).node;
    fc.assert(
      fc.property(document, (value) => {
        expect(plain(decodeCbor(encodeCbor(value)))).toEqual(plain(value));
      }),
    );
  });

  it("refuses every truncation of a valid item with CBOR_TRUNCATED", () => {
    const whole = encodeCbor({
      Records: [{ Data: Buffer.alloc(40, 7), PartitionKey: "k" }],
      N: 70_000,
      F: 1.5,
    });
    for (let length = 0; length < whole.length; length++) {
      expect(() => decodeCbor(whole.subarray(0, length))).toThrowError(
        expect.objectContaining({ code: "CBOR_TRUNCATED" }),
      );
    }
  });

  it("refuses malformed input with a typed error", () => {
    const cases: [string, string][] = [
      ["1c", "CBOR_MALFORMED"], // reserved additional information
      ["ff", "CBOR_MALFORMED"], // break outside an indefinite item
      ["1f", "CBOR_MALFORMED"], // indefinite unsigned integer
      ["a10102", "CBOR_MALFORMED"], // integer map key
      ["0000", "CBOR_MALFORMED"], // bytes after the item
      ["5f6161ff", "CBOR_MALFORMED"], // text chunk in a byte string
      ["62c328", "CBOR_INVALID_UTF8"],
      ["f0", "CBOR_MALFORMED"], // unassigned simple value
      ["9b00000001000000000000", "CBOR_TRUNCATED"], // a length far past the input
      ["81".repeat(100) + "00", "CBOR_TOO_DEEP"],
    ];
    for (const [input, code] of cases) {
      expect(() => decodeCbor(hex(input)), input).toThrowError(expect.objectContaining({ code }));
    }
  });

  it("answers random and mutated bytes with CborError only (fuzz)", () => {
    const seed = encodeCbor({
      StreamName: "s",
      Records: [{ Data: Buffer.from("hello"), PartitionKey: "p", ExplicitHashKey: "1" }],
      Timestamp: new CborTag(1, 1_700_000_000_000),
    });
    const mutated = fc
      .array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })
      .map((edits) => {
        const copy = Buffer.from(seed);
        for (const [at, byte] of edits) copy[at] = byte;
        return copy;
      });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
          mutated,
        ),
        (input) => {
          try {
            decodeCbor(input);
          } catch (error) {
            expect(error).toBeInstanceOf(CborError);
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe("CBOR_CODEC", () => {
  const putRecords = OPERATIONS.get("PutRecords");
  const getRecords = OPERATIONS.get("GetRecords");
  if (putRecords === undefined || getRecords === undefined) throw new Error("shapes changed");

  it("decodes a PutRecords body with byte-string blobs through the operation's shape", () => {
    // An indefinite-length map and array, as Jackson's CBOR generator writes them.
    const body = Buffer.concat([
      hex("bf"),
      encodeCbor("StreamName"),
      encodeCbor("orders"),
      encodeCbor("Records"),
      hex("9f"),
      encodeCbor({ Data: Buffer.from("one"), PartitionKey: "a" }),
      encodeCbor({ Data: Buffer.from("two"), PartitionKey: "b" }),
      hex("ff ff"),
    ]);
    const request = decodeStructure(putRecords.input, CBOR_CODEC.parse(body), CBOR_CODEC);
    expect(request).toEqual({
      streamName: "orders",
      records: [
        { data: Buffer.from("one"), partitionKey: "a" },
        { data: Buffer.from("two"), partitionKey: "b" },
      ],
    });
  });

  it("reads timestamps as epoch milliseconds, tagged or bare, and writes tag 1 around an integer", () => {
    expect(CBOR_CODEC.decodeTimestamp(new CborTag(1, 1_700_000_000_123), "T")).toBe(1_700_000_000_123);
    expect(CBOR_CODEC.decodeTimestamp(1_700_000_000_123, "T")).toBe(1_700_000_000_123);
    expect(encodeCbor(CBOR_CODEC.encodeTimestamp(1_700_000_000_123))).toEqual(hex("c1 1b 0000018bcfe5687b"));
    expect(() => CBOR_CODEC.decodeTimestamp("2024-01-01", "Timestamp")).toThrowError(/Timestamp must be/);
  });

  it("encodes a GetRecords response with blobs as byte strings and timestamps as tag 1", () => {
    const document = encodeStructure(
      getRecords.output,
      {
        records: [
          {
            sequenceNumber: "49",
            approximateArrivalTimestamp: 1_700_000_000_123,
            data: Buffer.from("x"),
            partitionKey: "k",
            encryptionType: 0,
          },
        ],
        nextShardIterator: "it",
        millisBehindLatest: 0,
        childShards: [],
      },
      CBOR_CODEC,
    );
    const decoded = decodeCbor(CBOR_CODEC.serialize(document)) as Record<string, unknown>;
    const record = (decoded.Records as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(record.Data).toEqual(Buffer.from("x"));
    expect(plain(record.ApproximateArrivalTimestamp)).toEqual({ tag: 1, value: 1_700_000_000_123 });
  });

  it("turns a wrong member type or a bad body into SerializationException", () => {
    const wrongBlob = encodeCbor({ StreamName: "s", Records: [{ Data: "b25l", PartitionKey: "a" }] });
    expect(() => decodeStructure(putRecords.input, CBOR_CODEC.parse(wrongBlob), CBOR_CODEC)).toThrowError(
      /Records\[0\]\.Data must be a byte string/,
    );
    for (const body of [Buffer.alloc(0), hex("bf 61"), hex("ff")]) {
      expect(() => CBOR_CODEC.parse(body)).toThrowError(KinesisHttpError);
      try {
        CBOR_CODEC.parse(body);
      } catch (error) {
        expect((error as KinesisHttpError).kinesisName).toBe("SerializationException");
      }
    }
    expect(plain(decodeCbor(CBOR_CODEC.serialize({ __type: "X", message: "m" })))).toEqual({
      __type: "X",
      message: "m",
    });
  });
});
