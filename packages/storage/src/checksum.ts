/**
 * CRC-32 (IEEE, as zlib computes it) of entry data, computed once per buffer and shared by every
 * layer that checks or stores entries: the peer transport (whose frame CRC covers the entries it
 * carries) and the journal (whose record CRC covers header and data). A 64 KiB entry used to be
 * checksummed three times on a leader (once per peer frame, once in the journal) and twice on a
 * follower; now once on each node.
 *
 * Sharing works by CRC algebra, not by changing any format: the CRC of a concatenation A‖B is a
 * function of crc(A), crc(B) and the length of B (zlib's crc32_combine), so a writer that knows
 * crc(data) extends a header's CRC over the data in about a microsecond instead of reading the
 * data again. Each checksum is remembered per buffer object (a WeakMap, so it lives exactly as
 * long as the buffer). The contract that makes this safe is Raft's own: entry data is immutable
 * once proposed or received; a caller that mutates a buffer after its checksum was taken gets
 * that old checksum, and the reader's CRC check reports the mismatch.
 */
import { crc32 } from "node:zlib";
import { ENTRY_CHECKSUM_CACHE_BYTES_MIN } from "./constants.js";

/** The CRC-32 polynomial, bit-reflected (zlib's POLY). */
const POLYNOMIAL_REFLECTED = 0xedb88320;

/** a·b modulo the CRC polynomial, both polynomials in reflected form (zlib's multmodp). */
function multiplyModulo(a: number, b: number): number {
  let m = 0x8000_0000;
  let product = 0;
  for (;;) {
    if ((a & m) !== 0) {
      product ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL_REFLECTED : b >>> 1;
  }
  return product >>> 0;
}

/** POWERS[k] = x^(2^k) modulo the polynomial (zlib's x2n_table). */
const POWERS = new Uint32Array(32);
{
  let power = 0x4000_0000; // x^1
  POWERS[0] = power;
  for (let k = 1; k < 32; k++) {
    power = multiplyModulo(power, power);
    POWERS[k] = power;
  }
}

/** x^(8·bytes) modulo the polynomial: the operator that shifts a CRC past `bytes` zero bytes. */
function shiftOperator(bytes: number): number {
  let operator = 0x8000_0000; // x^0
  let k = 3; // 2^3 bits per byte
  // `bytes` may exceed 2^32; divide instead of shifting.
  while (bytes > 0) {
    if (bytes % 2 === 1) operator = multiplyModulo(POWERS[k & 31] as number, operator);
    bytes = Math.floor(bytes / 2);
    k += 1;
  }
  return operator;
}

/**
 * The CRC-32 of A‖B from crc(A), crc(B) and B's length in bytes (zlib's crc32_combine). Costs
 * O(log lengthB) 32-step multiplications: about a microsecond, whatever the length.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModulo(shiftOperator(lengthB), crcA >>> 0) ^ crcB) >>> 0;
}

const remembered = new WeakMap<Uint8Array, number>();

/**
 * The CRC-32 of `data`, computed on first use and remembered for this buffer object. Buffers
 * shorter than ENTRY_CHECKSUM_CACHE_BYTES_MIN are not remembered (checksumming them again costs
 * less than the bookkeeping); callers fold those into their running CRC directly.
 */
export function entryDataChecksum(data: Uint8Array): number {
  const known = remembered.get(data);
  if (known !== undefined) return known;
  const computed = crc32(data);
  if (data.byteLength >= ENTRY_CHECKSUM_CACHE_BYTES_MIN) remembered.set(data, computed);
  return computed;
}

/**
 * Records `checksum` as the CRC-32 of `data`, for a caller that has just verified it (the
 * transport, after a frame's CRC matched). Never call it with a checksum that was not computed
 * from these exact bytes: the journal would store it as the record's CRC.
 */
export function rememberEntryDataChecksum(data: Uint8Array, checksum: number): void {
  if (data.byteLength >= ENTRY_CHECKSUM_CACHE_BYTES_MIN) remembered.set(data, checksum >>> 0);
}
