import { InvalidConfChangeError } from "./errors.js";
import type { NodeId } from "./types.js";

/**
 * A membership change, one node at a time (etcd's simple changes): it is proposed as a
 * ConfChange entry and takes effect on each node when that node applies the entry and calls
 * `RaftNode.applyConfChange`. Adding a learner that is a voter demotes it; adding a voter that is
 * a learner promotes it.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}
export type ConfChangeType = "add-voter" | "add-learner" | "remove-node";

const FORMAT_VERSION = 1;
const TYPE_CODES: Record<ConfChangeType, number> = { "add-voter": 0, "add-learner": 1, "remove-node": 2 };
const TYPES_BY_CODE: readonly ConfChangeType[] = ["add-voter", "add-learner", "remove-node"];
/** version, type, then the node id as an unsigned LEB128 varint of at most 8 bytes (53 bits). */
const MAX_ENCODED_BYTES = 2 + 8;

export function isValidNodeId(id: unknown): id is NodeId {
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0;
}

/** Encodes a change compactly (2 + up to 8 bytes). Throws InvalidConfChangeError on a bad type or id. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const code = TYPE_CODES[change.type];
  if (code === undefined) throw new InvalidConfChangeError(`unknown type ${String(change.type)}`);
  if (!isValidNodeId(change.nodeId)) {
    throw new InvalidConfChangeError(`node id must be a positive safe integer, got ${String(change.nodeId)}`);
  }
  const out = new Uint8Array(MAX_ENCODED_BYTES);
  out[0] = FORMAT_VERSION;
  out[1] = code;
  let length = 2;
  let value = change.nodeId;
  // Division rather than bit shifts: node ids may exceed 32 bits.
  while (value >= 0x80) {
    out[length++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[length++] = value;
  return out.subarray(0, length);
}

/** Decodes what encodeConfChange wrote. Throws InvalidConfChangeError on anything else. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < 3 || data.length > MAX_ENCODED_BYTES) {
    throw new InvalidConfChangeError(
      `encoded change must be 3 to ${MAX_ENCODED_BYTES} bytes, got ${data.length}`,
    );
  }
  if (data[0] !== FORMAT_VERSION) throw new InvalidConfChangeError(`unknown format version ${data[0]}`);
  const type = TYPES_BY_CODE[data[1] ?? 255];
  if (type === undefined) throw new InvalidConfChangeError(`unknown type code ${data[1]}`);
  let value = 0;
  let scale = 1;
  for (let i = 2; i < data.length; i++) {
    const byte = data[i] ?? 0;
    const last = i === data.length - 1;
    if (last !== byte < 0x80) throw new InvalidConfChangeError("malformed node id varint");
    if (last && byte === 0 && i > 2) throw new InvalidConfChangeError("non-canonical node id varint");
    value += (byte & 0x7f) * scale;
    scale *= 0x80;
  }
  if (!isValidNodeId(value))
    throw new InvalidConfChangeError(`node id ${value} is not a positive safe integer`);
  return { type, nodeId: value };
}
