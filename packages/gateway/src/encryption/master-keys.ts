/**
 * The master keys of this node (its key file) as a tiny KMS: resolves a Kinesis KeyId to a master
 * key, and wraps and unwraps data keys with it (AES-256-GCM, a random nonce per wrap, the master
 * key's id as additional data so a wrapped key cannot be passed off under another id).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import {
  AES_KEY_BYTES,
  DEFAULT_KEY_ALIAS,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  WRAPPED_DATA_KEY_BYTES,
} from "./constants.js";
import { KmsKeyUnavailableError, KmsNotFoundError, RecordDecryptionError } from "./errors.js";
import type { KeyFile } from "./key-file.js";

const WRAP_CONTEXT = "sluice/kinesis data key v1:";

export class MasterKeys {
  private readonly file: KeyFile;

  constructor(file: KeyFile) {
    this.file = file;
  }

  /** The ids of the keys, in file order (never the keys). */
  get keyIds(): string[] {
    return [...this.file.keys.keys()];
  }

  /**
   * The id of the master key a Kinesis KeyId names: the id itself; an ARN or alias whose last
   * part (after "key/" or "alias/") is an id; or DEFAULT_KEY_ALIAS (or its ARN) for the default
   * key. KmsNotFoundError when it names none.
   */
  resolve(keyId: string): string {
    if (this.file.keys.has(keyId)) return keyId;
    if (keyId === DEFAULT_KEY_ALIAS || keyId.endsWith(`:${DEFAULT_KEY_ALIAS}`)) return this.file.defaultKeyId;
    const match = /(?:^|[:/])(?:key|alias)\/([^/]+)$/.exec(keyId);
    if (match !== null && this.file.keys.has(match[1] as string)) return match[1] as string;
    throw new KmsNotFoundError(
      `KeyId ${JSON.stringify(keyId)} names no master key in this node's key file; use one of its key ids, or ${DEFAULT_KEY_ALIAS} for its default key`,
    );
  }

  /** Wraps a data key (AES_KEY_BYTES) with master key `masterKeyId`: base64 of nonce | ciphertext | tag. */
  wrap(dataKey: Buffer, masterKeyId: string): string {
    if (dataKey.length !== AES_KEY_BYTES) throw new RangeError(`a data key is ${AES_KEY_BYTES} bytes`);
    const nonce = randomBytes(GCM_NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key(masterKeyId), nonce);
    cipher.setAAD(Buffer.from(WRAP_CONTEXT + masterKeyId, "utf8"));
    const sealed = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString("base64");
  }

  /**
   * The data key `wrapped` holds (see wrap). KmsKeyUnavailableError when this node lacks the master key;
   * RecordDecryptionError when it does not authenticate (another key file, or damaged).
   */
  unwrap(wrapped: string, masterKeyId: string): Buffer {
    const key = this.key(masterKeyId);
    const bytes = Buffer.from(wrapped, "base64");
    if (bytes.length !== WRAPPED_DATA_KEY_BYTES) {
      throw new RecordDecryptionError(
        `a wrapped data key is ${WRAPPED_DATA_KEY_BYTES} bytes, not ${bytes.length}`,
      );
    }
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, GCM_NONCE_BYTES));
    decipher.setAAD(Buffer.from(WRAP_CONTEXT + masterKeyId, "utf8"));
    decipher.setAuthTag(bytes.subarray(bytes.length - GCM_TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(bytes.subarray(GCM_NONCE_BYTES, bytes.length - GCM_TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (error) {
      throw new RecordDecryptionError(
        `the data key wrapped by master key ${masterKeyId} does not authenticate: this node's key file holds a different key under that id; give every node the same file`,
        { cause: error },
      );
    }
  }

  private key(masterKeyId: string): Buffer {
    const key = this.file.keys.get(masterKeyId);
    if (key === undefined) {
      throw new KmsKeyUnavailableError(
        `master key ${JSON.stringify(masterKeyId)} is not in this node's key file; give every node the same --kms-key-file`,
      );
    }
    return key;
  }
}
