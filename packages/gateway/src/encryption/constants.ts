/**
 * Limits and sizes of encryption at rest (docs/security.md, "Encryption at rest"). Every
 * cipher is AES-256-GCM from node:crypto: master keys wrap data keys, data keys seal records.
 */
import { RECORD_DATA_SEAL_OVERHEAD_BYTES } from "@sluice/broker";

/** A master key of the key file, and a stream's data key: AES-256. */
export const AES_KEY_BYTES = 32;
/** The GCM nonce. */
export const GCM_NONCE_BYTES = 12;
/** The GCM authentication tag. */
export const GCM_TAG_BYTES = 16;
/** A wrapped data key: nonce, the key's ciphertext, tag. */
export const WRAPPED_DATA_KEY_BYTES = GCM_NONCE_BYTES + AES_KEY_BYTES + GCM_TAG_BYTES;
/** The largest key file a node reads. */
export const KEY_FILE_BYTES_MAX = 1024 * 1024;
/** Master keys one key file may hold. */
export const KEY_FILE_KEYS_MAX = 1_000;
/** Characters of a master key's id in the key file. */
export const MASTER_KEY_ID_LENGTH_MAX = 256;
/** Kinesis's KeyId limit (StartStreamEncryption, StopStreamEncryption). */
export const KEY_ID_LENGTH_MAX = 2048;
/**
 * Unwrapped data keys a node keeps in memory (one per stream and key version in use); past it the
 * cache starts over (keys are unwrapped again on use).
 */
export const DATA_KEYS_CACHED_MAX = 4_096;
/** The KMS alias AWS users pass for the service's default key: the key file's default key. */
export const DEFAULT_KEY_ALIAS = "alias/aws/kinesis";
/** EncryptionType of an encrypted stream or record, as Kinesis names it. */
export const ENCRYPTION_TYPE_KMS = "KMS";
/** EncryptionType of plaintext. */
export const ENCRYPTION_TYPE_NONE = "NONE";

if (GCM_NONCE_BYTES + GCM_TAG_BYTES !== RECORD_DATA_SEAL_OVERHEAD_BYTES) {
  throw new Error(
    "@sluice/gateway encryption constants: nonce + tag must be the batch format's seal overhead",
  );
}
