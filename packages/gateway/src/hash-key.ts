/**
 * Hash keys: unsigned 128-bit integers, held as 16-byte big-endian Buffers so that byte order is
 * numeric order (`Buffer.compare`). A record's hash key is the MD5 of its partition key's UTF-8
 * bytes, or its ExplicitHashKey, a decimal string. Decimal conversion uses 32-bit limbs in plain
 * numbers: no BigInt on the write path.
 */
import { HASH_KEY_BYTES, HASH_KEY_DECIMAL_DIGITS_MAX, HASH_KEY_MAX_DECIMAL } from "./constants.js";
import { md5 } from "./md5.js";

/** 0, as 16 bytes. Frozen by convention: never write into it. */
export const HASH_KEY_MIN: Buffer = Buffer.alloc(HASH_KEY_BYTES, 0x00);
/** 2^128 − 1, as 16 bytes. Frozen by convention: never write into it. */
export const HASH_KEY_MAX: Buffer = Buffer.alloc(HASH_KEY_BYTES, 0xff);
export { HASH_KEY_BYTES, HASH_KEY_MAX_DECIMAL };

const TWO_POW_32 = 0x1_0000_0000;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/**
 * The hash key of a partition key: MD5 of its UTF-8 bytes, 16 bytes big-endian. A new Buffer.
 * Computed in JavaScript (`md5.ts`): for keys this short, a quarter to a seventh of `crypto.hash`'s CPU.
 */
export function partitionKeyHash(partitionKey: string): Buffer {
  return md5(partitionKey);
}

/**
 * Parses a canonical decimal hash key — "0", or 1 to 39 digits without a leading zero (the API
 * model's pattern `0|[1-9]\d{0,38}`) — into 16 bytes big-endian. Returns null when the string is
 * not canonical or the value exceeds 2^128 − 1; `isCanonicalDecimal` tells the two apart.
 */
export function parseHashKey(decimal: string): Buffer | null {
  if (!isCanonicalDecimal(decimal, HASH_KEY_DECIMAL_DIGITS_MAX)) return null;
  // Four 32-bit limbs, most significant first; value = value * 10 + digit, per digit.
  let l0 = 0;
  let l1 = 0;
  let l2 = 0;
  let l3 = 0;
  for (let i = 0; i < decimal.length; i++) {
    let carry = decimal.charCodeAt(i) - DIGIT_0;
    let t = l3 * 10 + carry;
    l3 = t % TWO_POW_32;
    carry = Math.floor(t / TWO_POW_32);
    t = l2 * 10 + carry;
    l2 = t % TWO_POW_32;
    carry = Math.floor(t / TWO_POW_32);
    t = l1 * 10 + carry;
    l1 = t % TWO_POW_32;
    carry = Math.floor(t / TWO_POW_32);
    t = l0 * 10 + carry;
    l0 = t % TWO_POW_32;
    if (t >= TWO_POW_32) return null; // above 2^128 − 1
  }
  const out = Buffer.allocUnsafe(HASH_KEY_BYTES);
  out.writeUInt32BE(l0, 0);
  out.writeUInt32BE(l1, 4);
  out.writeUInt32BE(l2, 8);
  out.writeUInt32BE(l3, 12);
  return out;
}

/** True when `s` is "0" or 1 to `maxDigits` decimal digits without a leading zero. */
export function isCanonicalDecimal(s: string, maxDigits: number): boolean {
  const n = s.length;
  if (n === 0 || n > maxDigits) return false;
  const first = s.charCodeAt(0);
  if (first === DIGIT_0) return n === 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return false;
  }
  return true;
}

/** The decimal form of a 16-byte big-endian hash key (no leading zeros). */
export function formatHashKey(bytes: Buffer): string {
  if (bytes.length !== HASH_KEY_BYTES) {
    throw new RangeError(`formatHashKey: a hash key has ${HASH_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  // Eight 16-bit limbs, repeatedly divided by 10^4 (remainder * 2^16 + limb stays exact).
  const limbs = new Array<number>(8);
  for (let i = 0; i < 8; i++) limbs[i] = bytes.readUInt16BE(i * 2);
  const chunks: string[] = [];
  let nonZero = limbs.some((limb) => limb !== 0);
  while (nonZero) {
    let remainder = 0;
    nonZero = false;
    for (let i = 0; i < 8; i++) {
      const t = remainder * 0x1_0000 + (limbs[i] as number);
      const q = Math.floor(t / 10_000);
      limbs[i] = q;
      remainder = t - q * 10_000;
      if (q !== 0) nonZero = true;
    }
    chunks.push(nonZero ? String(remainder).padStart(4, "0") : String(remainder));
  }
  if (chunks.length === 0) return "0";
  return chunks.reverse().join("");
}

/** Numeric order of two 16-byte hash keys: negative, 0 or positive. */
export function compareHashKeys(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}
