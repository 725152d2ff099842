// Proves forwarded replies round-trip and that bytes which are not a reply are refused, not misread.
import { describe, expect, it } from "vitest";
import { decodeForwardedReply, encodeForwardedReply } from "../src/forwarding.js";

describe("forwarded replies", () => {
  it("round-trips applied results and retries", () => {
    const applied = { kind: "applied", index: 7, result: { ok: true, value: { a: 1 } } } as const;
    expect(decodeForwardedReply(encodeForwardedReply(applied))).toEqual(applied);
    const refused = {
      kind: "applied",
      index: 8,
      result: { ok: false, code: "STREAM_EXISTS", message: "m" },
    } as const;
    expect(decodeForwardedReply(encodeForwardedReply(refused))).toEqual(refused);
    const retry = { kind: "retry", leaderHint: 2, reason: "not leader" } as const;
    expect(decodeForwardedReply(encodeForwardedReply(retry))).toEqual(retry);
  });

  it("refuses unknown codes and shapes", () => {
    expect(() =>
      decodeForwardedReply(
        Buffer.from('{"kind":"applied","index":1,"result":{"ok":false,"code":"NOPE","message":""}}'),
      ),
    ).toThrow(/does not decode/);
    expect(() => decodeForwardedReply(Buffer.from("{}"))).toThrow(/does not decode/);
    expect(() => decodeForwardedReply(Buffer.from("null"))).toThrow(/does not decode/);
  });
});
