// Proves that registered consumers and SubscribeToShard on a real three-node cluster follow
// Kinesis: consumers register to ACTIVE, are described by ARN and by name, listed, refused when
// duplicated or unknown, and deregistered; a subscription pushes records in order with
// ContinuationSequenceNumber, resumes from it without a gap or a repeat, sends events while idle,
// and is refused for a second concurrent subscriber of the same consumer and shard and for an
// unknown consumer.
import type { ClientReadableStream, ServiceError } from "@grpc/grpc-js";
import { startCluster, type TestCluster, uniqueStreamName, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19660-19671.
const BASE_PORT = 19_660;
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const T = streams.ShardIteratorType;
const ACTIVE = streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE;
const SHARD_0 = "shardId-000000000000";
/** Kinesis sends a SubscribeToShard event at least this often, records or not. */
const IDLE_EVENT_INTERVAL_MS_MAX = 5_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function freshName(prefix: string): string {
  return uniqueStreamName(`cons-${prefix}`);
}

/** An ACTIVE one-shard ON_DEMAND stream; returns its name and ARN. */
async function activeStream(prefix: string): Promise<{ streamName: string; streamArn: string }> {
  const streamName = freshName(prefix);
  const summary = await cluster
    .streams(1)
    .createActiveStream({ streamName, shardCount: 1, streamModeDetails: ON_DEMAND });
  return { streamName, streamArn: summary.streamArn };
}

/** Registers a consumer and waits until it is ACTIVE; returns its ARN. */
async function activeConsumer(streamArn: string, consumerName: string): Promise<string> {
  const { consumer } = await cluster.streams(2).registerStreamConsumer({ streamArn, consumerName });
  const consumerArn = consumer?.consumerArn ?? "";
  await waitFor(
    async () =>
      (await cluster.streams(3).describeStreamConsumer({ consumerArn })).consumerDescription
        ?.consumerStatus === ACTIVE,
    { timeoutMs: 10_000, what: `consumer ${consumerName} to be ACTIVE` },
  );
  return consumerArn;
}

/** A live SubscribeToShard call that records its events and how it ended. */
class Subscription {
  readonly events: streams.SubscribeToShardEvent[] = [];
  error: { errorName: string; message: string } | undefined;
  ended = false;
  readonly #call: ClientReadableStream<streams.SubscribeToShardResponse>;

  constructor(nodeId: number, request: Partial<streams.SubscribeToShardRequest>) {
    this.#call = cluster.streams(nodeId).subscribeToShard(request);
    this.#call.on("data", (response: streams.SubscribeToShardResponse) => {
      if (response.subscribeToShardEvent !== undefined) this.events.push(response.subscribeToShardEvent);
    });
    this.#call.on("error", (error: ServiceError) => {
      this.error = {
        errorName: String(error.metadata?.get("sluice-error-name")[0] ?? ""),
        message: error.details,
      };
    });
    this.#call.on("end", () => {
      this.ended = true;
    });
  }

  get records(): streams.Record[] {
    return this.events.flatMap((event) => event.records);
  }

  /** Waits for the first event or the error; returns this. */
  async started(): Promise<this> {
    await waitFor(() => this.events.length > 0 || this.error !== undefined, {
      timeoutMs: 10_000,
      what: "the subscription's first event or its error",
    });
    return this;
  }

  async waitRecords(count: number): Promise<streams.Record[]> {
    await waitFor(
      () => {
        if (this.error !== undefined) throw new Error(`subscription failed: ${this.error.errorName}`);
        return this.records.length >= count;
      },
      { timeoutMs: 10_000, what: `${count} records on the subscription (have ${this.records.length})` },
    );
    return this.records;
  }

  cancel(): void {
    this.#call.cancel();
  }
}

/** Subscribes, retrying while the previous subscriber of the same consumer and shard is still winding down. */
async function subscribeWhenFree(
  nodeId: number,
  request: Partial<streams.SubscribeToShardRequest>,
): Promise<Subscription> {
  return waitFor(
    async () => {
      const subscription = await new Subscription(nodeId, request).started();
      if (subscription.error?.errorName === "ResourceInUseException") return undefined;
      return subscription;
    },
    { timeoutMs: 10_000, what: "the consumer's previous subscription to end", intervalMs: 100 },
  );
}

function texts(records: readonly streams.Record[]): string[] {
  return records.map((record) => Buffer.from(record.data).toString());
}

describe("RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer", () => {
  it("register to ACTIVE, describe by ARN and by name, list, refuse duplicates and unknowns, deregister", async () => {
    const { streamName, streamArn } = await activeStream("reg");
    const consumerArn = await activeConsumer(streamArn, "app-1");
    expect(consumerArn).toMatch(new RegExp(`^${streamArn}/consumer/app-1:\\d+$`));

    const byArn = (await cluster.streams(1).describeStreamConsumer({ consumerArn })).consumerDescription;
    const byName = (await cluster.streams(3).describeStreamConsumer({ streamArn, consumerName: "app-1" }))
      .consumerDescription;
    expect(byArn).toEqual(byName);
    expect(byArn).toMatchObject({ consumerName: "app-1", consumerArn, consumerStatus: ACTIVE, streamArn });

    await expect(
      cluster.streams(3).registerStreamConsumer({ streamArn, consumerName: "app-1" }),
    ).rejects.toMatchObject({ errorName: "ResourceInUseException" });
    await activeConsumer(streamArn, "app-2");
    const listed = (await cluster.streams(2).listStreamConsumers({ streamArn })).consumers;
    expect(listed.map((consumer) => consumer.consumerName).sort()).toEqual(["app-1", "app-2"]);
    expect(
      (await cluster.streams(1).describeStreamSummary({ streamName })).streamDescriptionSummary
        ?.consumerCount,
    ).toBe(2);

    // A stream with consumers is not deleted unless EnforceConsumerDeletion says so.
    await expect(cluster.streams(1).deleteStream({ streamName })).rejects.toMatchObject({
      errorName: "ResourceInUseException",
    });

    await cluster.streams(1).deregisterStreamConsumer({ consumerArn });
    await waitFor(
      () =>
        cluster
          .streams(2)
          .describeStreamConsumer({ consumerArn })
          .then(
            () => false,
            (error: { errorName?: string }) => error.errorName === "ResourceNotFoundException",
          ),
      { timeoutMs: 10_000, what: "the deregistered consumer to be gone" },
    );
    await waitFor(
      async () => (await cluster.streams(3).listStreamConsumers({ streamArn })).consumers.length === 1,
      { timeoutMs: 10_000, what: "ListStreamConsumers to drop the deregistered consumer" },
    );
  });

  it("refuse unknown consumers and streams with ResourceNotFoundException and bad names with ValidationException", async () => {
    const { streamArn } = await activeStream("unknown");
    const client = cluster.streams(2);
    await expect(client.describeStreamConsumer({ streamArn, consumerName: "nobody" })).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
    await expect(
      client.describeStreamConsumer({ consumerArn: `${streamArn}/consumer/nobody:1700000000` }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
    await expect(
      client.deregisterStreamConsumer({ streamArn, consumerName: "nobody" }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
    const ghostArn = streamArn.replace(/stream\/.*$/, `stream/${freshName("ghost")}`);
    await expect(
      client.registerStreamConsumer({ streamArn: ghostArn, consumerName: "a" }),
    ).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
    await expect(client.listStreamConsumers({ streamArn: ghostArn })).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
    await expect(
      client.registerStreamConsumer({ streamArn, consumerName: "bad name" }),
    ).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(client.registerStreamConsumer({ streamArn, consumerName: "" })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    expect((await client.listStreamConsumers({ streamArn })).consumers).toEqual([]);
  });
});

describe("SubscribeToShard", () => {
  it("pushes records in order with ContinuationSequenceNumber, and resumes after it without a gap or a repeat", async () => {
    const { streamName, streamArn } = await activeStream("push");
    const consumerArn = await activeConsumer(streamArn, "pusher");
    const first = await new Subscription(1, {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON, sequenceNumber: "" },
    }).started();
    expect(first.error).toBeUndefined();
    const put = await cluster.streams(2).putRecords({
      streamName,
      records: Array.from({ length: 5 }, (_, i) => ({
        partitionKey: "p",
        explicitHashKey: "",
        data: Buffer.from(`a${i}`),
      })),
    });
    for (let i = 0; i < 3; i++) {
      await cluster.streams(3).putRecord({ streamName, partitionKey: "p", data: Buffer.from(`b${i}`) });
    }
    const records = await first.waitRecords(8);
    expect(texts(records)).toEqual(["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2"]);
    expect(records.slice(0, 5).map((record) => record.sequenceNumber)).toEqual(
      put.records.map((result) => result.sequenceNumber),
    );
    const withRecords = first.events.filter((event) => event.records.length > 0);
    for (const event of withRecords) {
      expect(event.continuationSequenceNumber).toBe(event.records.at(-1)?.sequenceNumber);
    }
    const resumeFrom = first.events.find((event) =>
      event.records.some((record) => Buffer.from(record.data).toString() === "a4"),
    )?.continuationSequenceNumber as string;
    first.cancel();

    await cluster.streams(1).putRecord({ streamName, partitionKey: "p", data: Buffer.from("c0") });
    const resumed = await subscribeWhenFree(2, {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER, sequenceNumber: resumeFrom },
    });
    try {
      // Everything after the continuation point, then the record put while no one subscribed.
      const resumeIndex = records.findIndex((record) => record.sequenceNumber === resumeFrom);
      expect(resumeIndex).toBeGreaterThanOrEqual(4);
      const expected = [...texts(records.slice(resumeIndex + 1)), "c0"];
      expect(texts(await resumed.waitRecords(expected.length))).toEqual(expected);
    } finally {
      resumed.cancel();
    }
  });

  it("sends events to an idle subscriber, with MillisBehindLatest 0 once caught up", async () => {
    const { streamArn } = await activeStream("idle");
    const consumerArn = await activeConsumer(streamArn, "idler");
    const subscription = await new Subscription(3, {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    }).started();
    try {
      for (let count = 2; count <= 3; count++) {
        await waitFor(() => subscription.events.length >= count, {
          timeoutMs: IDLE_EVENT_INTERVAL_MS_MAX + 1_000,
          what: `idle event number ${count}`,
        });
      }
      expect(subscription.records).toEqual([]);
      expect(subscription.events.at(-1)?.millisBehindLatest).toBe(0);
      expect(subscription.error).toBeUndefined();
    } finally {
      subscription.cancel();
    }
  });

  it("refuses a second concurrent subscription of the same consumer and shard on the same node with ResourceInUseException", async () => {
    const { streamArn } = await activeStream("twice");
    const consumerArn = await activeConsumer(streamArn, "twice");
    const request = {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    };
    const first = await new Subscription(1, request).started();
    try {
      const second = await new Subscription(1, request).started();
      expect(second.error?.errorName).toBe("ResourceInUseException");
    } finally {
      first.cancel();
    }
  });

  it("refuses a second concurrent subscription of the same consumer and shard through another node with ResourceInUseException", async () => {
    const { streamArn } = await activeStream("twice-nodes");
    const consumerArn = await activeConsumer(streamArn, "twice-nodes");
    const request = {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    };
    const first = await new Subscription(1, request).started();
    let second: Subscription | undefined;
    try {
      second = await new Subscription(2, request).started();
      expect(second.error?.errorName).toBe("ResourceInUseException");
      expect(first.error).toBeUndefined();
    } finally {
      first.cancel();
      second?.cancel();
    }
  });

  it("lets a subscription through another node take over one that is at least 5 seconds old, ending the old one with ResourceInUseException", async () => {
    const { streamArn } = await activeStream("takeover");
    const consumerArn = await activeConsumer(streamArn, "takeover");
    const request = {
      consumerArn,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    };
    const first = await new Subscription(1, request).started();
    const refused: Subscription[] = [];
    let second: Subscription | undefined;
    try {
      // Refused while the first is younger than 5 s; then the new one takes over.
      second = await waitFor(
        async () => {
          const attempt = await new Subscription(3, request).started();
          if (attempt.error?.errorName !== "ResourceInUseException") return attempt;
          refused.push(attempt);
          return undefined;
        },
        { timeoutMs: 20_000, intervalMs: 500, what: "a subscription through node 3 that takes over" },
      );
      expect(second.error).toBeUndefined();
      expect(refused.length).toBeGreaterThan(0);
      await waitFor(() => first.error !== undefined, {
        timeoutMs: 10_000,
        what: "the taken-over subscription to end",
      });
      expect(first.error?.errorName).toBe("ResourceInUseException");
      // The new holder works: a record put now reaches it.
      await cluster
        .streams(2)
        .putRecord({ streamArn, partitionKey: "k", data: Buffer.from("after-takeover") });
      const records = await second.waitRecords(1);
      expect(records.map((r) => Buffer.from(r.data).toString())).toContain("after-takeover");
    } finally {
      first.cancel();
      second?.cancel();
      for (const attempt of refused) attempt.cancel();
    }
  });

  it("refuses an unknown consumer with ResourceNotFoundException and an unknown shard with ResourceNotFoundException", async () => {
    const { streamArn } = await activeStream("nosub");
    const consumerArn = await activeConsumer(streamArn, "known");
    const unknownConsumer = await new Subscription(2, {
      consumerArn: `${streamArn}/consumer/nobody:1700000000`,
      shardId: SHARD_0,
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    }).started();
    expect(unknownConsumer.error?.errorName).toBe("ResourceNotFoundException");
    const unknownShard = await new Subscription(2, {
      consumerArn,
      shardId: "shardId-000000000007",
      startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
    }).started();
    expect(unknownShard.error?.errorName).toBe("ResourceNotFoundException");
    const noPosition = await new Subscription(2, { consumerArn, shardId: SHARD_0 }).started();
    expect(noPosition.error?.errorName).toBe("ValidationException");

    await cluster.streams(1).deregisterStreamConsumer({ consumerArn });
    await waitFor(
      async () => {
        const subscription = await new Subscription(3, {
          consumerArn,
          shardId: SHARD_0,
          startingPosition: { type: T.SHARD_ITERATOR_TYPE_LATEST, sequenceNumber: "" },
        }).started();
        subscription.cancel();
        return subscription.error?.errorName === "ResourceNotFoundException";
      },
      { timeoutMs: 10_000, what: "subscriptions of a deregistered consumer to be refused" },
    );
  });
});
