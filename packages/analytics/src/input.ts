/**
 * The input of an application: every shard of the input stream read round by round (one
 * GetRecords per unfinished shard, in parallel), each record given to the engine once, in shard
 * order, past the shard's saved position. The watermark is the minimum over the shards that are
 * not idle of the newest time each has shown, minus the allowed lateness; a shard at its tip
 * with no record for IDLE_SHARD_TIMEOUT_MS does not hold it back, and when every shard is idle
 * the watermark follows the wall clock from the newest time seen (the idle-shard timer), so a
 * quiet stream's last window still closes.
 *
 * Reshards: shards appearing in the list are read from TRIM_HORIZON; a parent is not finished
 * before its children are started (order across a reshard is up to the watermark's lateness).
 */
import type { SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import { IDLE_SHARD_TIMEOUT_MS, INPUT_READ_LIMIT_RECORDS, INPUT_SHARD_REFRESH_MS } from "./constants.js";
import type { QueryEngine } from "./engine.js";
import { rowOf } from "./row.js";
import { compareSequenceNumbers } from "./sequence.js";
import type { InputShardState } from "./snapshot.js";

class ShardCursor {
  iterator = "";
  atTip = false;
  millisBehindLatest = 0;
  lastRecordWallMs: number;
  constructor(
    readonly shardId: string,
    public position: string,
    public ended: boolean,
    public maxTimeMs: number | null,
    nowMs: number,
  ) {
    this.lastRecordWallMs = nowMs;
  }
}

export interface InputOptions {
  readonly client: SluiceClient;
  readonly streamName: string;
  readonly allowedLatenessMs: number;
  /** Where a shard with no saved position starts. @default TRIM_HORIZON */
  readonly start?: "TRIM_HORIZON" | "LATEST";
  readonly clock: () => number;
  readonly onError?: (error: unknown, shardId: string) => void;
}

export class Input {
  private readonly options: InputOptions;
  private readonly shards = new Map<string, ShardCursor>();
  private listedAtMs = Number.NEGATIVE_INFINITY;
  /** Wall time of the newest record read, and the newest record time seen on any shard. */
  private latestRecordWallMs: number;
  private latestTimeMs: number | null = null;

  constructor(options: InputOptions, saved: Readonly<Record<string, InputShardState>> = {}) {
    this.options = options;
    const now = options.clock();
    this.latestRecordWallMs = now;
    for (const [shardId, state] of Object.entries(saved)) {
      this.shards.set(shardId, new ShardCursor(shardId, state.position, state.ended, state.maxTimeMs, now));
      if (state.maxTimeMs !== null)
        this.latestTimeMs = Math.max(this.latestTimeMs ?? state.maxTimeMs, state.maxTimeMs);
    }
  }

  /** Positions to store in a snapshot. */
  save(): Record<string, InputShardState> {
    const out: Record<string, InputShardState> = {};
    for (const [shardId, shard] of this.shards)
      out[shardId] = { position: shard.position, ended: shard.ended, maxTimeMs: shard.maxTimeMs };
    return out;
  }

  /**
   * True once the shard list was read and every unfinished shard has an iterator: from then on a
   * record written to the stream is read (with start LATEST, one written before may not be).
   */
  get positioned(): boolean {
    if (!Number.isFinite(this.listedAtMs)) return false;
    for (const shard of this.shards.values()) if (!shard.ended && shard.iterator === "") return false;
    return true;
  }

  /** The largest MillisBehindLatest of the last round (the application's input lag). */
  get lagMs(): number {
    let lag = 0;
    for (const shard of this.shards.values()) if (!shard.ended) lag = Math.max(lag, shard.millisBehindLatest);
    return lag;
  }

  /** Reads one page from every unfinished shard into `engine`; returns the records folded. */
  async poll(engine: QueryEngine): Promise<number> {
    const now = this.options.clock();
    if (now - this.listedAtMs >= INPUT_SHARD_REFRESH_MS) {
      const shards = await this.options.client.listAllShards(this.options.streamName);
      for (const shard of shards) {
        if (!this.shards.has(shard.shardId))
          this.shards.set(shard.shardId, new ShardCursor(shard.shardId, "", false, null, now));
      }
      this.listedAtMs = now;
    }
    const open = [...this.shards.values()].filter((shard) => !shard.ended);
    const pages = await Promise.all(open.map((shard) => this.read(shard)));
    let folded = 0;
    const readAtMs = this.options.clock();
    for (const [i, page] of pages.entries()) {
      if (page === undefined) continue;
      const shard = open[i] as ShardCursor;
      shard.millisBehindLatest = Number(page.millisBehindLatest);
      shard.atTip = page.records.length === 0;
      for (const record of page.records) {
        if (shard.position !== "" && compareSequenceNumbers(record.sequenceNumber, shard.position) <= 0)
          continue;
        const timeMs = engine.add(
          rowOf({
            data: record.data,
            partitionKey: record.partitionKey,
            sequenceNumber: record.sequenceNumber,
            approximateArrivalTimestampMs: Number(record.approximateArrivalTimestamp),
          }),
        );
        shard.position = record.sequenceNumber;
        folded += 1;
        if (!Number.isNaN(timeMs)) {
          if (shard.maxTimeMs === null || timeMs > shard.maxTimeMs) shard.maxTimeMs = timeMs;
          if (this.latestTimeMs === null || timeMs > this.latestTimeMs) this.latestTimeMs = timeMs;
        }
      }
      if (page.records.length > 0) {
        shard.lastRecordWallMs = readAtMs;
        this.latestRecordWallMs = readAtMs;
      }
      if (page.nextShardIterator === "") shard.ended = true;
      else shard.iterator = page.nextShardIterator;
    }
    return folded;
  }

  /** The watermark now (see the file comment); −Infinity before any record time. */
  watermarkMs(): number {
    const now = this.options.clock();
    let min = Number.POSITIVE_INFINITY;
    let holding = 0;
    for (const shard of this.shards.values()) {
      if (shard.ended) continue;
      const idle = shard.atTip && now - shard.lastRecordWallMs >= IDLE_SHARD_TIMEOUT_MS;
      if (idle) continue;
      holding += 1;
      min = Math.min(min, shard.maxTimeMs ?? Number.NEGATIVE_INFINITY);
    }
    if (this.latestTimeMs === null) return Number.NEGATIVE_INFINITY;
    if (holding === 0) {
      // Every shard idle: time goes on from the newest record seen, at the wall clock's pace.
      return this.latestTimeMs + Math.max(0, now - this.latestRecordWallMs) - this.options.allowedLatenessMs;
    }
    return min - this.options.allowedLatenessMs;
  }

  private async read(shard: ShardCursor): Promise<streams.GetRecordsResponse | undefined> {
    const client = this.options.client;
    try {
      if (shard.iterator === "") {
        const type =
          shard.position !== ""
            ? streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER
            : this.options.start === "LATEST"
              ? streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST
              : streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON;
        const response = await client.getShardIterator({
          streamName: this.options.streamName,
          shardId: shard.shardId,
          shardIteratorType: type,
          ...(shard.position === "" ? {} : { startingSequenceNumber: shard.position }),
        });
        shard.iterator = response.shardIterator;
      }
      return await client.getRecords({ shardIterator: shard.iterator, limit: INPUT_READ_LIMIT_RECORDS });
    } catch (error) {
      // An expired or refused iterator is fetched again from the position at the next round.
      shard.iterator = "";
      this.options.onError?.(error, shard.shardId);
      return undefined;
    }
  }
}
