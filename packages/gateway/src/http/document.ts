/**
 * Walks a shape (shapes.ts) to turn a decoded request document into the members of a generated
 * request object, and a generated response object into a response document. Blobs and
 * timestamps go through the codec; everything else is plain JSON types.
 *
 * Decoding: an absent or null member is left out (the generated message's default applies); a
 * member of the wrong JSON type is a SerializationException naming it; an enum string Kinesis
 * does not have is a ValidationException, as Kinesis answers; unknown members are ignored.
 * Encoding leaves out what Kinesis leaves out: empty strings (no NextShardIterator once a closed
 * shard is drained, no ErrorCode on a record that succeeded), unset messages and enums, zero
 * timestamps, and lists marked `omitEmpty` when empty.
 */
import { ValidationError } from "../errors.js";
import { typeOf, type WireCodec } from "./codec.js";
import { HttpErrorCode, KinesisHttpError } from "./errors.js";
import type { Shape, StructureShape } from "./shapes.js";

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

function serialization(path: string, expected: string, value: unknown): KinesisHttpError {
  return new KinesisHttpError(
    HttpErrorCode.Serialization,
    `${path} must be ${expected}, got ${typeOf(value)}`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** The members of `document` as generated-message fields (the caller fills defaults with fromPartial). */
export function decodeStructure(
  shape: StructureShape,
  document: unknown,
  codec: WireCodec,
  path = "",
): Record<string, unknown> {
  if (!isObject(document))
    throw serialization(path === "" ? "the request body" : path, "an object", document);
  const out: Record<string, unknown> = {};
  for (const member of shape.members) {
    const value = document[member.wire];
    if (value === undefined || value === null) continue;
    out[member.field] = decodeValue(
      member.shape,
      value,
      codec,
      path === "" ? member.wire : `${path}.${member.wire}`,
    );
  }
  return out;
}

function decodeValue(shape: Shape, value: unknown, codec: WireCodec, path: string): unknown {
  switch (shape.kind) {
    case "string":
      if (typeof value !== "string") throw serialization(path, "a string", value);
      return value;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
        throw serialization(path, "a 32-bit integer", value);
      }
      return value;
    case "long":
      if (typeof value !== "number" || !Number.isSafeInteger(value))
        throw serialization(path, "an integer", value);
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw serialization(path, "a boolean", value);
      return value;
    case "blob":
      return codec.decodeBlob(value, path);
    case "timestamp":
      return codec.decodeTimestamp(value, path);
    case "stringMap": {
      if (!isObject(value)) throw serialization(path, "an object of strings", value);
      const map: Record<string, string> = {};
      for (const [key, entry] of Object.entries(value)) {
        if (typeof entry !== "string") throw serialization(`${path}.${key}`, "a string", entry);
        map[key] = entry;
      }
      return map;
    }
    case "enum": {
      if (typeof value !== "string") throw serialization(path, "a string", value);
      const position = shape.names.indexOf(value);
      if (position < 0) {
        throw new ValidationError(
          `${path} must be one of ${shape.names.join(", ")}, got ${JSON.stringify(value)}`,
        );
      }
      return position + 1;
    }
    case "list":
      if (!Array.isArray(value)) throw serialization(path, "an array", value);
      return value.map((entry, index) => decodeValue(shape.member, entry, codec, `${path}[${index}]`));
    case "structure":
      return decodeStructure(shape, value, codec, path);
  }
}

/** A generated response object as a response document. */
export function encodeStructure(
  shape: StructureShape,
  message: Readonly<Record<string, unknown>>,
  codec: WireCodec,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of shape.members) {
    const value = message[member.field];
    if (member.omitEmpty === true && Array.isArray(value) && value.length === 0) continue;
    const encoded = encodeValue(member.shape, value, codec);
    if (encoded !== undefined) out[member.wire] = encoded;
  }
  return out;
}

function encodeValue(shape: Shape, value: unknown, codec: WireCodec): unknown {
  if (value === undefined || value === null) return undefined;
  switch (shape.kind) {
    case "string":
      return value === "" ? undefined : value;
    case "integer":
    case "long":
    case "boolean":
      return value;
    case "blob":
      return codec.encodeBlob(value as Buffer);
    case "timestamp":
      return value === 0 ? undefined : codec.encodeTimestamp(value as number);
    case "stringMap":
      return value;
    case "enum":
      return shape.names[(value as number) - 1];
    case "list":
      return (value as unknown[]).map((entry) => encodeValue(shape.member, entry, codec));
    case "structure":
      return encodeStructure(shape, value as Record<string, unknown>, codec);
  }
}
