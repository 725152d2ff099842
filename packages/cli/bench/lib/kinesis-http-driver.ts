/**
 * The driver for every Kinesis HTTP endpoint (Sluice's Kinesis port, kinesalite, kinesis-local,
 * the null endpoint): the unmodified AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis), HTTP/1.1
 * keep-alive for the calls, HTTP/2 (NodeHttp2Handler) for SubscribeToShard's event streams.
 */
import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  type StartingPosition,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { waitFor } from "@sluice/harness";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";
import {
  CALL_TIMEOUT_MS,
  POLL_INTERVAL_MS,
  POLL_LIMIT_RECORDS,
  SERVER_START_TIMEOUT_MS,
} from "./constants.ts";
import type { BenchDriver, BenchRecord, ConsumeMode, Consumption, RecordHandler } from "./target.ts";
import { nowMs } from "./target.ts";

export interface KinesisHttpDriverOptions {
  /** Base URLs (`http://127.0.0.1:4567`); callers are spread over them, the first one administers. */
  readonly endpoints: readonly string[];
  /** Create streams ON_DEMAND (Sluice: no per-shard write throttle; emulators ignore it). */
  readonly onDemand: boolean;
  /** The target serves SubscribeToShard (HTTP/2 event streams). */
  readonly subscribe: boolean;
  /** Sockets per endpoint: at least the callers of the busiest workload. */
  readonly maxSockets: number;
}

const THROTTLING = new Set(["ProvisionedThroughputExceededException", "LimitExceededException"]);

export function kinesisClient(endpoint: string, maxSockets: number, http2 = false): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "bench" },
    requestHandler: http2
      ? new NodeHttp2Handler({ requestTimeout: 0 })
      : new NodeHttpHandler({
          httpAgent: { keepAlive: true, maxSockets },
          requestTimeout: CALL_TIMEOUT_MS,
        }),
    maxAttempts: 1,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KinesisHttpDriver implements BenchDriver {
  readonly consumeModes: readonly ConsumeMode[];
  readonly #options: KinesisHttpDriverOptions;
  readonly #clients: readonly KinesisClient[];

  constructor(options: KinesisHttpDriverOptions) {
    if (options.endpoints.length === 0) throw new Error("KinesisHttpDriver: no endpoints");
    this.#options = options;
    this.#clients = options.endpoints.map((endpoint) => kinesisClient(endpoint, options.maxSockets));
    this.consumeModes = options.subscribe ? ["poll", "subscribe"] : ["poll"];
  }

  #client(caller: number): KinesisClient {
    return this.#clients[caller % this.#clients.length] as KinesisClient;
  }

  async createStream(streamName: string, shardCount: number): Promise<void> {
    await this.#client(0).send(
      new CreateStreamCommand({
        StreamName: streamName,
        ShardCount: shardCount,
        ...(this.#options.onDemand ? { StreamModeDetails: { StreamMode: "ON_DEMAND" } } : {}),
      }),
    );
    for (const client of this.#clients) {
      await waitFor(
        async () =>
          (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
            .StreamDescriptionSummary?.StreamStatus === "ACTIVE",
        { timeoutMs: SERVER_START_TIMEOUT_MS, what: `stream ${streamName} to be ACTIVE`, intervalMs: 100 },
      );
    }
  }

  async putRecords(streamName: string, records: readonly BenchRecord[], caller: number): Promise<number> {
    const response = await this.#client(caller).send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: records.map((record) => ({ PartitionKey: record.partitionKey, Data: record.data })),
      }),
    );
    return response.FailedRecordCount ?? 0;
  }

  async putRecord(streamName: string, record: BenchRecord, caller: number): Promise<void> {
    await this.#client(caller).send(
      new PutRecordCommand({ StreamName: streamName, PartitionKey: record.partitionKey, Data: record.data }),
    );
  }

  async consume(streamName: string, mode: ConsumeMode, onRecord: RecordHandler): Promise<Consumption> {
    const admin = this.#client(0);
    const shards = (await admin.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
    let errors = 0;
    let running = true;
    if (mode === "poll") {
      // One polling loop per shard, each through the endpoint of its position, as a KCL worker per
      // shard would: GetRecords, hand the records over, wait out the rest of POLL_INTERVAL_MS.
      // Each shard's iterator first, then its loop (wrapped: an async function returning the loop's
      // promise would adopt it, and awaiting the iterators would wait for the loops to end).
      const started = await Promise.all(
        shards.map(async (shard, position) => {
          const client = this.#client(position);
          let iterator = (
            await client.send(
              new GetShardIteratorCommand({
                StreamName: streamName,
                ShardId: shard.ShardId,
                ShardIteratorType: "LATEST",
              }),
            )
          ).ShardIterator;
          const loop = (async () => {
            while (running && iterator !== undefined) {
              const startedAt = performance.now();
              try {
                const response = await client.send(
                  new GetRecordsCommand({ ShardIterator: iterator, Limit: POLL_LIMIT_RECORDS }),
                );
                const at = nowMs();
                for (const record of response.Records ?? []) if (record.Data) onRecord(record.Data, at);
                iterator = response.NextShardIterator;
              } catch (error) {
                if (!THROTTLING.has((error as Error).name)) errors += 1;
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
    // SubscribeToShard: a registered consumer, one HTTP/2 event stream per shard, renewed from the
    // continuation sequence number when the server ends it (Kinesis ends each after 5 minutes).
    const streamArn = (await admin.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
      .StreamDescriptionSummary?.StreamARN;
    const consumerArn = (
      await admin.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: "bench" }))
    ).Consumer?.ConsumerARN;
    if (consumerArn === undefined) throw new Error("RegisterStreamConsumer returned no consumer");
    await waitFor(
      async () =>
        (await admin.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn })))
          .ConsumerDescription?.ConsumerStatus === "ACTIVE",
      { timeoutMs: SERVER_START_TIMEOUT_MS, what: "the bench consumer to be ACTIVE", intervalMs: 100 },
    );
    const subscribers = shards.map((_, position) =>
      kinesisClient(this.#options.endpoints[position % this.#options.endpoints.length] as string, 1, true),
    );
    const aborts = new Set<AbortController>();
    const opened = new Set<string>();
    const loops = shards.map(async (shard, position) => {
      const client = subscribers[position] as KinesisClient;
      let position_: StartingPosition = { Type: "LATEST" };
      while (running) {
        const abort = new AbortController();
        aborts.add(abort);
        try {
          const { EventStream } = await client.send(
            new SubscribeToShardCommand({
              ConsumerARN: consumerArn,
              ShardId: shard.ShardId,
              StartingPosition: position_,
            }),
            { abortSignal: abort.signal },
          );
          opened.add(shard.ShardId ?? "");
          for await (const event of EventStream ?? []) {
            const at = nowMs();
            const records = event.SubscribeToShardEvent?.Records ?? [];
            for (const record of records) if (record.Data) onRecord(record.Data, at);
            const continuation = event.SubscribeToShardEvent?.ContinuationSequenceNumber;
            if (continuation !== undefined && continuation !== "") {
              position_ = { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: continuation };
            }
          }
        } catch (error) {
          if (running && (error as Error).name !== "AbortError") {
            errors += 1;
            await sleep(POLL_INTERVAL_MS);
          }
        } finally {
          aborts.delete(abort);
        }
      }
    });
    await waitFor(() => opened.size === shards.length, {
      timeoutMs: SERVER_START_TIMEOUT_MS,
      what: "every shard's SubscribeToShard to open",
    });
    return {
      errors: () => errors,
      close: async () => {
        running = false;
        for (const abort of aborts) abort.abort();
        await Promise.all(loops);
        for (const client of subscribers) client.destroy();
      },
    };
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.destroy();
  }
}
