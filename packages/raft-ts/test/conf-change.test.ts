// Proves the ConfChange codec round-trips every valid change and rejects anything else with a typed error.
import fc from "fast-check";
import { type ConfChange, decodeConfChange, encodeConfChange, InvalidConfChangeError } from "raft-ts";
import { describe, expect, it } from "vitest";

const changeArbitrary = fc.record({
  type: fc.constantFrom<ConfChange["type"]>("add-voter", "add-learner", "remove-node"),
  nodeId: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
});

describe("ConfChange codec", () => {
  it("round-trips every valid change in at most 10 bytes", () => {
    fc.assert(
      fc.property(changeArbitrary, (change) => {
        const encoded = encodeConfChange(change);
        expect(encoded.length).toBeLessThanOrEqual(10);
        expect(decodeConfChange(encoded)).toEqual(change);
      }),
    );
  });

  it("encodes small ids in 3 bytes", () => {
    expect(encodeConfChange({ type: "add-voter", nodeId: 5 })).toEqual(new Uint8Array([1, 0, 5]));
  });

  it("decodes arbitrary bytes to a valid change or an InvalidConfChangeError, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        try {
          const change = decodeConfChange(bytes);
          expect(encodeConfChange(change)).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidConfChangeError);
        }
      }),
    );
  });

  it.each([
    [{ type: "add-voter", nodeId: 0 }],
    [{ type: "add-voter", nodeId: -3 }],
    [{ type: "add-voter", nodeId: 1.5 }],
    [{ type: "add-voter", nodeId: 2 ** 53 }],
    [{ type: "promote", nodeId: 1 }],
  ])("refuses to encode %j", (change) => {
    expect(() => encodeConfChange(change as ConfChange)).toThrow(InvalidConfChangeError);
  });
});
