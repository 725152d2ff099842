/**
 * Subscription: SubscribeToShard events as an async iterator that outlives a session. When a
 * session ends (the server ends every one after 5 minutes, or `sessionMs` here) or fails with a
 * retriable error (the node died: the next call goes to another endpoint; the previous session
 * is still held: ResourceInUseException), it subscribes again from the last
 * ContinuationSequenceNumber (AFTER_SEQUENCE_NUMBER), so no record is skipped or repeated. It
 * ends after the event that carries ChildShards (the shard is closed and read to its end).
 */
import { type ClientReadableStream, Metadata } from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import { SUBSCRIBE_RETRY_MS_BASE, SUBSCRIBE_RETRY_MS_MAX, SUBSCRIBE_RETRY_WINDOW_MS } from "./constants.js";
import { AbortedError, callErrorOf, InvalidOptionsError } from "./errors.js";
import { backoffMs, sleep } from "./sleep.js";
import { type StartPosition, toProtoStart } from "./start-position.js";
import type { StreamsApi } from "./streams-api.js";

export interface SubscriptionOptions {
  readonly consumerArn: string;
  readonly shardId: string;
  readonly start: StartPosition;
  /** End each session after this long and subscribe again (the server ends them after 5 min). */
  readonly sessionMs?: number;
  readonly signal?: AbortSignal;
}

export interface SubscriptionEvent {
  readonly records: streams.Record[];
  readonly continuationSequenceNumber: string;
  readonly millisBehindLatest: number;
  readonly childShards: streams.ChildShard[];
}

export class Subscription implements AsyncIterable<SubscriptionEvent> {
  /** Sessions opened so far (1 + resubscriptions). */
  sessions = 0;
  /** The children, once the shard's end was delivered. */
  childShards: streams.ChildShard[] = [];
  /** The last ContinuationSequenceNumber received. */
  continuationSequenceNumber = "";
  readonly #client: StreamsApi;
  readonly #options: SubscriptionOptions;

  constructor(client: StreamsApi, options: SubscriptionOptions) {
    if (!options.consumerArn) throw new InvalidOptionsError("subscribe: consumerArn is required");
    if (!options.shardId) throw new InvalidOptionsError("subscribe: shardId is required");
    toProtoStart(options.start);
    if (options.sessionMs !== undefined && !(options.sessionMs > 0)) {
      throw new InvalidOptionsError(
        `subscribe: sessionMs must be a positive number, not ${options.sessionMs}`,
      );
    }
    this.#client = client;
    this.#options = options;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionEvent> {
    const { signal } = this.#options;
    let failures = 0;
    let failingSinceMs = 0;
    for (;;) {
      if (signal?.aborted === true) throw new AbortedError("subscribe was aborted by its AbortSignal");
      const start: StartPosition =
        this.continuationSequenceNumber === ""
          ? this.#options.start
          : { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: this.continuationSequenceNumber };
      const { type, sequenceNumber, timestamp } = toProtoStart(start);
      const endpoint = this.#client.pickEndpoint();
      const call = endpoint.channel.subscribeToShard(
        {
          consumerArn: this.#options.consumerArn,
          shardId: this.#options.shardId,
          startingPosition: { type, sequenceNumber, ...(timestamp === undefined ? {} : { timestamp }) },
        },
        this.#client.callMetadata?.() ?? new Metadata(),
      );
      this.sessions++;
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      let ownEnd = false;
      const sessionTimer =
        this.#options.sessionMs === undefined
          ? undefined
          : setTimeout(() => {
              ownEnd = true;
              call.cancel();
            }, this.#options.sessionMs);
      try {
        for await (const message of messagesOf(call)) {
          const event = message.subscribeToShardEvent;
          if (event === undefined) continue;
          failures = 0;
          if (event.continuationSequenceNumber !== "")
            this.continuationSequenceNumber = event.continuationSequenceNumber;
          yield event;
          if (event.childShards.length > 0) {
            this.childShards = event.childShards;
            return;
          }
        }
        // The server ended the session (its 5 minutes): subscribe again at once.
      } catch (error) {
        if (isAborted(signal))
          throw new AbortedError("subscribe was aborted by its AbortSignal", { cause: error });
        if (!ownEnd) {
          const callError = callErrorOf("SubscribeToShard", endpoint.address, error as never);
          const retriable = callError.retriable || callError.errorName === "ResourceInUseException";
          if (!retriable) throw callError;
          if (callError.grpcStatus === 14) this.#client.markEndpointDown(endpoint);
          if (failures === 0) failingSinceMs = Date.now();
          if (Date.now() - failingSinceMs > SUBSCRIBE_RETRY_WINDOW_MS) throw callError;
          await sleep(backoffMs(failures++, SUBSCRIBE_RETRY_MS_BASE, SUBSCRIBE_RETRY_MS_MAX), signal);
        }
      } finally {
        if (sessionTimer !== undefined) clearTimeout(sessionTimer);
        signal?.removeEventListener("abort", onAbort);
        call.cancel();
      }
    }
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * The messages of a server stream until it ends ('end', or 'close' after a cancel) or fails
 * ('error', thrown). Events are buffered while the consumer works; the stream is paused while
 * more than one message waits, so memory stays bounded.
 */
async function* messagesOf<T>(call: ClientReadableStream<T>): AsyncGenerator<T> {
  const queue: T[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  call.on("data", (message: T) => {
    queue.push(message);
    if (queue.length > 1) call.pause();
    notify();
  });
  call.on("error", (error: unknown) => {
    failure ??= error;
    done = true;
    notify();
  });
  call.on("end", () => {
    done = true;
    notify();
  });
  call.on("close", () => {
    done = true;
    notify();
  });
  for (;;) {
    const message = queue.shift();
    if (message !== undefined) {
      if (queue.length <= 1) call.resume();
      yield message;
      continue;
    }
    if (failure !== undefined) throw failure;
    if (done) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
}
