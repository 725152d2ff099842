/**
 * Orders Sluice sequence numbers, which are decimal strings without leading zeros: a longer one
 * is larger, and equal lengths compare as text. No BigInt on the hot path. Returns -1, 0 or 1.
 */
export function compareSequenceNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
