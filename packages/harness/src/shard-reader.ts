/**
 * Reading a shard to its tip through the public API, for tests: follows NextShardIterator until
 * a call returns no records and MillisBehindLatest 0, and rides out read throttling
 * (ProvisionedThroughputExceededException, 5 calls/s per shard on PROVISIONED streams) by
 * trying again until the deadline. Any other error is thrown at once.
 */
import { streams } from "@sluice/proto";
import { StreamsCallError, type StreamsClient } from "./streams-client.js";
import { waitFor } from "./wait-for.js";

/** What a read to the tip found. */
export interface ShardReadResult {
  readonly records: streams.Record[];
  /** The iterator after the last record; "" when the shard is closed and drained. */
  readonly nextShardIterator: string;
}

/** GetRecords, retried only while the shard's read throughput is used up, until `timeoutMs`. */
export async function getRecordsUnthrottled(
  client: StreamsClient,
  request: Partial<streams.GetRecordsRequest>,
  timeoutMs = 10_000,
): Promise<streams.GetRecordsResponse> {
  let fatal: unknown;
  const response = await waitFor(
    async () => {
      try {
        return await client.getRecords(request);
      } catch (error) {
        if (
          error instanceof StreamsCallError &&
          error.errorName === "ProvisionedThroughputExceededException"
        ) {
          throw error;
        }
        fatal = error;
        return { fatal: true } as const;
      }
    },
    { timeoutMs, what: "GetRecords to get past read throttling", intervalMs: 100 },
  );
  if ("fatal" in response) throw fatal;
  return response;
}

/** Reads from `shardIterator` to the shard's tip; `limit` is the GetRecords Limit of each call. */
export async function readToTip(
  client: StreamsClient,
  shardIterator: string,
  options: { limit?: number; timeoutMs?: number } = {},
): Promise<ShardReadResult> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const records: streams.Record[] = [];
  let iterator = shardIterator;
  for (;;) {
    const response = await getRecordsUnthrottled(
      client,
      { shardIterator: iterator, ...(options.limit === undefined ? {} : { limit: options.limit }) },
      Math.max(1, deadline - Date.now()),
    );
    records.push(...response.records);
    iterator = response.nextShardIterator;
    if (iterator === "" || (response.records.length === 0 && response.millisBehindLatest === 0)) {
      return { records, nextShardIterator: iterator };
    }
    if (Date.now() > deadline) {
      throw new Error(`reading the shard to its tip took longer than ${options.timeoutMs ?? 20_000} ms`);
    }
  }
}

/** Every record of one shard from TRIM_HORIZON to the tip. */
export async function readShardFromTrimHorizon(
  client: StreamsClient,
  streamName: string,
  shardId: string,
  options: { limit?: number; timeoutMs?: number } = {},
): Promise<streams.Record[]> {
  const { shardIterator } = await client.getShardIterator({
    streamName,
    shardId,
    shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
  });
  return (await readToTip(client, shardIterator, options)).records;
}
