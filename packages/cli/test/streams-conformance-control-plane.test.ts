// Proves that the control plane of sluice.v1.StreamsService on a real three-node cluster answers
// as Kinesis does: each operation's valid inputs work, each invalid input fails with the exact
// Kinesis error name and changes nothing; hash ranges split the key space exactly; every listing
// paginates without gaps or repeats; gRPC health and server reflection name the service.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { credentials, loadPackageDefinition, Metadata } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { constants as analytics } from "@sluice/analytics";
import { constants as delivery } from "@sluice/delivery";
import { isInternalStreamName } from "@sluice/gateway";
import {
  evenHashKeyRanges,
  startCluster,
  type TestCluster,
  uniqueStreamName,
  waitFor,
} from "@sluice/harness";
import { health, streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19600-19611.
const BASE_PORT = 19_600;
const PROVISIONED = { streamMode: streams.StreamMode.STREAM_MODE_PROVISIONED };
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const ACTIVE = streams.StreamStatus.STREAM_STATUS_ACTIVE;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** A stream name no other test of this run uses. */
function freshName(prefix: string): string {
  return uniqueStreamName(`cp-${prefix}`);
}

/** Every stream name ListStreams returns, walking NextToken pages of `limit`. */
async function listAllStreams(nodeId: number, limit: number): Promise<string[]> {
  const names: string[] = [];
  let page = await cluster.streams(nodeId).listStreams({ limit });
  for (let pages = 0; ; pages++) {
    expect(page.streamNames.length).toBeLessThanOrEqual(limit);
    expect(page.streamSummaries.map((summary) => summary.streamName)).toEqual(page.streamNames);
    names.push(...page.streamNames);
    if (!page.hasMoreStreams) break;
    expect(page.nextToken).not.toBe("");
    expect(pages).toBeLessThan(1_000);
    page = await cluster.streams(nodeId).listStreams({ limit, nextToken: page.nextToken });
  }
  return names;
}

async function expectNoStream(streamName: string): Promise<void> {
  await expect(cluster.streams(1).describeStreamSummary({ streamName })).rejects.toMatchObject({
    errorName: "ResourceNotFoundException",
  });
}

describe("CreateStream", () => {
  it("creates an ACTIVE PROVISIONED stream with the shard count asked for, seen by every node", async () => {
    const streamName = freshName("create");
    const summary = await cluster
      .streams(1)
      .createActiveStream({ streamName, shardCount: 3, streamModeDetails: PROVISIONED });
    expect(summary.openShardCount).toBe(3);
    expect(summary.retentionPeriodHours).toBe(24);
    expect(summary.streamModeDetails?.streamMode).toBe(streams.StreamMode.STREAM_MODE_PROVISIONED);
    expect(summary.streamArn).toMatch(new RegExp(`^arn:aws:kinesis:[^:]*:\\d{12}:stream/${streamName}$`));
    for (const nodeId of cluster.nodeIds) {
      await cluster.streams(nodeId).waitStreamStatus(streamName, ACTIVE, 10_000);
    }
  });

  it("refuses a name in use with ResourceInUseException and leaves the stream as it was", async () => {
    const streamName = freshName("dup");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    await expect(cluster.streams(2).createStream({ streamName, shardCount: 5 })).rejects.toMatchObject({
      errorName: "ResourceInUseException",
    });
    const summary = (await cluster.streams(3).describeStreamSummary({ streamName })).streamDescriptionSummary;
    expect(summary?.openShardCount).toBe(1);
  });

  it("accepts a 128-character name and refuses 129 characters and bad characters with ValidationException", async () => {
    const longest = `cp-long-${"x".repeat(120)}`;
    expect(longest).toHaveLength(128);
    await cluster.streams(1).createActiveStream({ streamName: longest, shardCount: 1 });
    for (const streamName of [`${longest}y`, "has space", "slash/name", "colon:name", "ünïcode"]) {
      await expect(cluster.streams(1).createStream({ streamName, shardCount: 1 })).rejects.toMatchObject({
        errorName: "ValidationException",
      });
    }
    await expect(cluster.streams(1).createStream({ streamName: "", shardCount: 1 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    expect(await listAllStreams(2, 10_000)).not.toContain(`${longest}y`);
  });

  it("refuses ShardCount 0 with ValidationException (the model's ShardCount has min 1), in either mode", async () => {
    const streamName = freshName("zero");
    await expect(
      cluster.streams(1).createStream({ streamName, shardCount: 0, streamModeDetails: PROVISIONED }),
    ).rejects.toMatchObject({ errorName: "ValidationException" });
    await expect(
      cluster.streams(1).createStream({ streamName, shardCount: 0, streamModeDetails: ON_DEMAND }),
    ).rejects.toMatchObject({ errorName: "ValidationException" });
    await expect(cluster.streams(1).createStream({ streamName, shardCount: -1 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expectNoStream(streamName);
  });

  it("gives an ON_DEMAND stream without ShardCount 4 shards", async () => {
    const streamName = freshName("ondemand");
    const summary = await cluster.streams(2).createActiveStream({ streamName, streamModeDetails: ON_DEMAND });
    expect(summary.openShardCount).toBe(4);
    expect(summary.streamModeDetails?.streamMode).toBe(streams.StreamMode.STREAM_MODE_ON_DEMAND);
    const shards = (await cluster.streams(3).listShards({ streamName })).shards;
    expect(shards).toHaveLength(4);
  });
});

describe("DeleteStream", () => {
  it("refuses an unknown stream with ResourceNotFoundException", async () => {
    await expect(cluster.streams(1).deleteStream({ streamName: freshName("nope") })).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
  });

  it("removes the stream from ListStreams, frees its name, and fails its old iterators with ResourceNotFoundException", async () => {
    const streamName = freshName("delete");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    await cluster.streams(1).putRecord({ streamName, partitionKey: "k", data: Buffer.from("old") });
    const { shardIterator } = await cluster.streams(2).getShardIterator({
      streamName,
      shardId: "shardId-000000000000",
      shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    });
    await cluster.streams(3).deleteStream({ streamName });
    await waitFor(async () => !(await listAllStreams(1, 10_000)).includes(streamName), {
      timeoutMs: 20_000,
      what: `${streamName} to leave ListStreams`,
    });
    await waitFor(
      async () => {
        for (const nodeId of cluster.nodeIds) {
          const failed = await cluster
            .streams(nodeId)
            .getRecords({ shardIterator })
            .then(
              () => undefined,
              (error: { errorName?: string }) => error.errorName,
            );
          if (failed !== "ResourceNotFoundException") return false;
        }
        return true;
      },
      {
        timeoutMs: 20_000,
        what: "the deleted stream's iterator to fail with ResourceNotFoundException on every node",
      },
    );
    await expectNoStream(streamName);

    // The name is free again: a new stream by that name starts empty.
    const summary = await waitFor(
      () =>
        cluster
          .streams(2)
          .createActiveStream({ streamName, shardCount: 2 })
          .catch(() => undefined),
      { timeoutMs: 20_000, what: `the name ${streamName} to be reusable` },
    );
    expect(summary.openShardCount).toBe(2);
    const fresh = await cluster.streams(1).getShardIterator({
      streamName,
      shardId: "shardId-000000000000",
      shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    });
    expect((await cluster.streams(1).getRecords({ shardIterator: fresh.shardIterator })).records).toEqual([]);
  });
});

describe("DescribeStream and DescribeStreamSummary", () => {
  it("split the hash key space exactly as floor(2^128 / N), the last shard ending at 2^128 - 1", async () => {
    for (const shardCount of [1, 3, 7]) {
      const streamName = freshName(`ranges${shardCount}`);
      await cluster.streams(1).createActiveStream({ streamName, shardCount });
      const description = (await cluster.streams(2).describeStream({ streamName })).streamDescription;
      expect(description?.hasMoreShards).toBe(false);
      const expected = evenHashKeyRanges(shardCount);
      expect(
        description?.shards.map((shard) => [
          shard.shardId,
          BigInt(shard.hashKeyRange?.startingHashKey ?? "-1"),
          BigInt(shard.hashKeyRange?.endingHashKey ?? "-1"),
        ]),
      ).toEqual(
        expected.map((range, position) => [
          `shardId-${String(position).padStart(12, "0")}`,
          range.start,
          range.end,
        ]),
      );
      expect(BigInt(description?.shards.at(-1)?.hashKeyRange?.endingHashKey ?? "0")).toBe((1n << 128n) - 1n);
      for (const shard of description?.shards ?? []) {
        expect(shard.sequenceNumberRange?.startingSequenceNumber).toMatch(/^(0|[1-9]\d*)$/);
        expect(shard.sequenceNumberRange?.endingSequenceNumber).toBe("");
      }
    }
  });

  it("paginate shards with Limit and ExclusiveStartShardId", async () => {
    const streamName = freshName("pages");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 5 });
    const seen: string[] = [];
    let exclusiveStartShardId = "";
    for (let pages = 0; pages < 10; pages++) {
      const description = (
        await cluster.streams(3).describeStream({ streamName, limit: 2, exclusiveStartShardId })
      ).streamDescription;
      const ids = description?.shards.map((shard) => shard.shardId) ?? [];
      expect(ids.length).toBeLessThanOrEqual(2);
      seen.push(...ids);
      if (description?.hasMoreShards !== true) break;
      exclusiveStartShardId = ids.at(-1) ?? "";
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((n) => `shardId-${String(n).padStart(12, "0")}`));
    await expect(cluster.streams(1).describeStream({ streamName, limit: 0 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(cluster.streams(1).describeStream({ streamName, limit: 10_001 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
  });

  it("refuse an unknown stream with ResourceNotFoundException, by name and by ARN", async () => {
    const streamName = freshName("ghost");
    await expect(cluster.streams(1).describeStream({ streamName })).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
    await expect(
      cluster.streams(2).describeStreamSummary({
        streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`,
      }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
    await expect(cluster.streams(2).describeStreamSummary({})).rejects.toMatchObject({
      errorName: "InvalidArgumentException",
    });
  });

  it("describe a stream by its ARN as by its name", async () => {
    const streamName = freshName("arn");
    const summary = await cluster.streams(1).createActiveStream({ streamName, shardCount: 2 });
    const byArn = (await cluster.streams(3).describeStreamSummary({ streamArn: summary.streamArn }))
      .streamDescriptionSummary;
    expect(byArn?.streamName).toBe(streamName);
    expect(byArn?.openShardCount).toBe(2);
    expect(byArn?.consumerCount).toBe(0);
    expect(byArn?.streamCreationTimestamp).toBeGreaterThan(0);
  });
});

describe("ListStreams", () => {
  it("pages through every stream once, in name order, with Limit, NextToken and HasMoreStreams", async () => {
    const mine = [freshName("list-a"), freshName("list-b"), freshName("list-c")];
    for (const streamName of mine) await cluster.streams(1).createStream({ streamName, shardCount: 1 });
    const all = await listAllStreams(2, 10_000);
    for (const name of mine) expect(all).toContain(name);
    expect([...all].sort()).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
    expect(await listAllStreams(3, 2)).toEqual(all);
    expect(await listAllStreams(1, 1)).toEqual(all);

    const after = await cluster.streams(1).listStreams({ exclusiveStartStreamName: mine[0] as string });
    expect(after.streamNames).toEqual(all.filter((name) => name > (mine[0] as string)));
  });

  it("leaves out the streams the cluster keeps for itself, which stay reachable by name", async () => {
    // Internal streams are created on first use (a delivery stream, an application); make two.
    const internal = [
      `${delivery.DIRECT_PUT_STREAM_PREFIX}${freshName("in")}`,
      analytics.DEFINITIONS_STREAM_NAME,
    ];
    const mine = freshName("user");
    for (const streamName of [...internal, mine]) {
      await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    }
    const listed = await listAllStreams(2, 10_000);
    expect(listed).toContain(mine);
    expect(listed.filter((name) => isInternalStreamName(name))).toEqual([]);
    for (const streamName of internal) {
      const summary = await cluster.streams(3).describeStreamSummary({ streamName });
      expect(summary.streamDescriptionSummary?.streamName).toBe(streamName);
    }
  });

  it("refuses Limit 0 and 10001 with ValidationException and a forged NextToken with InvalidArgumentException", async () => {
    await expect(cluster.streams(1).listStreams({ limit: 0 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(cluster.streams(1).listStreams({ limit: 10_001 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(cluster.streams(1).listStreams({ nextToken: "not-a-token" })).rejects.toMatchObject({
      errorName: "InvalidArgumentException",
    });
  });
});

describe("ListShards", () => {
  it("pages with MaxResults and NextToken, and refuses NextToken together with StreamName", async () => {
    const streamName = freshName("shards");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 5 });
    const ids: string[] = [];
    let page = await cluster.streams(2).listShards({ streamName, maxResults: 2 });
    for (let pages = 0; pages < 10; pages++) {
      expect(page.shards.length).toBeLessThanOrEqual(2);
      ids.push(...page.shards.map((shard) => shard.shardId));
      if (page.nextToken === "") break;
      page = await cluster.streams(3).listShards({ nextToken: page.nextToken, maxResults: 2 });
    }
    expect(ids).toEqual([0, 1, 2, 3, 4].map((n) => `shardId-${String(n).padStart(12, "0")}`));

    const first = await cluster.streams(1).listShards({ streamName, maxResults: 1 });
    expect(first.nextToken).not.toBe("");
    await expect(
      cluster.streams(1).listShards({ streamName, nextToken: first.nextToken }),
    ).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
    await expect(
      cluster
        .streams(1)
        .listShards({ nextToken: first.nextToken, exclusiveStartShardId: "shardId-000000000001" }),
    ).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
    await expect(cluster.streams(1).listShards({ streamName, maxResults: 0 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(cluster.streams(1).listShards({ streamName: freshName("none") })).rejects.toMatchObject({
      errorName: "ResourceNotFoundException",
    });
  });

  it("applies ExclusiveStartShardId and every ShardFilter type", async () => {
    const streamName = freshName("filter");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 4 });
    const all = [0, 1, 2, 3].map((n) => `shardId-${String(n).padStart(12, "0")}`);
    const list = async (request: Partial<streams.ListShardsRequest>) =>
      (await cluster.streams(2).listShards({ streamName, ...request })).shards.map((shard) => shard.shardId);
    const F = streams.ShardFilterType;
    expect(await list({ exclusiveStartShardId: all[1] as string })).toEqual(all.slice(2));
    expect(
      await list({ shardFilter: { type: F.SHARD_FILTER_TYPE_AFTER_SHARD_ID, shardId: all[0] as string } }),
    ).toEqual(all.slice(1));
    // No reshard happened: every filter that starts at the trim horizon, the tip or a time sees all open shards.
    for (const type of [
      F.SHARD_FILTER_TYPE_AT_TRIM_HORIZON,
      F.SHARD_FILTER_TYPE_FROM_TRIM_HORIZON,
      F.SHARD_FILTER_TYPE_AT_LATEST,
    ]) {
      expect(await list({ shardFilter: { type, shardId: "" } })).toEqual(all);
    }
    for (const type of [F.SHARD_FILTER_TYPE_AT_TIMESTAMP, F.SHARD_FILTER_TYPE_FROM_TIMESTAMP]) {
      expect(await list({ shardFilter: { type, shardId: "", timestamp: Date.now() } })).toEqual(all);
    }
    await expect(
      list({ shardFilter: { type: F.SHARD_FILTER_TYPE_AFTER_SHARD_ID, shardId: "" } }),
    ).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
    await expect(
      list({ shardFilter: { type: F.SHARD_FILTER_TYPE_AT_TIMESTAMP, shardId: "" } }),
    ).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
  });
});

describe("Increase/DecreaseStreamRetentionPeriod", () => {
  it("move retention within 24-8760 hours and refuse the rest with InvalidArgumentException, changing nothing", async () => {
    const streamName = freshName("retention");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    const retention = async () =>
      (await cluster.streams(2).describeStreamSummary({ streamName })).streamDescriptionSummary
        ?.retentionPeriodHours;
    const refused = async (call: () => Promise<unknown>) => {
      const before = await retention();
      await expect(call()).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
      expect(await retention()).toBe(before);
    };
    const client = cluster.streams(3);
    await client.increaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 48 });
    await cluster.streams(1).waitStreamStatus(streamName, ACTIVE);
    expect(await retention()).toBe(48);
    await refused(() => client.increaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 30 }));
    await refused(() => client.decreaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 60 }));
    await refused(() => client.decreaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 23 }));
    await refused(() => client.increaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 8_761 }));
    await client.decreaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 24 });
    await cluster.streams(1).waitStreamStatus(streamName, ACTIVE);
    expect(await retention()).toBe(24);
    await client.increaseStreamRetentionPeriod({ streamName, retentionPeriodHours: 8_760 });
    await cluster.streams(1).waitStreamStatus(streamName, ACTIVE);
    expect(await retention()).toBe(8_760);
    await expect(
      client.increaseStreamRetentionPeriod({ streamName: freshName("none"), retentionPeriodHours: 48 }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
  });
});

describe("AddTagsToStream, ListTagsForStream, RemoveTagsFromStream", () => {
  it("add, overwrite, list and remove tags; refuse 11 in one call and a 51st tag, changing nothing", async () => {
    const streamName = freshName("tags");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    const client = cluster.streams(2);
    const listAll = async () => {
      const tags: [string, string][] = [];
      let exclusiveStartTagKey = "";
      for (let pages = 0; pages < 100; pages++) {
        const page = await client.listTagsForStream({ streamName, limit: 7, exclusiveStartTagKey });
        expect(page.tags.length).toBeLessThanOrEqual(7);
        tags.push(...page.tags.map((tag): [string, string] => [tag.key, tag.value]));
        if (!page.hasMoreTags) break;
        exclusiveStartTagKey = page.tags.at(-1)?.key ?? "";
      }
      return tags;
    };
    const tenTags = (from: number) =>
      Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [`key-${String(from + i).padStart(2, "0")}`, `v${from + i}`]),
      );

    await client.addTagsToStream({ streamName, tags: { team: "billing", env: "test" } });
    await client.addTagsToStream({ streamName, tags: { env: "prod" } });
    expect(await listAll()).toEqual([
      ["env", "prod"],
      ["team", "billing"],
    ]);
    await client.removeTagsFromStream({ streamName, tagKeys: ["env", "absent"] });
    expect(await listAll()).toEqual([["team", "billing"]]);

    await expect(
      client.addTagsToStream({ streamName, tags: { ...tenTags(0), extra: "x" } }),
    ).rejects.toMatchObject({ errorName: "InvalidArgumentException" });
    expect(await listAll()).toEqual([["team", "billing"]]);

    for (let from = 0; from < 40; from += 10)
      await client.addTagsToStream({ streamName, tags: tenTags(from) });
    await client.addTagsToStream({
      streamName,
      tags: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`key-${40 + i}`, "v"])),
    });
    const fifty = await listAll();
    expect(fifty).toHaveLength(50);
    expect(fifty.map(([key]) => key)).toEqual([...fifty.map(([key]) => key)].sort());
    await expect(client.addTagsToStream({ streamName, tags: { "key-99": "v" } })).rejects.toMatchObject({
      errorName: "LimitExceededException",
    });
    expect(await listAll()).toEqual(fifty);
    // Overwriting an existing key does not grow the set, so it stays allowed at 50.
    await client.addTagsToStream({ streamName, tags: { team: "payments" } });
    expect((await listAll()).find(([key]) => key === "team")).toEqual(["team", "payments"]);

    await expect(client.addTagsToStream({ streamName, tags: {} })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(
      client.addTagsToStream({ streamName: freshName("none"), tags: { a: "b" } }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
    await expect(client.listTagsForStream({ streamName, limit: 51 })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
  });
});

describe("UpdateStreamMode", () => {
  it("switches PROVISIONED to ON_DEMAND and back, and refuses a missing mode and an unknown stream", async () => {
    const streamName = freshName("mode");
    const summary = await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    const client = cluster.streams(2);
    const mode = async () =>
      (await client.describeStreamSummary({ streamName })).streamDescriptionSummary?.streamModeDetails
        ?.streamMode;
    await client.updateStreamMode({ streamArn: summary.streamArn, streamModeDetails: ON_DEMAND });
    await waitFor(async () => (await mode()) === streams.StreamMode.STREAM_MODE_ON_DEMAND, {
      timeoutMs: 10_000,
      what: "the stream to be ON_DEMAND",
    });
    await client.waitStreamStatus(streamName, ACTIVE);
    await client.updateStreamMode({ streamArn: summary.streamArn, streamModeDetails: PROVISIONED });
    await waitFor(async () => (await mode()) === streams.StreamMode.STREAM_MODE_PROVISIONED, {
      timeoutMs: 10_000,
      what: "the stream to be PROVISIONED again",
    });
    await client.waitStreamStatus(streamName, ACTIVE);
    await expect(client.updateStreamMode({ streamArn: summary.streamArn })).rejects.toMatchObject({
      errorName: "ValidationException",
    });
    await expect(
      client.updateStreamMode({
        streamArn: summary.streamArn.replace(streamName, freshName("none")),
        streamModeDetails: ON_DEMAND,
      }),
    ).rejects.toMatchObject({ errorName: "ResourceNotFoundException" });
  });
});

describe("DescribeLimits", () => {
  it("counts open shards and ON_DEMAND streams within the limits it reports", async () => {
    const before = await cluster.streams(1).describeLimits();
    const streamName = freshName("limits");
    await cluster.streams(1).createActiveStream({ streamName, streamModeDetails: ON_DEMAND });
    const after = await waitFor(
      async () => {
        const limits = await cluster.streams(3).describeLimits();
        return limits.openShardCount >= before.openShardCount + 4 ? limits : undefined;
      },
      { timeoutMs: 10_000, what: "DescribeLimits to count the new stream's 4 shards" },
    );
    expect(after.onDemandStreamCount).toBe(before.onDemandStreamCount + 1);
    expect(after.shardLimit).toBeGreaterThanOrEqual(after.openShardCount);
    expect(after.onDemandStreamCountLimit).toBeGreaterThanOrEqual(after.onDemandStreamCount);
  });
});

describe("gRPC health and server reflection", () => {
  it("health answers SERVING for sluice.v1.StreamsService on every node", async () => {
    for (const nodeId of cluster.nodeIds) {
      const client = new health.HealthClient(
        `127.0.0.1:${cluster.ports(nodeId).grpc}`,
        credentials.createInsecure(),
      );
      try {
        const response = await new Promise<health.HealthCheckResponse>((resolve, reject) => {
          client.check(
            { service: "sluice.v1.StreamsService" },
            new Metadata(),
            { deadline: Date.now() + 5_000 },
            (error, answer) => (error === null ? resolve(answer) : reject(error)),
          );
        });
        expect(health.healthCheckResponse_ServingStatusToJSON(response.status)).toBe("SERVING");
      } finally {
        client.close();
      }
    }
  });

  it("server reflection lists sluice.v1.StreamsService", async () => {
    // The reflection protocol's own .proto ships with @grpc/reflection.
    const reflectionRoot = join(
      dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
      "..",
      "proto",
    );
    const definition = loadSync("grpc/reflection/v1alpha/reflection.proto", {
      includeDirs: [reflectionRoot],
      keepCase: true,
    });
    const loaded = loadPackageDefinition(definition) as unknown as {
      grpc: {
        reflection: {
          v1alpha: { ServerReflection: new (address: string, creds: unknown) => ReflectionClient };
        };
      };
    };
    const client = new loaded.grpc.reflection.v1alpha.ServerReflection(
      `127.0.0.1:${cluster.ports(2).grpc}`,
      credentials.createInsecure(),
    );
    try {
      const services = await new Promise<string[]>((resolve, reject) => {
        const call = client.ServerReflectionInfo({ deadline: Date.now() + 5_000 });
        call.on("data", (response: { list_services_response?: { service: { name: string }[] } }) => {
          resolve(response.list_services_response?.service.map((service) => service.name) ?? []);
          call.end();
        });
        call.on("error", reject);
        call.write({ host: "", list_services: "" });
      });
      expect(services).toContain("sluice.v1.StreamsService");
    } finally {
      client.close();
    }
  });
});

interface ReflectionClient {
  ServerReflectionInfo(options: { deadline: number }): {
    on(event: "data", listener: (response: never) => void): void;
    on(event: "error", listener: (error: Error) => void): void;
    write(message: unknown): void;
    end(): void;
  };
  close(): void;
}
