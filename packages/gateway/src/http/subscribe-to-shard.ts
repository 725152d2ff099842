/**
 * SubscribeToShard on the Kinesis HTTP API: the gateway's own subscription loop
 * (../server/subscriptions.ts, the same one the gRPC API runs) with its events framed as an AWS
 * event stream (event-stream.ts) on an HTTP/2 response, as the AWS SDKs expect:
 *
 * - the request is validated and the subscription set up (consumer ACTIVE, shard, starting
 *   position) before anything is written, so those errors are ordinary HTTP error answers;
 * - then status 200 `application/vnd.amazon.eventstream`, an `initial-response` event (empty
 *   document), and one `SubscribeToShardEvent` event per event of the loop (Records,
 *   ContinuationSequenceNumber, MillisBehindLatest, ChildShards), in the request's codec (JSON or
 *   CBOR); an idle subscription still gets an event every SUBSCRIBE_IDLE_EVENT_INTERVAL_MS (≤ 5 s);
 * - the stream ends after SUBSCRIPTION_DURATION_MS (5 minutes), at a closed shard's end (the last
 *   event carries ChildShards), when the client resets it, or when the gateway closes;
 * - an error after the first event is sent as an `exception` message (`:exception-type` the
 *   Kinesis name, payload `{message}`) and ends the stream;
 * - one subscription per consumer and shard in the cluster, over either API (the loop acquires
 *   the pair in the metadata service): a new one takes over a subscription that is at least
 *   5 seconds old, and the old stream gets a ResourceInUseException event and ends; sooner, the
 *   new call gets ResourceInUseException (as Kinesis answers).
 *
 * HTTP/2 only (what the AWS SDKs use for it); over HTTP/1.1 the call gets InvalidArgumentException.
 * Backpressure: the loop waits for the HTTP/2 stream's 'drain', so a slow reader holds at most
 * one event in memory.
 *
 * The handler is given the gateway's operations only; the gateway registers its Subscriptions
 * under that object (`registerEventStreamSubscriptions`), so the handler finds the live
 * subscriptions of the same gateway.
 */
import { EventEmitter } from "node:events";
import type { streams } from "@sluice/proto";
import { InvalidArgumentError } from "../errors.js";
import type { StreamsOperations } from "../server/operations.js";
import type { Subscriptions } from "../server/subscriptions.js";
import { resolveError } from "../status-details.js";
import { validateSubscribeToShard } from "../validation.js";
import type { WireCodec } from "./codec.js";
import { EVENT_STREAM_CONTENT_TYPE } from "./constants.js";
import { encodeStructure } from "./document.js";
import { KinesisHttpError } from "./errors.js";
import { encodeEventStreamMessage } from "./event-stream.js";
import type { HttpResponseLike, StreamingExchange, StreamingOperationHandler } from "./exchange.js";
import { OPERATIONS } from "./shapes.js";

type RunCall = Parameters<Subscriptions["run"]>[0];

interface EventStreamSubscriptions {
  readonly subscriptions: Subscriptions;
  readonly clock: () => number;
}

const REGISTERED = new WeakMap<StreamsOperations, EventStreamSubscriptions>();

/**
 * Makes `subscriptions` the ones SubscribeToShard over the HTTP API runs on when a request is
 * served by `operations` (the gateway calls this once, with its own operations object).
 */
export function registerEventStreamSubscriptions(
  operations: StreamsOperations,
  subscriptions: Subscriptions,
  clock: () => number = Date.now,
): void {
  REGISTERED.set(operations, { subscriptions, clock });
}

const SPEC = OPERATIONS.get("SubscribeToShard");
if (SPEC === undefined) throw new Error("@sluice/gateway: shapes.ts has no SubscribeToShard");
const EVENT_SHAPE = SPEC.output;

/** The Kinesis name an exception event carries for `error` (event streams say InternalFailureException). */
function exceptionName(error: unknown): { name: string; message: string } {
  if (error instanceof KinesisHttpError) return { name: error.kinesisName, message: error.message };
  const resolved = resolveError(error);
  const name = resolved.entry.kinesisName;
  return { name: name === "InternalFailure" ? "InternalFailureException" : name, message: resolved.message };
}

/** The three kinds of message this handler sends. */
class EventStreamWriter {
  private readonly contentType: string;
  constructor(
    private readonly res: HttpResponseLike,
    private readonly codec: WireCodec,
  ) {
    this.contentType = codec.contentTypes[0] ?? "application/json";
  }

  open(): void {
    this.res.statusCode = 200;
    this.res.setHeader("Content-Type", EVENT_STREAM_CONTENT_TYPE);
    this.event("initial-response", this.codec.serialize({}));
  }

  event(eventType: string, payload: Buffer): boolean {
    return this.res.write(
      encodeEventStreamMessage(
        { ":message-type": "event", ":event-type": eventType, ":content-type": this.contentType },
        payload,
      ),
    );
  }

  subscribeToShardEvent(event: streams.SubscribeToShardEvent): boolean {
    const document = encodeStructure(EVENT_SHAPE, event as unknown as Record<string, unknown>, this.codec);
    return this.event("SubscribeToShardEvent", this.codec.serialize(document));
  }

  exception(error: unknown): void {
    if (this.res.writableEnded) return;
    const { name, message } = exceptionName(error);
    this.res.write(
      encodeEventStreamMessage(
        { ":message-type": "exception", ":exception-type": name, ":content-type": this.contentType },
        this.codec.serialize({ message }),
      ),
    );
  }
}

/**
 * What the subscription loop writes to: grpc-js's ServerWritableStream, as far as the loop uses
 * it (request, write → false when it must wait for 'drain', end, 'cancelled' / 'close').
 */
class EventStreamCall extends EventEmitter {
  private opened = false;
  constructor(
    readonly request: streams.SubscribeToShardRequest,
    private readonly writer: EventStreamWriter,
    private readonly res: HttpResponseLike,
  ) {
    super();
  }

  get started(): boolean {
    return this.opened;
  }

  write(message: streams.SubscribeToShardResponse): boolean {
    if (this.res.writableEnded) return true;
    if (!this.opened) {
      this.opened = true;
      this.writer.open();
    }
    const event = message.subscribeToShardEvent;
    return event === undefined ? true : this.writer.subscribeToShardEvent(event);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}

export const subscribeToShardOverEventStream: StreamingOperationHandler = async (
  exchange: StreamingExchange,
): Promise<void> => {
  const { req, res, codec } = exchange;
  const request = exchange.request as streams.SubscribeToShardRequest;
  const registered = REGISTERED.get(exchange.operations);
  if (registered === undefined) {
    throw new InvalidArgumentError(
      "SubscribeToShard is not served by this gateway's HTTP API; use the gRPC API (sluice.v1.StreamsService/SubscribeToShard)",
    );
  }
  if (req.httpVersionMajor !== 2) {
    throw new InvalidArgumentError(
      "SubscribeToShard streams its events over HTTP/2 only; use an HTTP/2 client (the AWS SDK for JavaScript v3's NodeHttp2Handler, h2c with prior knowledge)",
    );
  }
  const { subscriptions, clock } = registered;
  validateSubscribeToShard(request, clock());

  const writer = new EventStreamWriter(res, codec);
  const call = new EventStreamCall(request, writer, res);
  res.on("close", () => call.emit("cancelled"));
  res.on("drain", () => call.emit("drain"));
  try {
    await subscriptions.run(call as unknown as RunCall);
  } catch (error) {
    // Before the first event nothing was written: the handler answers with an HTTP error.
    if (!call.started) throw error;
    writer.exception(error);
    call.end();
  }
};
