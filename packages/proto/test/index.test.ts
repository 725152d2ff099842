// Proves the generated public API types encode and decode a PutRecords request byte for byte,
// with record payloads kept as Buffers.
import { describe, expect, it } from "vitest";
import { PUBLIC_API_PACKAGE, streams } from "../src/index.js";

describe("@sluice/proto", () => {
  it("round-trips a PutRecords request with binary payloads", () => {
    const request = streams.PutRecordsRequest.fromPartial({
      streamName: "orders",
      records: [
        { data: Buffer.from([0, 1, 2, 255]), partitionKey: "customer-1", explicitHashKey: "" },
        { data: Buffer.alloc(0), partitionKey: "customer-2", explicitHashKey: "42" },
      ],
    });
    const bytes = streams.PutRecordsRequest.encode(request).finish();
    const decoded = streams.PutRecordsRequest.decode(bytes);
    expect(decoded).toEqual(request);
    expect(Buffer.isBuffer(decoded.records[0]?.data)).toBe(true);
  });

  it("names the public gRPC service under the sluice.v1 package", () => {
    expect(PUBLIC_API_PACKAGE).toBe("sluice.v1");
    expect(streams.StreamsServiceService.putRecords.path).toBe("/sluice.v1.StreamsService/PutRecords");
  });
});
