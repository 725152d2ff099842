// Proves that the admin service's zero-copy AppendRequest decoder reads every request exactly as
// the generated decoder does (unknown fields skipped), hands out record data as views of the
// received buffer, and throws on truncated input instead of reading past it.
import { admin } from "@sluice/proto";
import { describe, expect, it } from "vitest";
import { decodeAppendRequest } from "../src/node/admin-service.js";

function encode(request: admin.AppendRequest): Buffer {
  return Buffer.from(admin.AppendRequest.encode(request).finish());
}

describe("decodeAppendRequest", () => {
  it("matches the generated decoder, with data as views of the message", () => {
    for (let seed = 0; seed < 50; seed++) {
      const request: admin.AppendRequest = {
        groupId: seed === 7 ? 4_294_967_295 : seed * 1_000_003,
        records: Array.from({ length: seed % 17 }, (_, position) => ({
          partitionKey: `kéy-${seed}-${position}`,
          data: Buffer.alloc((seed * 977 + position * 131) % 9_000, position + 1),
          explicitHashKey: position % 3 === 0 ? `${seed}${position}12345678901234567890` : "",
        })),
      };
      const wire = encode(request);
      const decoded = decodeAppendRequest(wire);
      const generated = admin.AppendRequest.decode(wire);
      // Data compared with Buffer.equals: vitest's deep equality walks buffers byte by byte.
      const withoutData = (r: admin.AppendRequest) => ({
        groupId: r.groupId,
        records: r.records.map(({ partitionKey, explicitHashKey }) => ({ partitionKey, explicitHashKey })),
      });
      expect(withoutData(decoded)).toEqual(withoutData(generated));
      decoded.records.forEach((record, position) => {
        expect(record.data.equals(generated.records[position]?.data ?? Buffer.alloc(0))).toBe(true);
        if (record.data.length > 0) expect(record.data.buffer).toBe(wire.buffer);
      });
    }
  });

  it("keeps the low 32 bits of a varint longer than five bytes exactly, as the generated decoder does", () => {
    // group_id as a nine-byte varint (2^63 - 1): summed in a double, its low bits were lost.
    const long = Buffer.from([8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(decodeAppendRequest(long).groupId).toBe(admin.AppendRequest.decode(long).groupId);
    expect(decodeAppendRequest(long).groupId).toBe(0xffff_ffff);
  });

  it("skips fields it does not know, in the request and in records", () => {
    const known = encode({
      groupId: 5,
      records: [{ partitionKey: "k", data: Buffer.from("v"), explicitHashKey: "" }],
    });
    // field 9 varint 300, field 10 length-delimited "xyz", field 11 fixed32, field 12 fixed64.
    const unknown = Buffer.from([
      0x48, 0xac, 0x02, 0x52, 3, 120, 121, 122, 0x5d, 1, 2, 3, 4, 0x61, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    const record = Buffer.concat([Buffer.from([0x0a, 1, 107]), unknown, Buffer.from([0x12, 1, 118])]);
    const wire = Buffer.concat([unknown, known.subarray(0, 2), Buffer.from([0x12, record.length]), record]);
    expect(decodeAppendRequest(wire)).toEqual(admin.AppendRequest.decode(wire));
  });

  it("throws on every truncation of a valid request", () => {
    const wire = encode({
      groupId: 300,
      records: [{ partitionKey: "key", data: Buffer.alloc(200, 1), explicitHashKey: "42" }],
    });
    for (let length = 1; length < wire.length; length++) {
      const cut = wire.subarray(0, length);
      // A cut that happens to end on a field boundary of the outer message is a valid request.
      let generated: admin.AppendRequest | null = null;
      try {
        generated = admin.AppendRequest.decode(cut);
      } catch {
        generated = null;
      }
      if (generated === null) expect(() => decodeAppendRequest(cut), `cut at ${length}`).toThrow();
      else expect(decodeAppendRequest(cut)).toEqual(generated);
    }
  });
});
