/**
 * The configured access keys: access key id → secret and the principal it authenticates as.
 * Read from a file (`--auth-keys`) or from SLUICE_ACCESS_KEYS, in either of two formats:
 *
 * - lines `ACCESS_KEY_ID:SECRET[:PRINCIPAL]` (blank lines and `#` comments skipped; in the
 *   variable, entries may also be separated by commas);
 * - JSON: `{"keys": [{"accessKeyId", "secretAccessKey", "principal"?}]}` or the bare array.
 *
 * The principal defaults to the access key id. Several keys may share a principal (rotation).
 */
import { timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { AuthConfigError, AuthConfigErrorCode } from "./config-error.js";
import {
  ACCESS_KEY_ID_PATTERN,
  AUTH_FILE_BYTES_MAX,
  PRINCIPAL_PATTERN,
  SECRET_ACCESS_KEY_PATTERN,
} from "./constants.js";

/** One configured key. */
export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Who requests signed with this key are, in policies and the audit log. */
  readonly principal: string;
}

/** The access keys a node verifies requests against; immutable once built. */
export class AccessKeyStore {
  readonly #keys: ReadonlyMap<string, AccessKey>;

  constructor(keys: readonly AccessKey[], source = "access keys") {
    const byId = new Map<string, AccessKey>();
    for (const [index, key] of keys.entries()) {
      const where = `${source} entry ${index + 1}`;
      checkKey(key, where);
      if (byId.has(key.accessKeyId)) {
        throw invalid(`${where}: access key id ${key.accessKeyId} is listed twice`);
      }
      byId.set(key.accessKeyId, Object.freeze({ ...key }));
    }
    this.#keys = byId;
  }

  /** Parses either format (see the module comment); `source` names the file or variable in errors. */
  static parse(text: string, source: string): AccessKeyStore {
    const trimmed = text.trim();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) return parseJson(trimmed, source);
    const keys: AccessKey[] = [];
    for (const [index, raw] of trimmed.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      for (const entry of line.split(",")) {
        const parts = entry.trim().split(":");
        if (parts.length < 2 || parts.length > 3) {
          throw invalid(
            `${source} line ${index + 1}: expected ACCESS_KEY_ID:SECRET or ACCESS_KEY_ID:SECRET:PRINCIPAL`,
          );
        }
        const [accessKeyId = "", secretAccessKey = "", principal] = parts;
        keys.push({ accessKeyId, secretAccessKey, principal: principal ?? accessKeyId });
      }
    }
    return new AccessKeyStore(keys, source);
  }

  /** Reads and parses a key file; AuthConfigError when it is missing, too large or malformed. */
  static fromFile(path: string): AccessKeyStore {
    return AccessKeyStore.parse(readAuthFile(path, "access key file"), path);
  }

  /** The number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** The principals the keys name, each once. */
  principals(): string[] {
    return [...new Set([...this.#keys.values()].map((key) => key.principal))];
  }

  /** The key with this id, or undefined. */
  get(accessKeyId: string): AccessKey | undefined {
    return this.#keys.get(accessKeyId);
  }

  /**
   * The key when `secret` is its secret (compared in constant time), "unknown" when no key has
   * this id, "mismatch" when the secret is wrong.
   */
  check(accessKeyId: string, secret: string): AccessKey | "unknown" | "mismatch" {
    const key = this.#keys.get(accessKeyId);
    if (key === undefined) return "unknown";
    const expected = Buffer.from(key.secretAccessKey, "utf8");
    const given = Buffer.from(secret, "utf8");
    // Compare equal lengths only; the length of a secret is not worth hiding.
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "mismatch";
    return key;
  }
}

/** Reads a small auth file as UTF-8, refusing a missing, unreadable or oversized one. */
export function readAuthFile(path: string, what: string): string {
  try {
    const size = statSync(path).size;
    if (size > AUTH_FILE_BYTES_MAX) {
      throw new AuthConfigError(
        AuthConfigErrorCode.Unreadable,
        `${what} ${path} is ${size} bytes; at most ${AUTH_FILE_BYTES_MAX} are read`,
      );
    }
    return readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof AuthConfigError) throw error;
    throw new AuthConfigError(
      AuthConfigErrorCode.Unreadable,
      `${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); create it with: sluice auth init`,
      { cause: error },
    );
  }
}

function parseJson(text: string, source: string): AccessKeyStore {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw invalid(`${source} is not valid JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(document) ? document : (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw invalid(`${source}: expected {"keys": [...]} or an array of keys`);
  const keys = list.map((entry: unknown, index): AccessKey => {
    const item = (entry ?? {}) as Record<string, unknown>;
    const accessKeyId = item.accessKeyId;
    const secretAccessKey = item.secretAccessKey;
    const principal = item.principal ?? accessKeyId;
    if (
      typeof accessKeyId !== "string" ||
      typeof secretAccessKey !== "string" ||
      typeof principal !== "string"
    ) {
      throw invalid(
        `${source} entry ${index + 1}: accessKeyId and secretAccessKey (and principal, when given) must be strings`,
      );
    }
    return { accessKeyId, secretAccessKey, principal };
  });
  return new AccessKeyStore(keys, source);
}

function checkKey(key: AccessKey, where: string): void {
  if (!ACCESS_KEY_ID_PATTERN.test(key.accessKeyId)) {
    throw invalid(`${where}: access key id must be 4 to 128 letters, digits or "_"`);
  }
  if (!SECRET_ACCESS_KEY_PATTERN.test(key.secretAccessKey)) {
    throw invalid(
      `${where} (${key.accessKeyId}): the secret must be 8 to 256 printable characters without ":", "," or spaces`,
    );
  }
  if (!PRINCIPAL_PATTERN.test(key.principal)) {
    throw invalid(
      `${where} (${key.accessKeyId}): principal ${JSON.stringify(key.principal)} must be 1 to 128 of [A-Za-z0-9_.@+=-]`,
    );
  }
}

function invalid(message: string): AuthConfigError {
  return new AuthConfigError(AuthConfigErrorCode.Invalid, message);
}
