/**
 * Per-record AES-256-GCM under a stream's data key: a sealed record's data is
 * `nonce (12) | ciphertext | tag (16)` — RECORD_DATA_SEAL_OVERHEAD_BYTES more than the plaintext.
 *
 * Nonces never repeat under one key: each sealer draws a random 8-byte prefix and counts records
 * in the last 4 bytes, drawing a new prefix when the counter wraps (NIST SP 800-38D's
 * deterministic construction with a random fixed field). Two sealers of one key — other nodes,
 * restarts — collide only if their 64-bit prefixes do (about n² / 2^65 for n prefixes), far below
 * the 2^-32 bound that purely random 96-bit nonces give after 2^32 records.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import type { RecordDataSealer } from "@sluice/broker";
import { AES_KEY_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES } from "./constants.js";
import { RecordDecryptionError } from "./errors.js";

const NONCE_PREFIX_BYTES = 8;
const COUNTER_MAX = 0xffff_ffff;

/** A data key ready for the cipher (the raw bytes are not kept). */
export function dataKeyObject(key: Buffer): KeyObject {
  if (key.length !== AES_KEY_BYTES)
    throw new RangeError(`a data key is ${AES_KEY_BYTES} bytes, not ${key.length}`);
  return createSecretKey(key);
}

/** Seals record data for encodeRecordBatchOf under one data key version. Not shared across keys. */
export class RecordSealer implements RecordDataSealer {
  readonly keyVersion: number;
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(GCM_NONCE_BYTES);
  private counter = 0;

  constructor(key: KeyObject, keyVersion: number) {
    this.key = key;
    this.keyVersion = keyVersion;
    randomBytes(NONCE_PREFIX_BYTES).copy(this.nonce, 0);
  }

  sealInto(plaintext: Uint8Array, out: Buffer, at: number): void {
    if (this.counter === COUNTER_MAX) {
      randomBytes(NONCE_PREFIX_BYTES).copy(this.nonce, 0);
      this.counter = 0;
    }
    this.counter++;
    this.nonce.writeUInt32BE(this.counter, NONCE_PREFIX_BYTES);
    this.nonce.copy(out, at);
    const cipher = createCipheriv("aes-256-gcm", this.key, this.nonce);
    const body = cipher.update(plaintext);
    body.copy(out, at + GCM_NONCE_BYTES);
    let end = at + GCM_NONCE_BYTES + body.length;
    const rest = cipher.final();
    if (rest.length > 0) end += rest.copy(out, end);
    cipher.getAuthTag().copy(out, end);
  }
}

/**
 * The plaintext of one sealed record's data (a new buffer). RecordDecryptionError when it is too
 * short or does not authenticate (tampered, damaged, or sealed under another key).
 */
export function openRecordData(key: KeyObject, sealed: Uint8Array): Buffer {
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) {
    throw new RecordDecryptionError(
      `an encrypted record is at least ${GCM_NONCE_BYTES + GCM_TAG_BYTES} bytes, not ${sealed.length}`,
    );
  }
  const tagAt = sealed.length - GCM_TAG_BYTES;
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, GCM_NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(tagAt));
  try {
    const body = decipher.update(sealed.subarray(GCM_NONCE_BYTES, tagAt));
    const rest = decipher.final();
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch (error) {
    throw new RecordDecryptionError(
      "an encrypted record does not authenticate: its data is damaged or was sealed under another key",
      { cause: error },
    );
  }
}
