/**
 * StreamReader: a whole stream's records as one async iterator, following lineage as a Kinesis
 * consumer does: every open shard is read at the same time (one ShardReader each), and a child
 * shard is read only once each of its parents was read to its end, so every partition key's
 * records come in the order the stream holds them, across splits and merges. New shards are
 * found by listing the shards again when a shard ends and every STREAM_READER_RELIST_MS.
 *
 * Shards present at the first listing start at `start`; children found later start at
 * TRIM_HORIZON (or at the same timestamp for AT_TIMESTAMP), so nothing written to a child is
 * missed. Each shard's reader hands over one page at a time and waits until it is taken:
 * memory stays bounded by one page per open shard.
 */

import { STREAM_READER_RELIST_MS } from "./constants.js";
import { AbortedError, InvalidOptionsError, SluiceCallError } from "./errors.js";
import { type ReadRecord, type ShardPage, ShardReader } from "./shard-reader.js";
import { sleep } from "./sleep.js";
import type { StartPosition } from "./start-position.js";
import type { StreamsApi } from "./streams-api.js";

export interface StreamReaderOptions {
  readonly streamName: string;
  /** TRIM_HORIZON, LATEST or AT_TIMESTAMP (sequence numbers name a shard: use shardReader). */
  readonly start: StartPosition;
  /** Keep following open shards at their tip (true) or end once every shard is read to its tip (false). @default true */
  readonly follow?: boolean;
  /** Records per GetRecords call. @default 10000 */
  readonly limit?: number;
  /** Pause between two empty reads at the tip of a shard. @default 200 */
  readonly idlePollMs?: number;
  /** How often shards are listed again while following. @default 1000 */
  readonly relistMs?: number;
  readonly signal?: AbortSignal;
}

interface Handoff {
  readonly page: ShardPage;
  readonly taken: () => void;
}

export class StreamReader implements AsyncIterable<ReadRecord> {
  /** Shards read to their end (closed shards), in the order they ended. */
  readonly endedShards: string[] = [];
  readonly #client: StreamsApi;
  readonly #options: StreamReaderOptions;

  constructor(client: StreamsApi, options: StreamReaderOptions) {
    if (!options.streamName) throw new InvalidOptionsError("streamReader: streamName is required");
    if (!["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].includes(options.start?.type)) {
      throw new InvalidOptionsError("streamReader: start.type must be TRIM_HORIZON, LATEST or AT_TIMESTAMP");
    }
    this.#client = client;
    this.#options = options;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReadRecord> {
    for await (const page of this.pages()) yield* page.records;
  }

  /** The pages of every shard as they are read (records of one page are of one shard). */
  async *pages(): AsyncGenerator<ShardPage> {
    const options = this.#options;
    const follow = options.follow ?? true;
    const relistMs = options.relistMs ?? STREAM_READER_RELIST_MS;
    const stop = new AbortController();
    const onOuterAbort = () => stop.abort();
    options.signal?.addEventListener("abort", onOuterAbort, { once: true });
    const queue: Handoff[] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      const resolve = wake;
      wake = undefined;
      resolve?.();
    };
    let failure: unknown;
    let running = 0;
    let relistWanted = true;
    let lastListMs = 0;
    let initialIds: Set<string> | undefined;
    const started = new Set<string>();
    const ended = new Set<string>();

    const runShard = async (shardId: string, start: StartPosition): Promise<void> => {
      try {
        const reader = new ShardReader(this.#client, {
          streamName: options.streamName,
          shardId,
          start,
          follow,
          signal: stop.signal,
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          ...(options.idlePollMs === undefined ? {} : { idlePollMs: options.idlePollMs }),
        });
        for await (const page of reader.pages()) {
          if (page.records.length === 0 && !page.shardEnded) continue;
          await new Promise<void>((taken) => {
            queue.push({ page, taken });
            notify();
          });
        }
        if (reader.ended) {
          ended.add(shardId);
          this.endedShards.push(shardId);
          relistWanted = true;
        }
      } catch (error) {
        if (!stop.signal.aborted) failure ??= error;
      } finally {
        running--;
        notify();
      }
    };

    const relist = async (): Promise<void> => {
      lastListMs = Date.now();
      relistWanted = false;
      const shards = await this.#client.listAllShards(options.streamName, { signal: stop.signal });
      const listed = new Set(shards.map((shard) => shard.shardId));
      initialIds ??= listed;
      for (const shard of shards) {
        if (started.has(shard.shardId)) continue;
        const parentsEnded = [shard.parentShardId, shard.adjacentParentShardId].every(
          (parent) => parent === "" || !listed.has(parent) || ended.has(parent),
        );
        if (!parentsEnded) continue;
        started.add(shard.shardId);
        running++;
        const start: StartPosition =
          initialIds.has(shard.shardId) || options.start.type === "AT_TIMESTAMP"
            ? options.start
            : { type: "TRIM_HORIZON" };
        void runShard(shard.shardId, start);
      }
    };

    try {
      for (;;) {
        if (failure !== undefined) throw failure;
        if (options.signal?.aborted === true)
          throw new AbortedError("streamReader was aborted by its AbortSignal");
        const handoff = queue.shift();
        if (handoff !== undefined) {
          handoff.taken();
          yield handoff.page;
          continue;
        }
        if (relistWanted || (follow && Date.now() - lastListMs >= relistMs)) {
          try {
            await relist();
          } catch (error) {
            if (!(error instanceof SluiceCallError) || !error.retriable) throw error;
            relistWanted = true;
            await sleep(relistMs, options.signal);
          }
          continue;
        }
        if (running === 0 && !follow) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (follow) setTimeout(notify, Math.max(1, relistMs - (Date.now() - lastListMs)));
        });
      }
    } finally {
      options.signal?.removeEventListener("abort", onOuterAbort);
      stop.abort();
      for (const pending of queue.splice(0)) pending.taken();
    }
  }
}
