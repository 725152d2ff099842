/**
 * Reading a whole stream through the SDK (every shard, closed ones included, from TRIM_HORIZON
 * to its current end), for tests that compare what a job wrote with what they expect.
 */
import { ShardReader, type SluiceClient } from "@sluice/client";

/** Every record's data of every shard of `streamName` (closed shards included), by shard id, in shard order. */
export async function readStreamByShard(
  client: SluiceClient,
  streamName: string,
): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>();
  for (const shard of await client.listAllShards(streamName)) {
    const reader = new ShardReader(client, {
      streamName,
      shardId: shard.shardId,
      start: { type: "TRIM_HORIZON" },
      follow: false,
    });
    const records: Buffer[] = [];
    for await (const record of reader) records.push(Buffer.from(record.data));
    out.set(shard.shardId, records);
  }
  return out;
}

/** Every record's data of `streamName`, shard after shard. */
export async function readStream(client: SluiceClient, streamName: string): Promise<Buffer[]> {
  return [...(await readStreamByShard(client, streamName)).values()].flat();
}
