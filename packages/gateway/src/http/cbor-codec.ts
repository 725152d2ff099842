/**
 * `CBOR_CODEC`: AWS CBOR 1.1 (`application/x-amz-cbor-1.1`), the wire format the AWS SDK for Java
 * v2 and the KCL use for Kinesis by default. The same documents as AWS JSON 1.1 with two
 * differences, both as the SDK for Java v2 does them (its AwsCborProtocolFactory and
 * SdkCborGenerator):
 *
 * - blobs are CBOR byte strings (not base64 text);
 * - timestamps are epoch MILLISECONDS (not seconds): written as tag 1 around an integer; read
 *   from tag 1 around a number, or from a bare number, both as milliseconds.
 *
 * Errors go out as the same `{__type, message}` document, in CBOR. A body that is not one
 * well-formed CBOR item (truncated, malformed, nested too deep, bad UTF-8) is a
 * SerializationException naming what was wrong; decoding never throws anything else.
 */
import { CBOR_TAG_EPOCH_TIME, CborError, CborTag, decodeCbor, encodeCbor } from "./cbor.js";
import { typeOf, type WireCodec } from "./codec.js";
import { CBOR_CONTENT_TYPE } from "./constants.js";
import { HttpErrorCode, KinesisHttpError } from "./errors.js";

function serialization(message: string, cause?: unknown): KinesisHttpError {
  return new KinesisHttpError(HttpErrorCode.Serialization, message, { cause });
}

function cborTypeOf(value: unknown): string {
  if (Buffer.isBuffer(value)) return "a byte string";
  if (value instanceof CborTag) return `tag ${value.tag}`;
  return typeOf(value);
}

export const CBOR_CODEC: WireCodec = Object.freeze({
  contentTypes: [CBOR_CONTENT_TYPE],
  parse(body: Buffer): unknown {
    if (body.length === 0)
      throw serialization("the request body is empty; send a CBOR map (0xa0 for no members)");
    try {
      return decodeCbor(body);
    } catch (error) {
      if (error instanceof CborError) {
        throw serialization(`the request body is not valid CBOR: ${error.message}`, error);
      }
      throw serialization("the request body is not valid CBOR", error);
    }
  },
  serialize(document: Readonly<Record<string, unknown>>): Buffer {
    return encodeCbor(document);
  },
  decodeBlob(value: unknown, path: string): Buffer {
    if (!Buffer.isBuffer(value))
      throw serialization(`${path} must be a byte string, got ${cborTypeOf(value)}`);
    return value;
  },
  encodeBlob(bytes: Buffer): unknown {
    return bytes;
  },
  decodeTimestamp(value: unknown, path: string): number {
    const inner = value instanceof CborTag && value.tag === CBOR_TAG_EPOCH_TIME ? value.value : value;
    if (
      typeof inner !== "number" ||
      !Number.isFinite(inner) ||
      inner < 0 ||
      inner > Number.MAX_SAFE_INTEGER
    ) {
      throw serialization(
        `${path} must be a timestamp in epoch milliseconds (tag 1 around an integer), got ${cborTypeOf(inner)}`,
      );
    }
    return Math.round(inner);
  },
  encodeTimestamp(epochMs: number): unknown {
    return new CborTag(CBOR_TAG_EPOCH_TIME, Math.round(epochMs));
  },
});
