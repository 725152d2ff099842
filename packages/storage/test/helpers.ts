// Shared helpers of the storage tests: temporary data directories and deterministic entries whose
// bytes can be recomputed from (group, index, term), so any entry read back can be checked.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "raft-ts";

export function makeTempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `sluice-storage-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Deterministic entry data: a header naming (group, index, term) then a pseudo-random fill. */
export function entryData(groupId: number, index: number, term: number, bytes: number): Uint8Array {
  const data = Buffer.alloc(bytes);
  let x = (groupId * 2654435761 + index * 40503 + term * 9973) >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    data[i] = x & 0xff;
  }
  if (bytes >= 12) {
    data.writeUInt32LE(groupId, 0);
    data.writeUInt32LE(index, 4);
    data.writeUInt32LE(term, 8);
  }
  return data;
}

/** The size test entries of (group, index) have: varied, sometimes empty. */
export function entrySize(groupId: number, index: number, maxBytes = 2048): number {
  return (groupId * 7919 + index * 104729) % (maxBytes + 1);
}

export function makeEntry(
  groupId: number,
  index: number,
  term: number,
  bytes = entrySize(groupId, index),
): Entry {
  return { index, term, type: 0, data: entryData(groupId, index, term, bytes) };
}

export function makeEntries(groupId: number, lo: number, hi: number, term: number, bytes?: number): Entry[] {
  const entries: Entry[] = [];
  for (let index = lo; index < hi; index++) entries.push(makeEntry(groupId, index, term, bytes));
  return entries;
}

/** True when `entry` is exactly what makeEntry would produce for its own (group, index, term). */
export function entryIsIntact(groupId: number, entry: Entry): boolean {
  const expected = entryData(groupId, entry.index, entry.term, entry.data.length);
  return (
    Buffer.compare(
      Buffer.from(expected),
      Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength),
    ) === 0
  );
}
