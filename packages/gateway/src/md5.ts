/**
 * MD5 (RFC 1321) of a short string's UTF-8 bytes, in plain JavaScript, for partition keys.
 *
 * Why not `node:crypto`: a partition key is at most 256 characters (one to thirteen 64-byte
 * blocks), and for input that small the native call's fixed cost (argument checks, the string
 * crossing into C++, a Buffer made for the digest) is most of the price — about 2 µs per key on
 * the development machine against about 0.4 µs here (`pnpm --filter @sluice/gateway bench:md5`).
 * A gateway hashes every record it routes, so this was 13% of a forwarding gateway's CPU under
 * PutRecords of 500 records. The output is checked byte for byte against `node:crypto` in
 * `test/md5.test.ts`.
 *
 * Not a general-purpose hash: inputs longer than MD5_INLINE_BYTES_MAX UTF-8 bytes go to
 * `node:crypto`, and so does everything on a big-endian machine (the block words are read through
 * an Int32Array, which uses the machine's byte order; MD5's words are little-endian).
 */
import { hash } from "node:crypto";
import { endianness } from "node:os";

/** UTF-8 bytes hashed here: 256 UTF-16 code units of at most 3 bytes each (a partition key). */
export const MD5_INLINE_BYTES_MAX = 768;
const BLOCK_BYTES = 64;
/** The message, its 0x80 marker and 8 length bytes, rounded up to whole blocks. */
const SCRATCH_BYTES = Math.ceil((MD5_INLINE_BYTES_MAX + 1 + 8) / BLOCK_BYTES) * BLOCK_BYTES;
const LITTLE_ENDIAN = endianness() === "LE";

const scratchBuffer = Buffer.alloc(SCRATCH_BYTES);
const scratchWords = new Int32Array(scratchBuffer.buffer, scratchBuffer.byteOffset, SCRATCH_BYTES / 4);

/** The digest state (A, B, C, D) between blocks. */
const state = new Int32Array(4);

/** Writes the MD5 of `text`'s UTF-8 bytes into `out` at `offset` (16 bytes). */
export function md5Into(text: string, out: Uint8Array, offset: number): void {
  const length = LITTLE_ENDIAN ? load(text) : -1;
  if (length < 0) {
    out.set(hash("md5", text, "buffer"), offset);
    return;
  }
  const total = pad(length);
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  for (let word = 0; word < total >>> 2; word += 16) compress(word);
  writeWord(out, offset, state[0] as number);
  writeWord(out, offset + 4, state[1] as number);
  writeWord(out, offset + 8, state[2] as number);
  writeWord(out, offset + 12, state[3] as number);
}

/** The MD5 of `text`'s UTF-8 bytes as a new 16-byte Buffer. */
export function md5(text: string): Buffer {
  const out = Buffer.allocUnsafe(16);
  md5Into(text, out, 0);
  return out;
}

/** Puts `text`'s UTF-8 bytes at the start of the scratch block; their count, or -1 when too long. */
function load(text: string): number {
  const n = text.length;
  if (n > MD5_INLINE_BYTES_MAX) return -1;
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return loadUtf8(text);
    scratchBuffer[i] = code;
  }
  return n;
}

function loadUtf8(text: string): number {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MD5_INLINE_BYTES_MAX) return -1;
  scratchBuffer.write(text, 0, bytes, "utf8");
  return bytes;
}

/** Appends the 0x80 marker, zeros and the bit length; returns the padded byte count. */
function pad(length: number): number {
  const total = (((length + 8) >>> 6) + 1) << 6;
  scratchBuffer[length] = 0x80;
  for (let i = length + 1; i < total - 8; i++) scratchBuffer[i] = 0;
  scratchWords[(total >>> 2) - 2] = length << 3;
  scratchWords[(total >>> 2) - 1] = length >>> 29;
  return total;
}

/**
 * One 64-byte block, its words starting at scratchWords[base]: RFC 1321's four rounds of sixteen
 * steps, written out. The additive constants are the integer part of |sin(i + 1)| × 2^32 (as
 * signed 32-bit values); the message word of step i is i, 5i + 1, 3i + 5 and 7i (mod 16) in rounds
 * 1 to 4.
 */
function compress(base: number): void {
  const w = scratchWords;
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  a = (a + ((b & c) | (~b & d)) + (w[base + 0] as number) - 0x28955b88) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + (w[base + 1] as number) - 0x173848aa) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + (w[base + 2] as number) + 0x242070db) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + (w[base + 3] as number) - 0x3e423112) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + (w[base + 4] as number) - 0x0a83f051) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + (w[base + 5] as number) + 0x4787c62a) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + (w[base + 6] as number) - 0x57cfb9ed) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + (w[base + 7] as number) - 0x02b96aff) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + (w[base + 8] as number) + 0x698098d8) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + (w[base + 9] as number) - 0x74bb0851) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + (w[base + 10] as number) - 0x0000a44f) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + (w[base + 11] as number) - 0x76a32842) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + (w[base + 12] as number) + 0x6b901122) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + (w[base + 13] as number) - 0x02678e6d) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + (w[base + 14] as number) - 0x5986bc72) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + (w[base + 15] as number) + 0x49b40821) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + (w[base + 1] as number) - 0x09e1da9e) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + (w[base + 6] as number) - 0x3fbf4cc0) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + (w[base + 11] as number) + 0x265e5a51) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + (w[base + 0] as number) - 0x16493856) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + (w[base + 5] as number) - 0x29d0efa3) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + (w[base + 10] as number) + 0x02441453) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + (w[base + 15] as number) - 0x275e197f) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + (w[base + 4] as number) - 0x182c0438) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + (w[base + 9] as number) + 0x21e1cde6) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + (w[base + 14] as number) - 0x3cc8f82a) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + (w[base + 3] as number) - 0x0b2af279) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + (w[base + 8] as number) + 0x455a14ed) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + (w[base + 13] as number) - 0x561c16fb) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + (w[base + 2] as number) - 0x03105c08) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + (w[base + 7] as number) + 0x676f02d9) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + (w[base + 12] as number) - 0x72d5b376) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + (b ^ c ^ d) + (w[base + 5] as number) - 0x0005c6be) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + (w[base + 8] as number) - 0x788e097f) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + (w[base + 11] as number) + 0x6d9d6122) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + (w[base + 14] as number) - 0x021ac7f4) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + (w[base + 1] as number) - 0x5b4115bc) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + (w[base + 4] as number) + 0x4bdecfa9) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + (w[base + 7] as number) - 0x0944b4a0) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + (w[base + 10] as number) - 0x41404390) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + (w[base + 13] as number) + 0x289b7ec6) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + (w[base + 0] as number) - 0x155ed806) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + (w[base + 3] as number) - 0x2b10cf7b) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + (w[base + 6] as number) + 0x04881d05) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + (w[base + 9] as number) - 0x262b2fc7) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + (w[base + 12] as number) - 0x1924661b) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + (w[base + 15] as number) + 0x1fa27cf8) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + (w[base + 2] as number) - 0x3b53a99b) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + (w[base + 0] as number) - 0x0bd6ddbc) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + (w[base + 7] as number) + 0x432aff97) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + (w[base + 14] as number) - 0x546bdc59) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + (w[base + 5] as number) - 0x036c5fc7) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + (w[base + 12] as number) + 0x655b59c3) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + (w[base + 3] as number) - 0x70f3336e) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + (w[base + 10] as number) - 0x00100b83) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + (w[base + 1] as number) - 0x7a7ba22f) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + (w[base + 8] as number) + 0x6fa87e4f) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + (w[base + 15] as number) - 0x01d31920) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + (w[base + 6] as number) - 0x5cfebcec) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + (w[base + 13] as number) + 0x4e0811a1) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + (w[base + 4] as number) - 0x08ac817e) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + (w[base + 11] as number) - 0x42c50dcb) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + (w[base + 2] as number) + 0x2ad7d2bb) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + (w[base + 9] as number) - 0x14792c6f) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  state[0] = (state[0] as number) + a;
  state[1] = (state[1] as number) + b;
  state[2] = (state[2] as number) + c;
  state[3] = (state[3] as number) + d;
}

function writeWord(out: Uint8Array, offset: number, word: number): void {
  out[offset] = word & 0xff;
  out[offset + 1] = (word >>> 8) & 0xff;
  out[offset + 2] = (word >>> 16) & 0xff;
  out[offset + 3] = (word >>> 24) & 0xff;
}
