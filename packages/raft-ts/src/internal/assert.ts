/**
 * Assertions catch our own bugs (typed errors report the world's). A failed assertion means the
 * node's state can no longer be trusted: it throws a plain Error and the caller should crash the
 * replica rather than continue.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`raft-ts assertion failed: ${message}`);
}
