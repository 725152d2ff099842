/**
 * The typed errors of encryption at rest (codes in the gateway's one ERROR_TABLE), and the error
 * of a bad key file, raised when the node loads its configuration (it never reaches a client).
 */
import { GatewayError, GatewayErrorCode } from "../errors.js";

/** StartStreamEncryption's KeyId names no master key of the key file (KMSNotFoundException). */
export class KmsNotFoundError extends GatewayError {
  override readonly name = "KmsNotFoundError";
  constructor(message: string) {
    super(GatewayErrorCode.KmsNotFound, message);
  }
}

/**
 * The stream is encrypted (or is to be) and this node cannot use its master key: the node has no
 * key file, or the key is not in it (KMSAccessDeniedException). Start every node with the same
 * --kms-key-file.
 */
export class KmsKeyUnavailableError extends GatewayError {
  override readonly name = "KmsKeyUnavailableError";
  constructor(message: string) {
    super(GatewayErrorCode.KmsKeyUnavailable, message);
  }
}

/** An encrypted record (or wrapped data key) did not authenticate: tampered, damaged, or another key. */
export class RecordDecryptionError extends GatewayError {
  override readonly name = "RecordDecryptionError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(GatewayErrorCode.RecordDecryptionFailed, message, options);
  }
}

export const KeyFileErrorCode = {
  /** The file is not in a format docs/security.md describes, or a key breaks a rule. */
  Invalid: "KEY_FILE_INVALID",
  /** The file cannot be read (missing, unreadable, too large). */
  Unreadable: "KEY_FILE_UNREADABLE",
} as const;
export type KeyFileErrorCode = (typeof KeyFileErrorCode)[keyof typeof KeyFileErrorCode];

/** A bad key file; the message names the file, the line or entry at fault, and the rule it breaks. */
export class KeyFileError extends Error {
  override readonly name = "KeyFileError";
  readonly code: KeyFileErrorCode;
  readonly retriable = false;
  constructor(code: KeyFileErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
