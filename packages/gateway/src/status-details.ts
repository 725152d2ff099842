/**
 * The gRPC status a client sees for any error. `toServiceError` maps an error through
 * ERROR_TABLE and attaches, in the trailers:
 *
 * - `grpc-status-details-bin`: a serialized `google.rpc.Status { code, message, details: [Any {
 *   type_url: "type.googleapis.com/sluice.v1.ErrorDetail", value: ErrorDetail }] }` — the
 *   standard rich-error trailer that gRPC clients in every language can decode;
 * - `sluice-error-name` / `sluice-error-code` / `sluice-error-retriable`: the same in plain text,
 *   for tools such as grpcurl and for readers without protobuf.
 *
 * An error whose `code` is not in the table (a bug, a library's error) becomes InternalFailure
 * with a generic message: stacks and internal messages never reach a client.
 */

import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { errors as protoErrors } from "@sluice/proto";
import {
  ERROR_TABLE,
  type ErrorTableEntry,
  errorTableEntry,
  GatewayErrorCode,
  type KinesisErrorName,
} from "./errors.js";

/** The trailer holding the serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const ERROR_NAME_KEY = "sluice-error-name";
export const ERROR_CODE_KEY = "sluice-error-code";
export const ERROR_RETRIABLE_KEY = "sluice-error-retriable";
/** The Any type URL of the ErrorDetail in the status details. */
export const ERROR_DETAIL_TYPE_URL = "type.googleapis.com/sluice.v1.ErrorDetail";

/** The message an unknown error is reported with. */
export const INTERNAL_FAILURE_MESSAGE =
  "internal failure in the gateway; retry later, and report it if it persists";

/** What a client learns from a failed call: the ErrorDetail plus the status message. */
export interface ErrorDetailView {
  readonly errorName: string;
  readonly code: string;
  readonly retriable: boolean;
  /** The status message, when the status details carried it. */
  readonly message?: string;
}

/** An error resolved through the table: what to tell the client. */
export interface ResolvedError {
  readonly code: string;
  readonly entry: ErrorTableEntry;
  readonly message: string;
}

/**
 * Resolves any thrown value: an `Error` whose string `code` is in ERROR_TABLE keeps its message
 * and takes the table's status; an error carrying Sluice status metadata (a call forwarded to a
 * peer that failed there) keeps what the peer said; anything else is INTERNAL_FAILURE with
 * INTERNAL_FAILURE_MESSAGE.
 */
export function resolveError(error: unknown): ResolvedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const found = errorTableEntry(code);
    if (found !== undefined) return { code: code as string, entry: found, message: error.message };
    const metadata = (error as { metadata?: unknown }).metadata;
    if (metadata instanceof Metadata) {
      const forwarded = readErrorDetail(metadata);
      const forwardedEntry = forwarded === null ? undefined : errorTableEntry(forwarded.code);
      if (forwarded !== null && forwardedEntry !== undefined) {
        const details = (error as { details?: unknown }).details;
        return {
          code: forwarded.code,
          entry: forwardedEntry,
          message: forwarded.message ?? (typeof details === "string" ? details : forwardedEntry.meaning),
        };
      }
    }
  }
  return {
    code: GatewayErrorCode.InternalFailure,
    entry: ERROR_TABLE[GatewayErrorCode.InternalFailure] as ErrorTableEntry,
    message: INTERNAL_FAILURE_MESSAGE,
  };
}

/** The gRPC error to hand to a grpc-js callback or `call.destroy` / `call.emit("error")`. */
export function toServiceError(error: unknown): ServiceError {
  const { code, entry, message } = resolveError(error);
  const metadata = new Metadata();
  metadata.set(
    STATUS_DETAILS_KEY,
    encodeStatusDetails(entry.grpcStatus, message, {
      errorName: entry.kinesisName,
      code,
      retriable: entry.retriable,
    }),
  );
  metadata.set(ERROR_NAME_KEY, entry.kinesisName);
  metadata.set(ERROR_CODE_KEY, code);
  metadata.set(ERROR_RETRIABLE_KEY, entry.retriable ? "true" : "false");
  const serviceError = new Error(message) as ServiceError;
  serviceError.name = entry.kinesisName;
  serviceError.code = entry.grpcStatus;
  serviceError.details = message;
  serviceError.metadata = metadata;
  return serviceError;
}

/** The Kinesis name for `error` (for PutRecords' per-record ErrorCode and the HTTP API's `__type`). */
export function kinesisNameOf(error: unknown): KinesisErrorName {
  return resolveError(error).entry.kinesisName;
}

/** Serializes google.rpc.Status { code, message, details: [Any(ErrorDetail)] }. */
export function encodeStatusDetails(
  grpcStatus: GrpcStatus,
  message: string,
  detail: protoErrors.ErrorDetail,
): Buffer {
  const detailBytes = protoErrors.ErrorDetail.encode(detail).finish();
  const writer = new BinaryWriter();
  if (grpcStatus !== 0) writer.uint32((1 << 3) | WireType.Varint).int32(grpcStatus);
  if (message !== "") writer.uint32((2 << 3) | WireType.LengthDelimited).string(message);
  writer
    .uint32((3 << 3) | WireType.LengthDelimited)
    .fork()
    .uint32((1 << 3) | WireType.LengthDelimited)
    .string(ERROR_DETAIL_TYPE_URL)
    .uint32((2 << 3) | WireType.LengthDelimited)
    .bytes(detailBytes)
    .join();
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The decoded google.rpc.Status, with the ErrorDetail found among its details (or null). */
export function decodeStatusDetails(bytes: Uint8Array): {
  code: number;
  message: string;
  detail: protoErrors.ErrorDetail | null;
} {
  const reader = new BinaryReader(bytes);
  let code = 0;
  let message = "";
  let detail: protoErrors.ErrorDetail | null = null;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) code = reader.int32();
    else if (field === 2 && wireType === WireType.LengthDelimited) message = reader.string();
    else if (field === 3 && wireType === WireType.LengthDelimited) {
      const any = new BinaryReader(reader.bytes());
      let typeUrl = "";
      let value: Uint8Array | null = null;
      while (any.pos < any.len) {
        const [anyField, anyWireType] = any.tag();
        if (anyField === 1 && anyWireType === WireType.LengthDelimited) typeUrl = any.string();
        else if (anyField === 2 && anyWireType === WireType.LengthDelimited) value = any.bytes();
        else any.skip(anyWireType);
      }
      if (typeUrl === ERROR_DETAIL_TYPE_URL && value !== null) detail = protoErrors.ErrorDetail.decode(value);
    } else reader.skip(wireType);
  }
  return { code, message, detail };
}

/**
 * What the server said about a failed call, from its trailing metadata: the status details when
 * present and decodable, else the plain `sluice-error-*` pair; null when neither is there (the
 * error did not come from a Sluice gateway).
 */
export function readErrorDetail(metadata: Metadata): ErrorDetailView | null {
  const [bin] = metadata.get(STATUS_DETAILS_KEY);
  if (bin !== undefined && typeof bin !== "string") {
    try {
      const decoded = decodeStatusDetails(bin);
      if (decoded.detail !== null) return { ...decoded.detail, message: decoded.message };
    } catch {
      // Undecodable details: fall back to the plain pair.
    }
  }
  const [errorName] = metadata.get(ERROR_NAME_KEY);
  const [code] = metadata.get(ERROR_CODE_KEY);
  if (typeof errorName !== "string" || typeof code !== "string") return null;
  const [retriable] = metadata.get(ERROR_RETRIABLE_KEY);
  return { errorName, code, retriable: retriable === "true" };
}
