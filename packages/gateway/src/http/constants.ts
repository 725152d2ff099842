/**
 * Bounds and fixed names of the Kinesis HTTP API (AWS JSON 1.1 over HTTP/1.1 and h2c). Every
 * duration is in ms, every size in bytes, named with its unit. The relations between them are
 * asserted when the module loads.
 */
import { PARTITION_KEY_CHARS_MAX, PUT_RECORDS_BYTES_MAX, PUT_RECORDS_COUNT_MAX } from "../constants.js";
import { SUBSCRIBE_EVENT_BYTES_MAX } from "../server/constants.js";

const MIB = 1_048_576;

/** The `X-Amz-Target` prefix of every Kinesis operation: `Kinesis_20131202.<Operation>`. */
export const KINESIS_TARGET_PREFIX = "Kinesis_20131202";
/** The content type of AWS JSON 1.1; requests may also say `application/json`. */
export const JSON_CONTENT_TYPE = "application/x-amz-json-1.1";
export const PLAIN_JSON_CONTENT_TYPE = "application/json";

/**
 * Largest request body. A full PutRecords (5 MiB of data, base64 is 4/3 larger, plus 500
 * partition keys, hash keys and the JSON around them) must fit: 8 MiB.
 */
export const HTTP_REQUEST_BODY_BYTES_MAX = 8 * MIB;
/**
 * After a 413 on HTTP/1.1, the rest of the body the client is still sending is read and dropped,
 * up to this many bytes, so the client sees the answer rather than a reset connection; a client
 * that sends more is disconnected.
 */
export const HTTP_DISCARD_BYTES_MAX = 2 * HTTP_REQUEST_BODY_BYTES_MAX;
/** A connection must send its first bytes (the HTTP/2 preface or a request line) within this. */
export const HTTP_FIRST_BYTES_TIMEOUT_MS = 10_000;
/** A request's headers must arrive within this (HTTP/1.1 `headersTimeout`). */
export const HTTP_HEADERS_TIMEOUT_MS = 20_000;
/** A whole request (headers and body) must arrive within this, or it gets 408 / a stream reset. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** An idle kept-alive HTTP/1.1 connection or HTTP/2 session closes after this. */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 60_000;
/** Concurrent streams one HTTP/2 session may open (the SETTINGS value). */
export const HTTP2_MAX_CONCURRENT_STREAMS = 128;
/** Connections the server holds at once; more are refused at accept. */
export const HTTP_CONNECTIONS_MAX = 4_096;
/** How long `close()` lets requests in flight finish before it cuts their connections. */
export const HTTP_CLOSE_GRACE_MS = 2_000;
/** The HTTP/2 client connection preface (RFC 9113 §3.4) that marks an h2c prior-knowledge connection. */
export const HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/** Bytes of the preface that decide between HTTP/2 and HTTP/1.1 (no HTTP/1 method starts with them). */
export const HTTP2_PREFACE_SNIFF_BYTES = "PRI * HTTP/2.0".length;

function assertConstant(condition: boolean, what: string): void {
  if (!condition) throw new Error(`@sluice/gateway http constants: ${what}`);
}

/** Base64 of a full PutRecords, its keys (hash keys are 39 digits) and 128 bytes of JSON per record. */
const PUT_RECORDS_BODY_BYTES_MAX =
  Math.ceil(PUT_RECORDS_BYTES_MAX / 3) * 4 + PUT_RECORDS_COUNT_MAX * (PARTITION_KEY_CHARS_MAX * 4 + 39 + 128);
assertConstant(HTTP_REQUEST_BODY_BYTES_MAX >= PUT_RECORDS_BODY_BYTES_MAX, "a full PutRecords body fits");
assertConstant(
  HTTP_HEADERS_TIMEOUT_MS <= HTTP_REQUEST_TIMEOUT_MS,
  "headers arrive before the request times out",
);
assertConstant(
  HTTP2_PREFACE_SNIFF_BYTES <= HTTP2_PREFACE.length,
  "the sniffed bytes are a prefix of the preface",
);

/** The content type of AWS CBOR (the AWS SDK for Java v2 and the KCL send it by default). */
export const CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1";
/** Arrays, maps and tags nested deeper than this in a CBOR body are refused (Kinesis shapes nest 4 deep). */
export const CBOR_NESTING_DEPTH_MAX = 64;
/** The content type of an AWS event stream (SubscribeToShard's answer). */
export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";
/** Largest event-stream message (the format's limit): a full SubscribeToShard event fits. */
export const EVENT_STREAM_MESSAGE_BYTES_MAX = 16 * MIB;
/** Largest headers section of one event-stream message (the format's limit). */
export const EVENT_STREAM_HEADERS_BYTES_MAX = 131_072;

assertConstant(
  EVENT_STREAM_MESSAGE_BYTES_MAX >= 2 * SUBSCRIBE_EVENT_BYTES_MAX,
  "a full SubscribeToShard event (base64 grows it by 4/3) fits in one event-stream message",
);
