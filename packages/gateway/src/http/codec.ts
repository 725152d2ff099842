/**
 * A wire codec turns a request body into a document (plain objects, arrays, strings, numbers,
 * booleans, and whatever the codec uses for blobs and timestamps) and a response document back
 * into bytes. The shapes (shapes.ts) and the walker (document.ts) do the rest, so another
 * protocol — CBOR (`application/x-amz-cbor-1.1`, blobs as byte strings, timestamps in epoch
 * milliseconds) — is one more codec passed to the server, nothing else.
 *
 * `JSON_CODEC` is AWS JSON 1.1: blobs are base64 strings, timestamps epoch seconds as JSON
 * numbers (with a fraction for milliseconds).
 */
import { JSON_CONTENT_TYPE, PLAIN_JSON_CONTENT_TYPE } from "./constants.js";
import { HttpErrorCode, KinesisHttpError } from "./errors.js";

export interface WireCodec {
  /** Content types (lower case, without parameters) this codec reads; the first is what it answers with. */
  readonly contentTypes: readonly string[];
  /** The body as a document; throws a KinesisHttpError SERIALIZATION when it does not parse. */
  parse(body: Buffer): unknown;
  /** A response or error document as bytes. An empty document may give an empty body. */
  serialize(document: Readonly<Record<string, unknown>>): Buffer;
  /** A blob member's bytes; throws SERIALIZATION for a value of the wrong form. `path` names the member. */
  decodeBlob(value: unknown, path: string): Buffer;
  encodeBlob(bytes: Buffer): unknown;
  /** A timestamp member in ms since the epoch; throws SERIALIZATION for a value of the wrong form. */
  decodeTimestamp(value: unknown, path: string): number;
  encodeTimestamp(epochMs: number): unknown;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function serialization(message: string): KinesisHttpError {
  return new KinesisHttpError(HttpErrorCode.Serialization, message);
}

export const JSON_CODEC: WireCodec = Object.freeze({
  contentTypes: [JSON_CONTENT_TYPE, PLAIN_JSON_CONTENT_TYPE],
  parse(body: Buffer): unknown {
    if (body.length === 0)
      throw serialization("the request body is empty; send a JSON object ({} for no members)");
    try {
      return JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw serialization(`the request body is not valid JSON (${(error as Error).message})`);
    }
  },
  serialize(document: Readonly<Record<string, unknown>>): Buffer {
    return Buffer.from(JSON.stringify(document), "utf8");
  },
  decodeBlob(value: unknown, path: string): Buffer {
    if (typeof value !== "string")
      throw serialization(`${path} must be a base64 string, got ${typeOf(value)}`);
    if (!BASE64.test(value)) throw serialization(`${path} is not valid base64`);
    return Buffer.from(value, "base64");
  },
  encodeBlob(bytes: Buffer): unknown {
    return bytes.toString("base64");
  },
  decodeTimestamp(value: unknown, path: string): number {
    // Epoch seconds as a number (what the SDKs send); a numeric or ISO 8601 string is read too.
    let epochMs: number;
    if (typeof value === "number") epochMs = value * 1000;
    else if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
      epochMs = Number(value) * 1000;
    else if (typeof value === "string") epochMs = Date.parse(value);
    else throw serialization(`${path} must be a timestamp in epoch seconds, got ${typeOf(value)}`);
    if (!Number.isFinite(epochMs) || epochMs < 0 || epochMs > Number.MAX_SAFE_INTEGER) {
      throw serialization(`${path} must be a timestamp in epoch seconds, got ${JSON.stringify(value)}`);
    }
    return Math.round(epochMs);
  },
  encodeTimestamp(epochMs: number): unknown {
    return epochMs / 1000;
  },
});

/** The JSON type of `value`, for messages. */
export function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
