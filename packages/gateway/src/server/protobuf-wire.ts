/**
 * The few pieces of the protobuf wire format the hand codecs (put-codec.ts, forward-codec.ts)
 * share: wire types, and unsigned varints up to 2^53 written without BigInt.
 */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

/** Bytes the varint encoding of a non-negative safe integer takes. */
export function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** Writes `value` (a non-negative safe integer) as a varint at `at`; returns the offset after it. */
export function writeVarint(out: Buffer, value: number, at: number): number {
  while (value >= 128) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}
