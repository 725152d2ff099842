import { streams } from "@sluice/proto";
import type { SluiceClient } from "../client.js";
import { SluiceCallError } from "../errors.js";

/**
 * Creates an ON_DEMAND stream of `shardCount` shards unless one of that name exists (any mode,
 * any shard count: it is left as it is), then waits until it is ACTIVE and returns its summary.
 * Any other refusal (validation, limits, no quorum) comes back as the SluiceCallError it was.
 */
export async function createStreamIfMissing(
  client: SluiceClient,
  streamName: string,
  shardCount: number,
): Promise<streams.StreamDescriptionSummary> {
  try {
    await client.createStream({
      streamName,
      shardCount,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
  } catch (error) {
    if (!(error instanceof SluiceCallError && error.errorName === "ResourceInUseException")) throw error;
  }
  return client.waitForStreamStatus(streamName);
}
