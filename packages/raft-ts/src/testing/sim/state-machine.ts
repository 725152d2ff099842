import type { Entry } from "../../types.js";
import { EntryType } from "../../types.js";

/**
 * The simulated application. Its state is the sequence of entries it applied, kept as a hash
 * chain (index, hash of every entry up to index): two replicas with the same (index, hash) applied
 * the same entries in the same order, and a snapshot is four bytes. The cluster keeps the one
 * global list of what was applied at each index, so the chain is checkable entry by entry.
 *
 * Proposals carry their id in their first four bytes (little endian, ids start at 1), so the
 * identity of an entry is a number: its `key`.
 */

/** Keys of entries that are not proposals: the leader's empty no-op and membership changes. */
export const NOOP_KEY = 0;
const CONF_CHANGE_KEY_BIT = 0x4000_0000;
/** Proposal ids stay below this so they never collide with conf-change keys. */
export const MAX_PROPOSAL_ID = CONF_CHANGE_KEY_BIT - 1;

/** Builds a proposal payload of `bytes` bytes (at least 4) whose identity is `id`. */
export function encodeProposal(id: number, bytes: number): Uint8Array {
  const data = new Uint8Array(Math.max(4, bytes));
  data[0] = id & 0xff;
  data[1] = (id >>> 8) & 0xff;
  data[2] = (id >>> 16) & 0xff;
  data[3] = (id >>> 24) & 0xff;
  for (let i = 4; i < data.length; i++) data[i] = (id + i) & 0xff;
  return data;
}

/** The identity of an entry: the proposal id, NOOP_KEY, or a hash of a conf change. */
export function entryKey(entry: Entry): number {
  const data = entry.data;
  if (entry.type === EntryType.ConfChange) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ (data[i] ?? 0), 0x01000193);
    return CONF_CHANGE_KEY_BIT | (hash >>> 2);
  }
  if (data.length < 4) return NOOP_KEY;
  return ((data[0] ?? 0) | ((data[1] ?? 0) << 8) | ((data[2] ?? 0) << 16) | ((data[3] ?? 0) << 24)) >>> 0;
}

/** True for keys of application proposals (as opposed to no-ops and conf changes). */
export function isProposalKey(key: number): boolean {
  return key !== NOOP_KEY && (key & CONF_CHANGE_KEY_BIT) === 0;
}

/** The state after applying the entry with `key` at `index` on top of `previous`. */
export function chainHash(previous: number, index: number, key: number): number {
  let h = Math.imul(previous ^ key, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15) ^ index, 0x85ebca77) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/** The state-machine part of a snapshot (its index is in the snapshot metadata). */
export function encodeSnapshotData(hash: number): Uint8Array {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, hash, true);
  return data;
}

export function decodeSnapshotData(data: Uint8Array): number {
  if (data.length === 0) return 0;
  if (data.length !== 4) throw new Error(`simulated snapshot data must be 4 bytes, got ${data.length}`);
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
}
