// Proves the client's hand encoders write byte for byte what the generated encoder writes for any partial PutRecords/PutRecord request (fields left out take fromPartial's defaults), and the hand PutRecordsResponse decoder reads what the generated decoder reads and answers every truncated or damaged response like it or with a MalformedResponseError — never another exception.
import { streams } from "@sluice/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodePutRecordsResponse,
  encodePutRecordRequest,
  encodePutRecordsRequest,
  MalformedResponseError,
} from "../src/index.js";

/** Keys and names with multi-byte characters and the odd unpaired surrogate. */
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }));
const bytes = fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array));

const putRecordsRequest = fc.record(
  {
    streamName: text,
    streamArn: text,
    records: fc.array(
      fc.record({ data: bytes, partitionKey: text, explicitHashKey: text }, { requiredKeys: [] }),
      { maxLength: 30 },
    ),
    producerId: bytes,
    producerShardId: text,
    producerSequence: fc.maxSafeNat(),
  },
  { requiredKeys: [] },
);

const putRecordRequest = fc.record(
  {
    streamName: text,
    data: bytes,
    partitionKey: text,
    explicitHashKey: text,
    sequenceNumberForOrdering: text,
    streamArn: text,
    producerId: bytes,
    producerShardId: text,
    producerSequence: fc.maxSafeNat(),
  },
  { requiredKeys: [] },
);

const putRecordsResponse = fc.record({
  failedRecordCount: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
  records: fc.array(
    fc.record({
      sequenceNumber: fc.oneof(fc.constant(""), fc.stringMatching(/^[0-9]{56}$/)),
      shardId: fc.oneof(fc.constant(""), fc.constant("shardId-000000000007")),
      errorCode: fc.oneof(fc.constant(""), fc.constant("ProvisionedThroughputExceededException")),
      errorMessage: text,
    }),
    { maxLength: 40 },
  ),
  encryptionType: fc.oneof(fc.constant(""), fc.constant("KMS"), text),
});

/** Unknown fields of every wire type proto3 uses, to be skipped by both decoders. */
const unknownFields = Buffer.from([
  (9 << 3) | 0,
  0xac,
  0x02, // varint 300
  (10 << 3) | 1,
  ...[1, 2, 3, 4, 5, 6, 7, 8], // fixed64
  (11 << 3) | 2,
  ...[3, 0x61, 0x62, 0x63], // length-delimited "abc"
  (12 << 3) | 5,
  ...[9, 9, 9, 9], // fixed32
]);

/** The hand decoder agrees with the generated one, or refuses with a MalformedResponseError. */
function agrees(input: Buffer): void {
  let expected: { value: streams.PutRecordsResponse } | { error: unknown };
  try {
    expected = { value: streams.PutRecordsResponse.decode(input) };
  } catch (error) {
    expected = { error };
  }
  let actual: streams.PutRecordsResponse;
  try {
    actual = decodePutRecordsResponse(input);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedResponseError);
    return;
  }
  expect("value" in expected, "the generated decoder threw where the hand decoder did not").toBe(true);
  if ("value" in expected) expect(actual).toEqual(expected.value);
}

describe("encodePutRecordsRequest", () => {
  it("writes byte for byte what the generated encoder writes for the request fromPartial makes", () => {
    fc.assert(
      fc.property(putRecordsRequest, (request) => {
        const reference = Buffer.from(
          streams.PutRecordsRequest.encode(streams.PutRecordsRequest.fromPartial(request)).finish(),
        );
        expect(encodePutRecordsRequest(request).toString("hex")).toBe(reference.toString("hex"));
      }),
      { numRuns: 300 },
    );
  });

  it("hands a producer sequence that is not a safe non-negative integer to the generated encoder", () => {
    const request = { streamName: "s", records: [{ data: Buffer.from("x"), partitionKey: "k" }] };
    for (const producerSequence of [-1, 0.5, 2 ** 60]) {
      const hand = (() => {
        try {
          return { bytes: encodePutRecordsRequest({ ...request, producerSequence }).toString("hex") };
        } catch (error) {
          return { error: String(error) };
        }
      })();
      const generated = (() => {
        try {
          return {
            bytes: Buffer.from(
              streams.PutRecordsRequest.encode(
                streams.PutRecordsRequest.fromPartial({ ...request, producerSequence }),
              ).finish(),
            ).toString("hex"),
          };
        } catch (error) {
          return { error: String(error) };
        }
      })();
      expect(hand).toEqual(generated);
    }
  });
});

describe("encodePutRecordRequest", () => {
  it("writes byte for byte what the generated encoder writes for the request fromPartial makes", () => {
    fc.assert(
      fc.property(putRecordRequest, (request) => {
        const reference = Buffer.from(
          streams.PutRecordRequest.encode(streams.PutRecordRequest.fromPartial(request)).finish(),
        );
        expect(encodePutRecordRequest(request).toString("hex")).toBe(reference.toString("hex"));
      }),
      { numRuns: 300 },
    );
  });
});

describe("decodePutRecordsResponse", () => {
  it("reads what the generated encoder writes, negative counts and unknown fields included", () => {
    fc.assert(
      fc.property(putRecordsResponse, (response) => {
        const encoded = Buffer.from(streams.PutRecordsResponse.encode(response).finish());
        expect(decodePutRecordsResponse(encoded)).toEqual(streams.PutRecordsResponse.decode(encoded));
        const withUnknown = Buffer.concat([unknownFields, encoded, unknownFields]);
        agrees(withUnknown);
        expect(decodePutRecordsResponse(withUnknown)).toEqual(response);
      }),
      { numRuns: 200 },
    );
  });

  it("answers every truncation and single-byte damage like the generated decoder or with a MalformedResponseError", () => {
    fc.assert(
      fc.property(
        putRecordsResponse,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (response, where, value) => {
          const encoded = Buffer.from(streams.PutRecordsResponse.encode(response).finish());
          for (let length = 0; length < encoded.length; length += 1 + (encoded.length >> 6)) {
            agrees(encoded.subarray(0, length));
          }
          if (encoded.length === 0) return;
          const damaged = Buffer.from(encoded);
          damaged[where % damaged.length] = value;
          agrees(damaged);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a field number 0, an end-group wire type and a varint longer than 10 bytes", () => {
    for (const garbage of [
      Buffer.from([0x02, 0x00]),
      Buffer.from([(1 << 3) | 4]),
      Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      Buffer.from([0x12, 0x05, 0x0a]),
    ]) {
      expect(() => decodePutRecordsResponse(garbage)).toThrow(MalformedResponseError);
    }
  });
});
