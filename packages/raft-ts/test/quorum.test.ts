// Proves the allocation-free majority computations agree with simple sort-based references.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { committedIndex, majority, voteResult } from "../src/internal/quorum.js";

/** The reference: sort descending, the value at the majority's position. */
function referenceCommitted(matches: readonly number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[Math.floor(matches.length / 2)] as number;
}

/** The reference: count nodes with match >= candidate for every candidate value. */
function bruteForceCommitted(matches: readonly number[]): number {
  let best = 0;
  for (const candidate of matches) {
    const count = matches.filter((m) => m >= candidate).length;
    if (count > matches.length / 2 && candidate > best) best = candidate;
  }
  return best;
}

describe("quorum", () => {
  it("committedIndex equals the sorted median and the brute-force majority index", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 9 }), (matches) => {
        const scratch = new Float64Array(Math.max(1, matches.length));
        scratch.set(matches);
        const fast = committedIndex(scratch, matches.length);
        expect(fast).toBe(referenceCommitted(matches));
        expect(fast).toBe(bruteForceCommitted(matches));
      }),
    );
  });

  it("voteResult matches counting", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.nat(9), fc.nat(9), (voters, grantedRaw, rejectedRaw) => {
        const granted = Math.min(grantedRaw, voters);
        const rejected = Math.min(rejectedRaw, voters - granted);
        const result = voteResult(voters, granted, rejected);
        const needed = Math.floor(voters / 2) + 1;
        const expected =
          granted >= needed ? "won" : granted + (voters - granted - rejected) < needed ? "lost" : "pending";
        expect(result).toBe(expected);
      }),
    );
  });

  it("majority is floor(n/2)+1", () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });
});
