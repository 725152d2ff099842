/**
 * The key file (--kms-key-file, SLUICE_KMS_KEY_FILE): the named master keys that play KMS for a
 * self-hosted cluster. Every node gets the same file. Two formats:
 *
 * ```
 * # lines: `id: key` (or `id = key`); blank lines and # comments are skipped
 * orders-2025: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 * billing: q0p3ZmZm…base64 of 32 bytes…=
 * ```
 *
 * or JSON: `{"keys": {"id": "key", …}, "default": "id"}` (or just `{"id": "key", …}`). A key is
 * 64 hex digits or the base64 of 32 bytes; an id is 1 to MASTER_KEY_ID_LENGTH_MAX characters of
 * `[A-Za-z0-9_.-]`. The default key — the one `alias/aws/kinesis` names — is JSON's "default",
 * else the first key of the file.
 */
import { readFileSync, statSync } from "node:fs";
import {
  AES_KEY_BYTES,
  KEY_FILE_BYTES_MAX,
  KEY_FILE_KEYS_MAX,
  MASTER_KEY_ID_LENGTH_MAX,
} from "./constants.js";
import { KeyFileError, KeyFileErrorCode } from "./errors.js";

/** The master keys of a key file, in file order. */
export interface KeyFile {
  /** By id; each key is AES_KEY_BYTES bytes. Never log them. */
  readonly keys: ReadonlyMap<string, Buffer>;
  /** The id of the default key (alias/aws/kinesis). */
  readonly defaultKeyId: string;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads and parses the key file at `path` (KeyFileError: unreadable, too large, or invalid). */
export function loadKeyFile(path: string): KeyFile {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > KEY_FILE_BYTES_MAX) {
      throw new KeyFileError(
        KeyFileErrorCode.Unreadable,
        `key file ${path} is ${size} bytes, above KEY_FILE_BYTES_MAX (${KEY_FILE_BYTES_MAX})`,
      );
    }
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(
      KeyFileErrorCode.Unreadable,
      `cannot read key file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseKeyFile(text, path);
}

/** Parses a key file's text; `source` names it in errors. KeyFileError when it is invalid. */
export function parseKeyFile(text: string, source: string): KeyFile {
  const trimmed = text.trim();
  const entries: Array<[string, string, string]> = [];
  let defaultKeyId: string | undefined;
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw invalid(`${source} starts with "{" but is not valid JSON: ${(error as Error).message}`);
    }
    const object = parsed as Record<string, unknown>;
    const keysField = object.keys;
    const keys = typeof keysField === "object" && keysField !== null ? keysField : object;
    if (
      "keys" in object &&
      (typeof keysField !== "object" || keysField === null || Array.isArray(keysField))
    ) {
      throw invalid(`${source}: "keys" must be an object of id → key`);
    }
    if (keys === object && "default" in object)
      throw invalid(`${source}: "default" needs the keys under "keys"`);
    for (const [id, value] of Object.entries(keys as Record<string, unknown>)) {
      if (typeof value !== "string") throw invalid(`${source}: key ${JSON.stringify(id)} must be a string`);
      entries.push([id, value, `key ${JSON.stringify(id)}`]);
    }
    if (keys !== object) {
      for (const field of Object.keys(object)) {
        if (field !== "keys" && field !== "default")
          throw invalid(`${source}: unknown field ${JSON.stringify(field)}`);
      }
      if (object.default !== undefined) {
        if (typeof object.default !== "string") throw invalid(`${source}: "default" must be a key id`);
        defaultKeyId = object.default;
      }
    }
  } else {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (line === "" || line.startsWith("#")) continue;
      const match = /^([^:=\s]+)\s*[:=]\s*(\S+)$/.exec(line);
      if (match === null) throw invalid(`${source} line ${i + 1}: expected "id: key"`);
      entries.push([match[1] as string, match[2] as string, `line ${i + 1}`]);
    }
  }
  if (entries.length === 0) throw invalid(`${source} holds no key: add a line "id: <64 hex digits>"`);
  if (entries.length > KEY_FILE_KEYS_MAX) {
    throw invalid(`${source} holds ${entries.length} keys, above KEY_FILE_KEYS_MAX (${KEY_FILE_KEYS_MAX})`);
  }
  const keys = new Map<string, Buffer>();
  for (const [id, value, where] of entries) {
    if (id.length > MASTER_KEY_ID_LENGTH_MAX || !ID_PATTERN.test(id)) {
      throw invalid(
        `${source} ${where}: key id ${JSON.stringify(id)} must be 1 to ${MASTER_KEY_ID_LENGTH_MAX} characters of A-Z a-z 0-9 _ . -`,
      );
    }
    if (keys.has(id)) throw invalid(`${source} ${where}: key id ${id} appears twice`);
    keys.set(id, decodeKey(value, `${source} ${where}`));
  }
  const chosen = defaultKeyId ?? (entries[0] as [string, string, string])[0];
  if (!keys.has(chosen))
    throw invalid(`${source}: the default key ${JSON.stringify(chosen)} is not in "keys"`);
  return { keys, defaultKeyId: chosen };
}

function decodeKey(value: string, where: string): Buffer {
  if (HEX_KEY.test(value)) return Buffer.from(value, "hex");
  if (BASE64.test(value)) {
    const bytes = Buffer.from(value, "base64");
    if (bytes.length === AES_KEY_BYTES) return bytes;
  }
  throw invalid(
    `${where}: a key is ${AES_KEY_BYTES * 2} hex digits or the base64 of ${AES_KEY_BYTES} bytes (make one with: openssl rand -hex 32)`,
  );
}

function invalid(message: string): KeyFileError {
  return new KeyFileError(KeyFileErrorCode.Invalid, message);
}
