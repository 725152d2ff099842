/**
 * The request handler of the Kinesis HTTP API, the same for HTTP/1.1 and HTTP/2 (it takes the
 * compatibility request/response pair both servers emit). One request:
 *
 *   POST (else AccessDeniedException 403) → a codec for the Content-Type (else
 *   UnknownOperationException 404) → `X-Amz-Target: Kinesis_20131202.<Operation>` naming an
 *   operation (else UnknownOperationException) → the body, at most `bodyBytesMax` (else 413) →
 *   authentication (SigV4 through `accessControl`, and the hook; none by default) → the document
 *   decoded through the operation's shape (SerializationException / ValidationException) →
 *   authorization of the principal for the operation's IAM action on its stream (AccessDenied) →
 *   the operation of this node's gateway
 *   (503 ServiceUnavailable while there is none) → the response document, or the error as
 *   `{"__type", "message"}` with `x-amzn-ErrorType`.
 *
 * Every response carries `x-amzn-RequestId` (a UUID). Nothing a client sends can throw out of
 * here: unexpected errors become InternalFailure with a generic message.
 */
import { randomUUID } from "node:crypto";
import { type AccessControl, kinesisErrorNameOf } from "../auth/access-control.js";
import type { StreamsOperations } from "../server/operations.js";
import { resolveError } from "../status-details.js";
import { CBOR_CODEC } from "./cbor-codec.js";
import { JSON_CODEC, type WireCodec } from "./codec.js";
import { HTTP_REQUEST_BODY_BYTES_MAX, KINESIS_TARGET_PREFIX } from "./constants.js";
import { decodeStructure, encodeStructure } from "./document.js";
import { HttpErrorCode, httpStatusOf, KinesisHttpError } from "./errors.js";
import type {
  Authenticator,
  HttpRequestLike,
  HttpResponseLike,
  StreamingOperationHandler,
} from "./exchange.js";
import { OPERATIONS, type OperationSpec } from "./shapes.js";
import { subscribeToShardOverEventStream } from "./subscribe-to-shard.js";
import { describeTargetError, registeredTarget } from "./target-registry.js";

export type {
  AuthenticationRequest,
  Authenticator,
  HttpRequestLike,
  HttpResponseLike,
  StreamingExchange,
  StreamingOperationHandler,
} from "./exchange.js";

export interface KinesisHttpHandlerOptions {
  /** The node's operations, or undefined while its gateway is not ready (503 ServiceUnavailable). */
  readonly operations: () => StreamsOperations | undefined;
  /** Codecs by content type. @default [JSON_CODEC, CBOR_CODEC] */
  readonly codecs?: readonly WireCodec[];
  /** Handlers of streaming operations by Kinesis name. @default SubscribeToShard over event streams (subscribe-to-shard.ts) */
  readonly streamingOperations?: Readonly<Record<string, StreamingOperationHandler>>;
  /** An extra verification hook, run after `accessControl`'s. @default accepts every request */
  readonly authenticate?: Authenticator;
  /**
   * Authenticates (SigV4), authorizes and audits every request; the same object the node's gRPC
   * services use. @default none: every request is served unauthenticated
   */
  readonly accessControl?: AccessControl;
  /** Largest request body in bytes. @default HTTP_REQUEST_BODY_BYTES_MAX */
  readonly bodyBytesMax?: number;
  /** Called once per finished request with the operation, "ok" or the error's name, and its start. */
  readonly observe?: (operation: string, outcome: string, startedAtMs: number) => void;
  /** Wall clock in ms. @default Date.now */
  readonly clock?: () => number;
}

/**
 * Handles one request. `abandonBody`, when given, is called after an answer sent before the body
 * was read to its end (413): it must stop the client sending the rest (HTTP/2: reset the stream
 * once the answer is flushed). Without it the answer says `Connection: close` (HTTP/1.1).
 */
export type KinesisHttpHandler = (
  req: HttpRequestLike,
  res: HttpResponseLike,
  abandonBody?: () => void,
) => void;

const REQUEST_ID_HEADER = "x-amzn-RequestId";
const ERROR_TYPE_HEADER = "x-amzn-ErrorType";

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function createKinesisHttpHandler(options: KinesisHttpHandlerOptions): KinesisHttpHandler {
  const codecs = new Map<string, WireCodec>();
  for (const codec of options.codecs ?? [JSON_CODEC, CBOR_CODEC]) {
    for (const type of codec.contentTypes) codecs.set(type.toLowerCase(), codec);
  }
  const bodyBytesMax = options.bodyBytesMax ?? HTTP_REQUEST_BODY_BYTES_MAX;
  if (!Number.isSafeInteger(bodyBytesMax) || bodyBytesMax < 1) {
    throw new RangeError(`bodyBytesMax must be a positive integer of bytes, got ${bodyBytesMax}`);
  }
  const clock = options.clock ?? Date.now;
  const streaming = options.streamingOperations ?? { SubscribeToShard: subscribeToShardOverEventStream };

  return (req, res, abandonBody) => {
    const startedAtMs = clock();
    const requestId = randomUUID();
    let operationName = "unknown";
    let codec: WireCodec = JSON_CODEC;
    let responseType = JSON_CONTENT_TYPE_DEFAULT;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.on("error", () => {});
    req.on("error", () => {});

    const fail = (error: unknown): void => {
      const { name, status, message } = describeError(error);
      options.observe?.(operationName, name, startedAtMs);
      if (res.headersSent || res.writableEnded) return;
      const body = codec.serialize({ __type: name, message });
      res.statusCode = status;
      res.setHeader(ERROR_TYPE_HEADER, name);
      res.setHeader("Content-Type", responseType);
      res.setHeader("Content-Length", body.length);
      const abandoned = error instanceof KinesisHttpError && error.code === HttpErrorCode.BodyTooLarge;
      if (abandoned && abandonBody === undefined) {
        // The rest of the body is not read: the connection cannot carry another request.
        res.setHeader("Connection", "close");
      }
      res.end(body);
      if (abandoned) abandonBody?.();
    };

    (async () => {
      if (req.method !== "POST") {
        throw new KinesisHttpError(
          HttpErrorCode.MethodNotAllowed,
          `Unable to determine service/operation name to be authorized: the Kinesis API takes POST requests, not ${req.method ?? "none"}`,
        );
      }
      const target = headerValue(req.headers["x-amz-target"]);
      const contentType = mediaType(headerValue(req.headers["content-type"]));
      const found = codecs.get(contentType);
      if (found === undefined) {
        throw new KinesisHttpError(
          target === undefined ? HttpErrorCode.MethodNotAllowed : HttpErrorCode.UnsupportedContentType,
          `Content-Type ${JSON.stringify(contentType)} is not served; send ${[...codecs.keys()].join(" or ")}`,
        );
      }
      codec = found;
      responseType = contentType;
      const registered = registeredTarget(target);
      if (registered !== undefined) {
        // A service registered by the node (Firehose_20150804: delivery streams), JSON documents in and out.
        operationName = registered.operation;
        const body = await readBody(req, bodyBytesMax);
        const authentication = {
          operation: operationName,
          method: req.method,
          url: req.url ?? "/",
          headers: req.headers,
          body,
        };
        const principal = options.accessControl?.authenticateHttp(authentication);
        await options.authenticate?.(authentication);
        const document = codec.parse(body);
        // Authorized as `firehose:<Operation>` on the delivery stream it names.
        const finish =
          principal === undefined
            ? undefined
            : options.accessControl?.authorize(principal, "firehose", operationName, {
                streamName: (document as { DeliveryStreamName?: unknown } | null)?.DeliveryStreamName,
              });
        let answer: Readonly<Record<string, unknown>>;
        try {
          answer = await registered.handler({
            operation: operationName,
            document,
            authorize: (namespace, operation, stream) => {
              if (principal === undefined || options.accessControl === undefined) return;
              // Nothing to finish: a refusal is audited here, an allowed call by the call's own line.
              options.accessControl.authorize(principal, namespace, operation, { streamName: stream });
            },
          });
        } catch (error) {
          finish?.(describeTargetError(error)?.name ?? kinesisErrorNameOf(error));
          throw error;
        }
        finish?.();
        const out = codec.serialize(answer);
        options.observe?.(operationName, "ok", startedAtMs);
        if (res.writableEnded) return;
        res.statusCode = 200;
        res.setHeader("Content-Type", responseType);
        res.setHeader("Content-Length", out.length);
        res.end(out);
        return;
      }
      const spec = operationOf(target);
      operationName = spec.name;
      const body = await readBody(req, bodyBytesMax);
      const authentication = {
        operation: spec.name,
        method: req.method,
        url: req.url ?? "/",
        headers: req.headers,
        body,
      };
      const principal = options.accessControl?.authenticateHttp(authentication);
      await options.authenticate?.(authentication);
      const request = spec.create(decodeStructure(spec.input, codec.parse(body), codec));
      const finish =
        principal === undefined
          ? undefined
          : options.accessControl?.authorize(principal, "kinesis", spec.name, request);
      const operations = options.operations();
      if (operations === undefined) {
        throw new KinesisHttpError(
          HttpErrorCode.NotReady,
          "this node's gateway is not ready (its metadata service has no quorum yet, or it is shutting down); retry shortly or use another node",
        );
      }
      if (spec.method === undefined) {
        const handler = streaming[spec.name];
        if (handler === undefined) {
          throw new KinesisHttpError(
            HttpErrorCode.UnknownOperation,
            `${spec.name} is not served on the Kinesis HTTP API of this node yet; use the gRPC API (sluice.v1.StreamsService/${spec.name})`,
          );
        }
        await handler({ operation: spec.name, request, operations, codec, requestId, req, res });
        finish?.();
        options.observe?.(spec.name, "ok", startedAtMs);
        return;
      }
      const run = operations[spec.method] as (request: unknown) => Promise<unknown>;
      let response: Record<string, unknown>;
      try {
        response = (await run(request)) as Record<string, unknown>;
      } catch (error) {
        finish?.(kinesisErrorNameOf(error));
        throw error;
      }
      finish?.();
      const document = encodeStructure(spec.output, response, codec);
      const out = spec.output.members.length === 0 ? Buffer.alloc(0) : codec.serialize(document);
      options.observe?.(spec.name, "ok", startedAtMs);
      if (res.writableEnded) return;
      res.statusCode = 200;
      res.setHeader("Content-Type", responseType);
      res.setHeader("Content-Length", out.length);
      res.end(out);
    })().catch(fail);
  };
}

const JSON_CONTENT_TYPE_DEFAULT = JSON_CODEC.contentTypes[0] as string;

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

/** The operation `X-Amz-Target` names; UnknownOperationException when none. */
function operationOf(target: string | undefined): OperationSpec {
  if (target === undefined) {
    throw new KinesisHttpError(
      HttpErrorCode.UnknownOperation,
      `the X-Amz-Target header is missing; send ${KINESIS_TARGET_PREFIX}.<Operation>`,
    );
  }
  const dot = target.indexOf(".");
  const service = dot < 0 ? target : target.slice(0, dot);
  const spec = dot < 0 ? undefined : OPERATIONS.get(target.slice(dot + 1));
  if (service !== KINESIS_TARGET_PREFIX || spec === undefined) {
    throw new KinesisHttpError(
      HttpErrorCode.UnknownOperation,
      `X-Amz-Target ${JSON.stringify(target.slice(0, 128))} names no operation of ${KINESIS_TARGET_PREFIX}`,
    );
  }
  return spec;
}

/** The whole body, refusing (413) one over `bytesMax` — by its Content-Length before reading any. */
function readBody(req: HttpRequestLike, bytesMax: number): Promise<Buffer> {
  const tooLarge = () =>
    new KinesisHttpError(
      HttpErrorCode.BodyTooLarge,
      `the request body is over ${bytesMax} bytes; PutRecords takes at most 5 MiB of records, so send fewer`,
    );
  const declared = Number(headerValue(req.headers["content-length"]) ?? Number.NaN);
  if (Number.isFinite(declared) && declared > bytesMax) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      length += chunk.length;
      if (length > bytesMax) {
        done = true;
        chunks.length = 0;
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length));
    });
    req.on("close", () => {
      if (done) return;
      done = true;
      reject(
        new KinesisHttpError(HttpErrorCode.Serialization, "the request ended before its body was complete"),
      );
    });
  });
}

/** The `__type`, HTTP status and message of any error: a protocol error, or one of the gateway's table. */
function describeError(error: unknown): { name: string; status: number; message: string } {
  const registered = describeTargetError(error);
  if (registered !== undefined) return registered;
  if (error instanceof KinesisHttpError) {
    return { name: error.kinesisName, status: error.httpStatus, message: error.message };
  }
  const resolved = resolveError(error);
  return {
    name: resolved.entry.kinesisName,
    status: httpStatusOf(resolved.entry),
    message: resolved.message,
  };
}
