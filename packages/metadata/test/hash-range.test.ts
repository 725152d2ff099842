// Proves the hash key split matches Kinesis (h = floor(2^128 / N), last shard ends at 2^128 − 1) and placement picks one node per zone, deterministically.
import { describe, expect, it } from "vitest";
import { HASH_KEY_MAX, splitHashKeySpace } from "../src/hash-range.js";
import { placeReplicas } from "../src/placement.js";
import type { NodeInfo } from "../src/state.js";

const TWO_128 = 1n << 128n;

describe("splitHashKeySpace", () => {
  it("gives one shard the whole space", () => {
    expect(splitHashKeySpace(1)).toEqual([{ start: "0", end: "340282366920938463463374607431768211455" }]);
    expect(HASH_KEY_MAX.toString()).toBe("340282366920938463463374607431768211455");
  });

  it("splits 3 shards at floor(2^128 / 3)", () => {
    const h = TWO_128 / 3n;
    expect(splitHashKeySpace(3)).toEqual([
      { start: "0", end: (h - 1n).toString() },
      { start: h.toString(), end: (2n * h - 1n).toString() },
      { start: (2n * h).toString(), end: "340282366920938463463374607431768211455" },
    ]);
    expect(h.toString()).toBe("113427455640312821154458202477256070485");
  });

  it.each([1, 2, 3, 4, 7, 16, 500])("covers the space without gaps or overlaps for N=%i", (n) => {
    const ranges = splitHashKeySpace(n);
    const h = TWO_128 / BigInt(n);
    expect(ranges).toHaveLength(n);
    expect(BigInt(ranges[0]?.start ?? -1)).toBe(0n);
    expect(BigInt(ranges[n - 1]?.end ?? -1)).toBe(HASH_KEY_MAX);
    ranges.forEach((range, i) => {
      expect(BigInt(range.start)).toBe(BigInt(i) * h);
      if (i < n - 1) expect(BigInt(range.end)).toBe(BigInt(i + 1) * h - 1n);
      if (i > 0) expect(BigInt(range.start)).toBe(BigInt(ranges[i - 1]?.end ?? -1) + 1n);
    });
  });

  it("gives the last of 7 shards the remainder", () => {
    const ranges = splitHashKeySpace(7);
    const h = TWO_128 / 7n;
    expect(TWO_128 % 7n).not.toBe(0n);
    expect(BigInt(ranges[6]?.end ?? 0) - BigInt(ranges[6]?.start ?? 0) + 1n).toBe(h + (TWO_128 % 7n));
  });

  it("refuses a shard count below 1", () => {
    expect(() => splitHashKeySpace(0)).toThrow(/positive integer/);
  });
});

function nodes(...specs: [number, string][]): Map<number, NodeInfo> {
  return new Map(
    specs.map(([nodeId, zone]) => [
      nodeId,
      { nodeId, zone, peerAddress: `p${nodeId}`, gatewayAddress: `g${nodeId}` },
    ]),
  );
}

describe("placeReplicas", () => {
  it("puts three nodes in three zones on every group", () => {
    const three = nodes([1, "a"], [2, "b"], [3, "c"]);
    for (let groupId = 1; groupId < 10; groupId++) expect(placeReplicas(three, groupId)).toEqual([1, 2, 3]);
  });

  it("takes one node per zone and spreads groups over a zone's nodes", () => {
    const six = nodes([1, "a"], [2, "b"], [3, "c"], [4, "a"], [5, "b"], [6, "c"]);
    const seen = new Set<number>();
    for (let groupId = 1; groupId <= 6; groupId++) {
      const replicas = placeReplicas(six, groupId);
      expect(replicas).toHaveLength(3);
      expect(new Set(replicas.map((id) => six.get(id)?.zone)).size).toBe(3);
      for (const id of replicas) seen.add(id);
    }
    expect(seen.size).toBe(6);
  });

  it("fills from other nodes when zones are fewer than three, and uses what there is", () => {
    expect(placeReplicas(nodes([1, "a"], [2, "a"], [3, "a"], [4, "a"]), 1)).toHaveLength(3);
    expect(placeReplicas(nodes([1, "a"]), 5)).toEqual([1]);
    expect(placeReplicas(new Map(), 5)).toEqual([]);
  });

  it("is a function of the node set and group id only", () => {
    const a = nodes([3, "c"], [1, "a"], [2, "b"], [4, "a"]);
    const b = nodes([4, "a"], [2, "b"], [1, "a"], [3, "c"]);
    for (let groupId = 1; groupId < 20; groupId++)
      expect(placeReplicas(a, groupId)).toEqual(placeReplicas(b, groupId));
  });
});
