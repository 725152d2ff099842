/**
 * The driver for Sluice's own API: the public gRPC service (sluice.v1.StreamsService) through the
 * harness's StreamsClient, one channel per node, callers spread over the three nodes' gateways.
 */
import { StreamsCallError, type StreamsClient, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import {
  CALL_TIMEOUT_MS,
  POLL_INTERVAL_MS,
  POLL_LIMIT_RECORDS,
  SERVER_START_TIMEOUT_MS,
} from "./constants.ts";
import type { BenchDriver, BenchRecord, ConsumeMode, Consumption, RecordHandler } from "./target.ts";
import { nowMs } from "./target.ts";

const THROTTLING = new Set(["ProvisionedThroughputExceededException", "LimitExceededException"]);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class SluiceGrpcDriver implements BenchDriver {
  readonly consumeModes: readonly ConsumeMode[] = ["poll", "subscribe"];
  readonly #cluster: TestCluster;

  constructor(cluster: TestCluster) {
    this.#cluster = cluster;
  }

  #client(caller: number): StreamsClient {
    const nodeIds = this.#cluster.nodeIds;
    return this.#cluster.streams(nodeIds[caller % nodeIds.length] ?? 1);
  }

  async createStream(streamName: string, shardCount: number): Promise<void> {
    // ON_DEMAND: no per-shard write throttle (the Kinesis 1,000 records/s per shard would cap the
    // figures at 4,000 records/s, which is a quota, not the broker's speed).
    await this.#client(0).createActiveStream(
      {
        streamName,
        shardCount,
        streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
      },
      SERVER_START_TIMEOUT_MS,
    );
    for (const nodeId of this.#cluster.nodeIds) {
      await this.#cluster
        .streams(nodeId)
        .waitStreamStatus(streamName, streams.StreamStatus.STREAM_STATUS_ACTIVE, SERVER_START_TIMEOUT_MS);
    }
  }

  async putRecords(streamName: string, records: readonly BenchRecord[], caller: number): Promise<number> {
    const response = await this.#client(caller).putRecords(
      {
        streamName,
        records: records.map((record) => ({
          partitionKey: record.partitionKey,
          data: record.data,
          explicitHashKey: "",
        })),
      },
      CALL_TIMEOUT_MS,
    );
    return response.failedRecordCount;
  }

  async putRecord(streamName: string, record: BenchRecord, caller: number): Promise<void> {
    await this.#client(caller).putRecord(
      { streamName, partitionKey: record.partitionKey, data: record.data },
      CALL_TIMEOUT_MS,
    );
  }

  async consume(streamName: string, mode: ConsumeMode, onRecord: RecordHandler): Promise<Consumption> {
    const admin = this.#client(0);
    const shards = (await admin.listShards({ streamName })).shards;
    let errors = 0;
    let running = true;
    if (mode === "poll") {
      // Each shard's iterator first, then its loop (wrapped: an async function returning the loop's
      // promise would adopt it, and awaiting the iterators would wait for the loops to end).
      const started = await Promise.all(
        shards.map(async (shard, position) => {
          const client = this.#client(position);
          let iterator = (
            await client.getShardIterator({
              streamName,
              shardId: shard.shardId,
              shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST,
            })
          ).shardIterator;
          const loop = (async () => {
            while (running && iterator !== "") {
              const startedAt = performance.now();
              try {
                const response = await client.getRecords(
                  { shardIterator: iterator, limit: POLL_LIMIT_RECORDS },
                  CALL_TIMEOUT_MS,
                );
                const at = nowMs();
                for (const record of response.records) onRecord(record.data, at);
                iterator = response.nextShardIterator;
              } catch (error) {
                if (!(error instanceof StreamsCallError) || !THROTTLING.has(error.errorName)) errors += 1;
              }
              await sleep(Math.max(0, POLL_INTERVAL_MS - (performance.now() - startedAt)));
            }
          })();
          return { loop };
        }),
      );
      const loops = started.map((entry) => entry.loop);
      return {
        errors: () => errors,
        close: async () => {
          running = false;
          await Promise.all(loops);
        },
      };
    }
    const streamArn = (await admin.describeStreamSummary({ streamName })).streamDescriptionSummary?.streamArn;
    const consumer = (
      await admin.registerStreamConsumer({ streamArn: streamArn ?? "", consumerName: "bench" })
    ).consumer;
    if (consumer === undefined) throw new Error("RegisterStreamConsumer returned no consumer");
    await waitFor(
      async () =>
        (await admin.describeStreamConsumer({ consumerArn: consumer.consumerArn })).consumerDescription
          ?.consumerStatus === streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
      { timeoutMs: SERVER_START_TIMEOUT_MS, what: "the bench consumer to be ACTIVE", intervalMs: 100 },
    );
    // One SubscribeToShard stream per shard, through the node of its position; renewed from the
    // continuation sequence number when the server ends it.
    const cancels = new Set<() => void>();
    const loops = shards.map(async (shard, position) => {
      let startingPosition: streams.StartingPosition = {
        type: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST,
        sequenceNumber: "",
      };
      while (running) {
        await new Promise<void>((resolve) => {
          const call = this.#client(position).subscribeToShard({
            consumerArn: consumer.consumerArn,
            shardId: shard.shardId,
            startingPosition,
          });
          const cancel = () => call.cancel();
          cancels.add(cancel);
          call.on("data", (message: streams.SubscribeToShardResponse) => {
            const event = message.subscribeToShardEvent;
            if (event === undefined) return;
            const at = nowMs();
            for (const record of event.records) onRecord(record.data, at);
            if (event.continuationSequenceNumber !== "") {
              startingPosition = {
                ...startingPosition,
                type: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
                sequenceNumber: event.continuationSequenceNumber,
              };
            }
          });
          call.on("error", (error: Error) => {
            if (running && !/CANCELLED|Cancelled/.test(error.message)) errors += 1;
          });
          call.on("close", () => {
            cancels.delete(cancel);
            resolve();
          });
        });
        if (running) await sleep(POLL_INTERVAL_MS);
      }
    });
    return {
      errors: () => errors,
      close: async () => {
        running = false;
        for (const cancel of cancels) cancel();
        await Promise.all(loops);
      },
    };
  }

  async close(): Promise<void> {
    // The channels belong to the cluster object; cluster.stop() closes them.
  }
}
