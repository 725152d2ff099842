/**
 * Majority arithmetic over a voter set. `committedIndex` is on the commit path of every append
 * acknowledgement, so it sorts a small reused scratch array in place rather than allocating.
 */

/** Votes needed to win among `voterCount` voters. */
export function majority(voterCount: number): number {
  return (voterCount >> 1) + 1;
}

/**
 * The largest index that at least a majority of `matches[0..count)` have reached. Sorts the
 * prefix of `matches` in place (insertion sort: voter sets are small). Returns 0 for no voters.
 */
export function committedIndex(matches: Float64Array | number[], count: number): number {
  if (count === 0) return 0;
  for (let i = 1; i < count; i++) {
    const value = matches[i] as number;
    let j = i - 1;
    while (j >= 0 && (matches[j] as number) > value) {
      matches[j + 1] = matches[j] as number;
      j--;
    }
    matches[j + 1] = value;
  }
  // Ascending order: the entry with a majority at or above it.
  return matches[count - majority(count)] as number;
}

export type VoteResult = "won" | "lost" | "pending";

/** The outcome of an election among `voterCount` voters with these grants and rejections. */
export function voteResult(voterCount: number, granted: number, rejected: number): VoteResult {
  const needed = majority(voterCount);
  if (granted >= needed) return "won";
  if (voterCount - rejected < needed) return "lost";
  return "pending";
}
