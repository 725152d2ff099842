/**
 * Which open shard a partition key (or explicit hash key) falls in, for the producer's
 * per-shard throttling counters: MD5 of the key's UTF-8 bytes as an unsigned 128-bit big-endian
 * number, looked up in the open shards' hash key ranges. Only throttled records are looked up
 * (a cold path), so BigInt is used here and never per sent record.
 */
import { createHash } from "node:crypto";
import type { streams } from "@sluice/proto";

export class ShardMap {
  readonly #starts: bigint[] = [];
  readonly #ends: bigint[] = [];
  readonly #ids: string[] = [];

  constructor(shards: readonly streams.Shard[]) {
    const open = shards
      .filter(
        (shard) =>
          (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "" && shard.hashKeyRange !== undefined,
      )
      .map((shard) => ({
        id: shard.shardId,
        start: BigInt(shard.hashKeyRange?.startingHashKey ?? "0"),
        end: BigInt(shard.hashKeyRange?.endingHashKey ?? "0"),
      }))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const shard of open) {
      this.#starts.push(shard.start);
      this.#ends.push(shard.end);
      this.#ids.push(shard.id);
    }
  }

  /** The shard id holding the key, or undefined when no open shard covers it (a stale map). */
  shardOf(partitionKey: string, explicitHashKey: string): string | undefined {
    const hashKey =
      explicitHashKey !== ""
        ? BigInt(explicitHashKey)
        : BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`);
    let low = 0;
    let high = this.#starts.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const start = this.#starts[middle] as bigint;
      if (hashKey < start) high = middle - 1;
      else if (hashKey > (this.#ends[middle] as bigint)) low = middle + 1;
      else return this.#ids[middle];
    }
    return undefined;
  }
}
