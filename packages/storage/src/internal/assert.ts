/** Throws when an invariant of our own code does not hold: a bug, never a condition of the world. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`@sluice/storage assertion failed: ${message}`);
}
