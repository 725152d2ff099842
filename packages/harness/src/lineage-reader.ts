/**
 * Reading a whole stream the way a Kinesis consumer that follows lineage does: every shard from
 * TRIM_HORIZON, each parent drained (GetRecords until NextShardIterator is empty and ChildShards
 * is set) before any of its children is read. Concatenating the shards in the order returned
 * gives every partition key's records in the order the stream holds them, across parent → child
 * boundaries; for tests of resharding.
 */
import { streams } from "@sluice/proto";
import { LINEAGE_READ_TIMEOUT_MS_DEFAULT, READ_SHARD_PAGE_RECORDS_MAX } from "./constants.js";
import { getRecordsUnthrottled } from "./shard-reader.js";
import type { StreamsClient } from "./streams-client.js";

/** One shard as the lineage reader found it. */
export interface LineageShardRead {
  readonly shard: streams.Shard;
  /** Every record of the shard from TRIM_HORIZON, in shard order. */
  readonly records: streams.Record[];
  /** True when the listing gave the shard an EndingSequenceNumber (split or merged). */
  readonly closed: boolean;
  /** The ChildShards of the page that ended a closed shard's read; empty for an open shard. */
  readonly childShards: streams.ChildShard[];
}

export interface LineageReadOptions {
  /** Give up (throw) when the whole stream is not read by then. @default 60000 */
  readonly timeoutMs?: number;
}

/** Every shard of the stream (open and closed), following ListShards' NextToken. */
export async function listAllShards(client: StreamsClient, streamName: string): Promise<streams.Shard[]> {
  const shards: streams.Shard[] = [];
  let response = await client.listShards({ streamName });
  shards.push(...response.shards);
  while (response.nextToken !== "") {
    response = await client.listShards({ nextToken: response.nextToken });
    shards.push(...response.shards);
  }
  return shards;
}

/**
 * Reads every shard of the stream, parents before children, and returns them in the order read
 * (a topological order of the lineage; among shards whose parents are all read, ListShards'
 * order). A closed shard is read until a page returns an empty NextShardIterator, which must come
 * with ChildShards (else this throws: a consumer could not go on); an open shard is read to its
 * tip, so call this once writes have stopped. Throttled GetRecords calls are retried.
 */
export async function readStreamByLineage(
  client: StreamsClient,
  streamName: string,
  options: LineageReadOptions = {},
): Promise<LineageShardRead[]> {
  const timeoutMs = options.timeoutMs ?? LINEAGE_READ_TIMEOUT_MS_DEFAULT;
  const deadline = Date.now() + timeoutMs;
  const shards = await listAllShards(client, streamName);
  const listed = new Set(shards.map((shard) => shard.shardId));
  const done = new Set<string>();
  const result: LineageShardRead[] = [];
  while (result.length < shards.length) {
    const ready = shards.filter(
      (shard) =>
        !done.has(shard.shardId) &&
        [shard.parentShardId, shard.adjacentParentShardId].every(
          (parent) => parent === "" || !listed.has(parent) || done.has(parent),
        ),
    );
    if (ready.length === 0) {
      throw new Error(
        `the lineage of ${streamName} has a cycle: shards ${shards.filter((s) => !done.has(s.shardId)).map((s) => s.shardId)} wait on each other`,
      );
    }
    for (const shard of ready) {
      result.push(await readOneShard(client, streamName, shard, deadline, timeoutMs));
      done.add(shard.shardId);
    }
  }
  return result;
}

async function readOneShard(
  client: StreamsClient,
  streamName: string,
  shard: streams.Shard,
  deadline: number,
  timeoutMs: number,
): Promise<LineageShardRead> {
  const closed = (shard.sequenceNumberRange?.endingSequenceNumber ?? "") !== "";
  const remaining = (): number => Math.max(1, deadline - Date.now());
  let iterator = (
    await client.getShardIterator(
      {
        streamName,
        shardId: shard.shardId,
        shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
      },
      remaining(),
    )
  ).shardIterator;
  const records: streams.Record[] = [];
  for (;;) {
    if (Date.now() > deadline) {
      throw new Error(
        `reading ${streamName} by lineage took longer than ${timeoutMs} ms (${shard.shardId}: ${records.length} records so far)`,
      );
    }
    const page = await getRecordsUnthrottled(
      client,
      { shardIterator: iterator, limit: READ_SHARD_PAGE_RECORDS_MAX },
      remaining(),
    );
    records.push(...page.records);
    if (page.nextShardIterator === "") {
      if (page.childShards.length === 0) {
        throw new Error(
          `GetRecords of ${streamName}/${shard.shardId} ended (empty NextShardIterator) without ChildShards`,
        );
      }
      return { shard, records, closed, childShards: page.childShards };
    }
    iterator = page.nextShardIterator;
    // An open shard ends at its tip; a closed one only with the empty iterator above.
    if (!closed && page.records.length === 0 && page.millisBehindLatest === 0) {
      return { shard, records, closed, childShards: [] };
    }
  }
}
