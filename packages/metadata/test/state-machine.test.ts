// Proves the metadata state machine: every command with valid and invalid input, limits, snapshot round trips and determinism (same commands, byte-identical snapshots).
import { describe, expect, it } from "vitest";
import { type CommandResult, encodeCommand, type MetadataCommand } from "../src/commands.js";
import {
  CONSUMERS_PER_STREAM_MAX,
  FIRST_SHARD_GROUP_ID,
  OPEN_SHARDS_PER_CLUSTER_MAX,
  SHARDS_PER_CREATE_MAX,
  SUBSCRIPTION_HOLD_MS_MAX,
  SUBSCRIPTION_TAKEOVER_AFTER_MS,
  TAGS_PER_STREAM_MAX,
} from "../src/constants.js";
import { MetadataStateMachine } from "../src/state-machine.js";

const SECRET = "ab".repeat(32);
const NOW_MS = 1_700_000_000_123;

class Machine {
  readonly sm = new MetadataStateMachine();
  index = 0;

  run(command: MetadataCommand | Record<string, unknown>): CommandResult {
    return this.sm.apply(++this.index, encodeCommand(command as MetadataCommand));
  }

  raw(data: Buffer): CommandResult {
    return this.sm.apply(++this.index, data);
  }

  ok(command: MetadataCommand | Record<string, unknown>): unknown {
    const result = this.run(command);
    if (!result.ok) throw new Error(`${JSON.stringify(command)} failed: ${result.code} ${result.message}`);
    return result.value;
  }

  code(command: MetadataCommand | Record<string, unknown>): string {
    const result = this.run(command);
    return result.ok ? "OK" : result.code;
  }

  get view() {
    return this.sm.view();
  }
}

function cluster(): Machine {
  const m = new Machine();
  m.ok({ type: "InitCluster", secretHex: SECRET });
  for (const [nodeId, zone] of [
    [1, "a"],
    [2, "b"],
    [3, "c"],
  ] as const) {
    m.ok({
      type: "RegisterNode",
      node: { nodeId, zone, peerAddress: `n${nodeId}:7400`, gatewayAddress: `n${nodeId}:50051` },
    });
  }
  return m;
}

function activeStream(m: Machine, streamName = "orders", shardCount = 2): number {
  m.ok({ type: "CreateStream", streamName, shardCount, mode: "PROVISIONED", nowMs: NOW_MS });
  const streamId = m.view.stream(streamName)?.streamId as number;
  m.ok({ type: "SetStreamStatus", streamName, streamId, from: "CREATING", to: "ACTIVE" });
  return streamId;
}

describe("InitCluster and RegisterNode", () => {
  it("sets the secret once; a second InitCluster is a no-op", () => {
    const m = new Machine();
    expect(m.view.clusterSecret.length).toBe(0);
    m.ok({ type: "InitCluster", secretHex: SECRET });
    m.ok({ type: "InitCluster", secretHex: "cd".repeat(32) });
    expect(m.view.clusterSecret.toString("hex")).toBe(SECRET);
  });

  it("refuses a secret of the wrong length or not hex", () => {
    const m = new Machine();
    expect(m.code({ type: "InitCluster", secretHex: "ab" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "InitCluster", secretHex: "zz".repeat(32) })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "InitCluster" })).toBe("INVALID_ARGUMENT");
  });

  it("upserts nodes and validates their fields", () => {
    const m = cluster();
    m.ok({
      type: "RegisterNode",
      node: { nodeId: 2, zone: "b", peerAddress: "x:1", gatewayAddress: "y:2", httpAddress: "z:3" },
    });
    expect(m.view.nodes.size).toBe(3);
    expect(m.view.nodes.get(2)).toEqual({
      nodeId: 2,
      zone: "b",
      peerAddress: "x:1",
      gatewayAddress: "y:2",
      httpAddress: "z:3",
    });
    expect(
      m.code({ type: "RegisterNode", node: { nodeId: 0, zone: "a", peerAddress: "p", gatewayAddress: "g" } }),
    ).toBe("INVALID_ARGUMENT");
    expect(
      m.code({ type: "RegisterNode", node: { nodeId: 4, zone: "", peerAddress: "p", gatewayAddress: "g" } }),
    ).toBe("INVALID_ARGUMENT");
    expect(
      m.code({ type: "RegisterNode", node: { nodeId: 4, zone: "a", gatewayAddress: "g" } } as never),
    ).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "RegisterNode" })).toBe("INVALID_ARGUMENT");
  });
});

describe("subscriptions (one SubscribeToShard per consumer and shard in the cluster)", () => {
  function withConsumer(): { m: Machine; arn: string } {
    const m = cluster();
    activeStream(m, "s");
    const { consumerArn } = m.ok({
      type: "RegisterConsumer",
      streamName: "s",
      consumerName: "app",
      nowMs: NOW_MS,
    }) as {
      consumerArn: string;
    };
    m.ok({
      type: "SetConsumerStatus",
      streamName: "s",
      streamId: 1,
      consumerArn,
      from: "CREATING",
      to: "ACTIVE",
    });
    return { m, arn: consumerArn };
  }
  const SHARD = "shardId-000000000000";
  const acquire = (arn: string, holderId: string, nowMs: number, nodeId = 1) => ({
    type: "AcquireSubscription",
    consumerArn: arn,
    shardId: SHARD,
    holderId,
    nodeId,
    nowMs,
  });

  it("refuses a second holder younger than SUBSCRIPTION_TAKEOVER_AFTER_MS and lets one take over after it", () => {
    const { m, arn } = withConsumer();
    expect(m.ok(acquire(arn, "a", NOW_MS))).toBeUndefined();
    expect(m.ok(acquire(arn, "a", NOW_MS + 10))).toBeUndefined(); // the same holder again: no change
    expect(m.code(acquire(arn, "b", NOW_MS + SUBSCRIPTION_TAKEOVER_AFTER_MS - 1, 2))).toBe("STREAM_IN_USE");
    expect(m.ok(acquire(arn, "b", NOW_MS + SUBSCRIPTION_TAKEOVER_AFTER_MS, 2))).toEqual({ takenOver: "a" });
    expect(m.view.consumerByArn(arn)?.consumer.subscriptions).toEqual([
      { shardId: SHARD, holderId: "b", nodeId: 2, startedAtMs: NOW_MS + SUBSCRIPTION_TAKEOVER_AFTER_MS },
    ]);
  });

  it("releases only the current holder, and a released pair is free at once", () => {
    const { m, arn } = withConsumer();
    m.ok(acquire(arn, "a", NOW_MS));
    m.ok({ type: "ReleaseSubscription", consumerArn: arn, shardId: SHARD, holderId: "other" });
    expect(m.view.consumerByArn(arn)?.consumer.subscriptions?.length).toBe(1);
    m.ok({ type: "ReleaseSubscription", consumerArn: arn, shardId: SHARD, holderId: "a" });
    expect(m.view.consumerByArn(arn)?.consumer.subscriptions).toBeUndefined();
    expect(m.ok(acquire(arn, "b", NOW_MS + 1))).toBeUndefined();
    // Releasing for a consumer that is gone changes nothing.
    m.ok({ type: "ReleaseSubscription", consumerArn: `${arn}x`, shardId: SHARD, holderId: "b" });
  });

  it("refuses unknown consumers and shards, consumers not ACTIVE, and bad fields, changing nothing", () => {
    const { m, arn } = withConsumer();
    const before = Buffer.from(m.sm.snapshot());
    expect(m.code(acquire(`${arn}0`, "a", NOW_MS))).toBe("CONSUMER_NOT_FOUND");
    expect(m.code(acquire("garbage", "a", NOW_MS))).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...acquire(arn, "a", NOW_MS), shardId: "shardId-000000000009" })).toBe("SHARD_NOT_FOUND");
    expect(m.code({ ...acquire(arn, "a", NOW_MS), holderId: "" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...acquire(arn, "a", NOW_MS), holderId: "x".repeat(65) })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...acquire(arn, "a", NOW_MS), nodeId: 0 })).toBe("INVALID_ARGUMENT");
    expect(Buffer.from(m.sm.snapshot())).toEqual(before);
    m.ok({ type: "DeregisterConsumer", consumerArn: arn });
    expect(m.code(acquire(arn, "a", NOW_MS))).toBe("STREAM_IN_USE");
  });

  it("keeps holders in snapshots and drops stale ones on the next acquire", () => {
    const { m, arn } = withConsumer();
    m.ok(acquire(arn, "a", NOW_MS));
    m.ok({ ...acquire(arn, "b", NOW_MS), shardId: "shardId-000000000001" });
    const restored = new MetadataStateMachine();
    restored.restore(m.sm.snapshot(), m.index);
    expect(
      restored
        .view()
        .consumerByArn(arn)
        ?.consumer.subscriptions?.map((h) => h.holderId),
    ).toEqual(["a", "b"]);
    expect(Buffer.from(restored.snapshot())).toEqual(Buffer.from(m.sm.snapshot()));
    m.ok(acquire(arn, "c", NOW_MS + SUBSCRIPTION_HOLD_MS_MAX));
    expect(m.view.consumerByArn(arn)?.consumer.subscriptions?.map((h) => h.holderId)).toEqual(["c"]);
  });
});

describe("SetNodeLiveness", () => {
  it("records a node down with the time, live again, and changes nothing when it already says so", () => {
    const m = cluster();
    m.ok({ type: "SetNodeLiveness", nodeId: 2, live: false, nowMs: NOW_MS });
    expect(m.view.nodes.get(2)?.downSinceMs).toBe(NOW_MS);
    const index = m.view.appliedIndex;
    const before = Buffer.from(m.sm.snapshot());
    m.ok({ type: "SetNodeLiveness", nodeId: 2, live: false, nowMs: NOW_MS + 5 });
    expect(m.view.nodes.get(2)?.downSinceMs).toBe(NOW_MS);
    expect(m.view.appliedIndex).toBe(index + 1);
    const restored = new MetadataStateMachine();
    restored.restore(before, index);
    expect(restored.view().nodes.get(2)?.downSinceMs).toBe(NOW_MS);
    m.ok({ type: "SetNodeLiveness", nodeId: 2, live: true, nowMs: NOW_MS + 10 });
    expect(m.view.nodes.get(2)).toEqual({
      nodeId: 2,
      zone: "b",
      peerAddress: "n2:7400",
      gatewayAddress: "n2:50051",
    });
  });

  it("refuses an unknown node and bad fields", () => {
    const m = cluster();
    expect(m.code({ type: "SetNodeLiveness", nodeId: 9, live: false, nowMs: NOW_MS })).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      m.code({ type: "SetNodeLiveness", nodeId: 2, live: "no", nowMs: NOW_MS } as Record<string, unknown>),
    ).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "SetNodeLiveness", nodeId: 2, live: false })).toBe("INVALID_ARGUMENT");
  });

  it("a node that registers again (a restart) is live", () => {
    const m = cluster();
    m.ok({ type: "SetNodeLiveness", nodeId: 3, live: false, nowMs: NOW_MS });
    m.ok({
      type: "RegisterNode",
      node: { nodeId: 3, zone: "c", peerAddress: "n3:7400", gatewayAddress: "n3:50051" },
    });
    expect(m.view.nodes.get(3)?.downSinceMs).toBeUndefined();
  });
});

describe("malformed entries", () => {
  it("answers bad bytes, unknown types and non-objects with INVALID_ARGUMENT and changes nothing", () => {
    const m = cluster();
    const before = m.sm.snapshot();
    expect(m.raw(Buffer.from("not json"))).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(m.raw(Buffer.from("[1,2]"))).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(m.raw(Buffer.alloc(0))).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(m.code({ type: "Explode" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "toString" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "__proto__" })).toBe("INVALID_ARGUMENT");
    expect(Buffer.from(m.sm.snapshot())).toEqual(Buffer.from(before));
    expect(m.view.appliedIndex).toBe(m.index);
  });
});

describe("CreateStream", () => {
  it("creates a CREATING stream with shards, ranges, groups and replicas", () => {
    const m = cluster();
    const value = m.ok({
      type: "CreateStream",
      streamName: "orders",
      shardCount: 3,
      mode: "PROVISIONED",
      tags: { team: "billing", env: "" },
      nowMs: NOW_MS,
    });
    const arn = "arn:aws:kinesis:local:000000000000:stream/orders";
    expect(value).toEqual({ streamName: "orders", streamArn: arn, streamId: 1 });
    const stream = m.view.stream("orders");
    expect(stream).toMatchObject({
      streamName: "orders",
      streamArn: arn,
      streamId: 1,
      status: "CREATING",
      mode: "PROVISIONED",
      retentionHours: 24,
      createdAtMs: NOW_MS,
      nextShardNumber: 3,
      consumers: [],
    });
    expect([...(stream?.tags ?? [])]).toEqual([
      ["env", ""],
      ["team", "billing"],
    ]);
    expect(stream?.shards.map((s) => [s.shardId, s.shardNumber, s.groupId])).toEqual([
      ["shardId-000000000000", 0, FIRST_SHARD_GROUP_ID],
      ["shardId-000000000001", 1, FIRST_SHARD_GROUP_ID + 1],
      ["shardId-000000000002", 2, FIRST_SHARD_GROUP_ID + 2],
    ]);
    expect(stream?.shards[0]?.hashKeyStart).toBe("0");
    expect(stream?.shards[2]?.hashKeyEnd).toBe("340282366920938463463374607431768211455");
    for (const shard of stream?.shards ?? []) {
      expect(shard.replicas).toEqual([1, 2, 3]);
      expect(shard.createdAtMs).toBe(NOW_MS);
      expect(shard.closedAtMs).toBeUndefined();
      expect(shard.parentShardId).toBeUndefined();
    }
    expect(m.view.streamByArn(arn)).toBe(stream);
    expect(m.view.resolveStream(arn)).toBe(stream);
    expect(m.view.groupOwner(FIRST_SHARD_GROUP_ID + 1)?.shard.shardId).toBe("shardId-000000000001");
    expect(m.view.nextGroupId).toBe(FIRST_SHARD_GROUP_ID + 3);
  });

  it("never reuses group or stream ids", () => {
    const m = cluster();
    activeStream(m, "a", 2);
    m.ok({ type: "DeleteStream", streamName: "a", enforceConsumerDeletion: false });
    m.ok({ type: "RemoveStream", streamName: "a", streamId: 1 });
    m.ok({ type: "CreateStream", streamName: "a", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(m.view.stream("a")).toMatchObject({
      streamId: 2,
      shards: [{ groupId: FIRST_SHARD_GROUP_ID + 2 }],
    });
  });

  it("defaults an ON_DEMAND stream to 4 shards and requires a count for PROVISIONED", () => {
    const m = cluster();
    m.ok({ type: "CreateStream", streamName: "od", mode: "ON_DEMAND", nowMs: NOW_MS });
    expect(m.view.stream("od")?.shards).toHaveLength(4);
    expect(m.code({ type: "CreateStream", streamName: "p", mode: "PROVISIONED", nowMs: NOW_MS })).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("refuses an existing name, bad names, modes, counts and times", () => {
    const m = cluster();
    activeStream(m, "orders");
    const base = { type: "CreateStream", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS };
    expect(m.code({ ...base, streamName: "orders" })).toBe("STREAM_EXISTS");
    expect(m.code({ ...base, streamName: "" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "a/b" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "x".repeat(129) })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "x".repeat(128) })).toBe("OK");
    expect(m.code({ ...base, streamName: "m", mode: "FAST" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", shardCount: 0 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", shardCount: 1.5 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", shardCount: "2" })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", nowMs: -1 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", tags: { "": "v" } })).toBe("INVALID_ARGUMENT");
    expect(m.code({ ...base, streamName: "m", tags: { k: "v".repeat(257) } })).toBe("INVALID_ARGUMENT");
  });

  it("enforces SHARDS_PER_CREATE_MAX and OPEN_SHARDS_PER_CLUSTER_MAX", () => {
    const m = cluster();
    const base = { type: "CreateStream", mode: "PROVISIONED", nowMs: NOW_MS };
    expect(m.code({ ...base, streamName: "big", shardCount: SHARDS_PER_CREATE_MAX + 1 })).toBe(
      "LIMIT_EXCEEDED",
    );
    let created = 0;
    for (let i = 0; created + SHARDS_PER_CREATE_MAX <= OPEN_SHARDS_PER_CLUSTER_MAX; i++) {
      m.ok({ ...base, streamName: `s${i}`, shardCount: SHARDS_PER_CREATE_MAX });
      created += SHARDS_PER_CREATE_MAX;
    }
    const left = OPEN_SHARDS_PER_CLUSTER_MAX - created;
    expect(m.code({ ...base, streamName: "one-too-many", shardCount: left + 1 })).toBe("LIMIT_EXCEEDED");
  });

  it("needs a registered node to place replicas", () => {
    const m = new Machine();
    expect(
      m.code({ type: "CreateStream", streamName: "s", shardCount: 1, mode: "PROVISIONED", nowMs: 1 }),
    ).toBe("METADATA_UNAVAILABLE");
  });
});

describe("stream status, deletion and removal", () => {
  it("moves CREATING → ACTIVE only from the named status and stream id", () => {
    const m = cluster();
    m.ok({ type: "CreateStream", streamName: "s", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(
      m.code({ type: "SetStreamStatus", streamName: "s", streamId: 9, from: "CREATING", to: "ACTIVE" }),
    ).toBe("STREAM_NOT_FOUND");
    expect(
      m.code({ type: "SetStreamStatus", streamName: "s", streamId: 1, from: "ACTIVE", to: "DELETING" }),
    ).toBe("STREAM_IN_USE");
    expect(
      m.code({
        type: "SetStreamStatus",
        streamName: "s",
        streamId: 1,
        from: "CREATING",
        to: "NOPE",
      } as never),
    ).toBe("INVALID_ARGUMENT");
    m.ok({ type: "SetStreamStatus", streamName: "s", streamId: 1, from: "CREATING", to: "ACTIVE" });
    expect(m.view.stream("s")?.status).toBe("ACTIVE");
    expect(
      m.code({ type: "SetStreamStatus", streamName: "nope", streamId: 1, from: "CREATING", to: "ACTIVE" }),
    ).toBe("STREAM_NOT_FOUND");
  });

  it("deletes to DELETING (idempotent), then RemoveStream forgets it", () => {
    const m = cluster();
    activeStream(m, "s");
    expect(m.code({ type: "RemoveStream", streamName: "s", streamId: 1 })).toBe("STREAM_IN_USE");
    m.ok({ type: "DeleteStream", streamName: "s", enforceConsumerDeletion: false });
    expect(m.view.stream("s")?.status).toBe("DELETING");
    m.ok({ type: "DeleteStream", streamName: "s", enforceConsumerDeletion: false });
    m.ok({ type: "RemoveStream", streamName: "s", streamId: 1 });
    expect(m.view.stream("s")).toBeUndefined();
    expect(m.code({ type: "DeleteStream", streamName: "s", enforceConsumerDeletion: false })).toBe(
      "STREAM_NOT_FOUND",
    );
    expect(m.code({ type: "DeleteStream", streamName: "s" })).toBe("INVALID_ARGUMENT");
  });

  it("refuses to delete a stream with consumers unless enforced; accepts the ARN", () => {
    const m = cluster();
    activeStream(m, "s");
    m.ok({ type: "RegisterConsumer", streamName: "s", consumerName: "c", nowMs: NOW_MS });
    expect(m.code({ type: "DeleteStream", streamName: "s", enforceConsumerDeletion: false })).toBe(
      "STREAM_IN_USE",
    );
    const arn = m.view.stream("s")?.streamArn as string;
    m.ok({ type: "DeleteStream", streamName: arn, enforceConsumerDeletion: true });
    expect(m.view.stream("s")?.status).toBe("DELETING");
    expect(m.code({ type: "DeleteStream", streamName: `${arn}x`, enforceConsumerDeletion: true })).toBe(
      "STREAM_NOT_FOUND",
    );
  });
});

describe("retention", () => {
  it("increases and decreases within 24–8760 h, in the right direction only", () => {
    const m = cluster();
    activeStream(m, "s");
    m.ok({ type: "IncreaseRetention", streamName: "s", hours: 48 });
    expect(m.view.stream("s")?.retentionHours).toBe(48);
    expect(m.code({ type: "IncreaseRetention", streamName: "s", hours: 24 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "DecreaseRetention", streamName: "s", hours: 72 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "IncreaseRetention", streamName: "s", hours: 8761 })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "DecreaseRetention", streamName: "s", hours: 23 })).toBe("INVALID_ARGUMENT");
    m.ok({ type: "IncreaseRetention", streamName: "s", hours: 8760 });
    m.ok({ type: "DecreaseRetention", streamName: "s", hours: 24 });
    expect(m.view.stream("s")?.retentionHours).toBe(24);
    expect(m.code({ type: "IncreaseRetention", streamName: "nope", hours: 48 })).toBe("STREAM_NOT_FOUND");
  });

  it("needs an ACTIVE stream", () => {
    const m = cluster();
    m.ok({ type: "CreateStream", streamName: "s", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(m.code({ type: "IncreaseRetention", streamName: "s", hours: 48 })).toBe("STREAM_IN_USE");
  });
});

describe("tags", () => {
  it("adds, overwrites and removes tags", () => {
    const m = cluster();
    activeStream(m, "s");
    m.ok({ type: "AddTags", streamName: "s", tags: { b: "2", a: "1" } });
    m.ok({ type: "AddTags", streamName: "s", tags: { a: "one" } });
    expect([...(m.view.stream("s")?.tags ?? [])]).toEqual([
      ["a", "one"],
      ["b", "2"],
    ]);
    m.ok({ type: "RemoveTags", streamName: "s", tagKeys: ["a", "missing"] });
    expect([...(m.view.stream("s")?.tags ?? [])]).toEqual([["b", "2"]]);
  });

  it("enforces per-call, per-stream and length limits", () => {
    const m = cluster();
    activeStream(m, "s");
    const tags = (n: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, "v"]));
    expect(m.code({ type: "AddTags", streamName: "s", tags: tags(11, "k") })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "AddTags", streamName: "s", tags: {} })).toBe("INVALID_ARGUMENT");
    for (let i = 0; i < TAGS_PER_STREAM_MAX / 10; i++)
      m.ok({ type: "AddTags", streamName: "s", tags: tags(10, `g${i}-`) });
    expect(m.view.stream("s")?.tags.size).toBe(TAGS_PER_STREAM_MAX);
    expect(m.code({ type: "AddTags", streamName: "s", tags: { extra: "v" } })).toBe("LIMIT_EXCEEDED");
    expect(m.code({ type: "AddTags", streamName: "s", tags: { "g0-0": "overwrite" } })).toBe("OK");
    expect(m.code({ type: "AddTags", streamName: "s", tags: { ["k".repeat(129)]: "v" } })).toBe(
      "INVALID_ARGUMENT",
    );
    expect(m.code({ type: "AddTags", streamName: "s", tags: { k: 5 } } as never)).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "RemoveTags", streamName: "s", tagKeys: [] })).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "RemoveTags", streamName: "s", tagKeys: "a" } as never)).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "AddTags", streamName: "nope", tags: { a: "b" } })).toBe("STREAM_NOT_FOUND");
  });
});

describe("consumers", () => {
  it("registers CREATING, activates, deregisters to DELETING and removes", () => {
    const m = cluster();
    activeStream(m, "s");
    const value = m.ok({ type: "RegisterConsumer", streamName: "s", consumerName: "app", nowMs: NOW_MS }) as {
      consumerArn: string;
    };
    const arn = "arn:aws:kinesis:local:000000000000:stream/s/consumer/app:1700000000";
    expect(value).toEqual({ consumerName: "app", consumerArn: arn, createdAtMs: NOW_MS });
    expect(m.view.stream("s")?.consumers).toEqual([
      { consumerName: "app", consumerArn: arn, status: "CREATING", createdAtMs: NOW_MS },
    ]);
    expect(m.view.consumerByArn(arn)?.consumer.consumerName).toBe("app");
    m.ok({
      type: "SetConsumerStatus",
      streamName: "s",
      streamId: 1,
      consumerArn: arn,
      from: "CREATING",
      to: "ACTIVE",
    });
    expect(
      m.code({
        type: "SetConsumerStatus",
        streamName: "s",
        streamId: 1,
        consumerArn: arn,
        from: "CREATING",
        to: "ACTIVE",
      }),
    ).toBe("STREAM_IN_USE");
    expect(m.code({ type: "RemoveConsumer", streamName: "s", streamId: 1, consumerArn: arn })).toBe(
      "STREAM_IN_USE",
    );
    m.ok({ type: "DeregisterConsumer", consumerArn: arn });
    expect(m.view.stream("s")?.consumers[0]?.status).toBe("DELETING");
    m.ok({ type: "DeregisterConsumer", consumerArn: arn });
    m.ok({ type: "RemoveConsumer", streamName: "s", streamId: 1, consumerArn: arn });
    expect(m.view.stream("s")?.consumers).toEqual([]);
    expect(m.code({ type: "DeregisterConsumer", consumerArn: arn })).toBe("CONSUMER_NOT_FOUND");
  });

  it("deregisters by stream and consumer name, and reports unknown consumers", () => {
    const m = cluster();
    activeStream(m, "s");
    m.ok({ type: "RegisterConsumer", streamName: "s", consumerName: "app", nowMs: NOW_MS });
    expect(m.code({ type: "DeregisterConsumer", streamName: "s", consumerName: "nope" })).toBe(
      "CONSUMER_NOT_FOUND",
    );
    expect(
      m.code({
        type: "DeregisterConsumer",
        consumerArn: "arn:aws:kinesis:local:000000000000:stream/s/consumer/x:1",
      }),
    ).toBe("CONSUMER_NOT_FOUND");
    expect(m.code({ type: "DeregisterConsumer", consumerArn: "garbage" })).toBe("INVALID_ARGUMENT");
    m.ok({ type: "DeregisterConsumer", streamName: "s", consumerName: "app" });
    expect(m.view.stream("s")?.consumers[0]?.status).toBe("DELETING");
  });

  it("refuses duplicates, more than 20, bad names and a stream that is not ACTIVE", () => {
    const m = cluster();
    activeStream(m, "s");
    const arn = m.view.stream("s")?.streamArn as string;
    m.ok({ type: "RegisterConsumer", streamName: arn, consumerName: "c0", nowMs: NOW_MS });
    expect(m.code({ type: "RegisterConsumer", streamName: "s", consumerName: "c0", nowMs: NOW_MS })).toBe(
      "CONSUMER_EXISTS",
    );
    for (let i = 1; i < CONSUMERS_PER_STREAM_MAX; i++)
      m.ok({ type: "RegisterConsumer", streamName: "s", consumerName: `c${i}`, nowMs: NOW_MS });
    expect(m.code({ type: "RegisterConsumer", streamName: "s", consumerName: "last", nowMs: NOW_MS })).toBe(
      "LIMIT_EXCEEDED",
    );
    expect(
      m.code({ type: "RegisterConsumer", streamName: "s", consumerName: "bad name", nowMs: NOW_MS }),
    ).toBe("INVALID_ARGUMENT");
    expect(m.code({ type: "RegisterConsumer", streamName: "nope", consumerName: "c", nowMs: NOW_MS })).toBe(
      "STREAM_NOT_FOUND",
    );
    m.ok({ type: "CreateStream", streamName: "new", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(m.code({ type: "RegisterConsumer", streamName: "new", consumerName: "c", nowMs: NOW_MS })).toBe(
      "STREAM_IN_USE",
    );
  });
});

describe("UpdateStreamMode", () => {
  it("switches the mode of an ACTIVE stream only", () => {
    const m = cluster();
    activeStream(m, "s");
    m.ok({ type: "UpdateStreamMode", streamName: "s", mode: "ON_DEMAND" });
    expect(m.view.stream("s")?.mode).toBe("ON_DEMAND");
    expect(m.code({ type: "UpdateStreamMode", streamName: "s", mode: "SLOW" } as never)).toBe(
      "INVALID_ARGUMENT",
    );
    m.ok({ type: "DeleteStream", streamName: "s", enforceConsumerDeletion: false });
    expect(m.code({ type: "UpdateStreamMode", streamName: "s", mode: "PROVISIONED" })).toBe("STREAM_IN_USE");
  });
});

describe("views and listeners", () => {
  it("keeps an old view unchanged while applies go on (copy-on-write)", () => {
    const m = cluster();
    activeStream(m, "s");
    const old = m.view;
    const oldStream = old.stream("s");
    m.ok({ type: "IncreaseRetention", streamName: "s", hours: 100 });
    m.ok({ type: "CreateStream", streamName: "t", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(old.stream("s")?.retentionHours).toBe(24);
    expect(old.stream("t")).toBeUndefined();
    expect(m.view.stream("s")?.retentionHours).toBe(100);
    expect(Object.isFrozen(oldStream)).toBe(true);
    expect(m.view.appliedIndex).toBe(old.appliedIndex + 2);
  });

  it("tells listeners which streams changed, and not on refused commands", () => {
    const m = cluster();
    const calls: string[][] = [];
    const off = m.sm.onChange((_view, names) => calls.push([...names]));
    activeStream(m, "s");
    m.code({ type: "CreateStream", streamName: "s", shardCount: 1, mode: "PROVISIONED", nowMs: NOW_MS });
    expect(calls).toEqual([["s"], ["s"]]);
    off();
    m.ok({ type: "IncreaseRetention", streamName: "s", hours: 30 });
    expect(calls).toHaveLength(2);
  });
});

function script(m: Machine): void {
  activeStream(m, "orders", 7);
  m.ok({ type: "AddTags", streamName: "orders", tags: { z: "1", a: "2" } });
  m.ok({ type: "RegisterConsumer", streamName: "orders", consumerName: "app", nowMs: NOW_MS + 5 });
  m.ok({
    type: "CreateStream",
    streamName: "clicks",
    mode: "ON_DEMAND",
    tags: { team: "web" },
    nowMs: NOW_MS + 9,
  });
  m.ok({ type: "IncreaseRetention", streamName: "orders", hours: 168 });
  m.run({ type: "CreateStream", streamName: "orders", shardCount: 1, mode: "PROVISIONED", nowMs: 1 });
  activeStream(m, "gone", 1);
  m.ok({ type: "DeleteStream", streamName: "gone", enforceConsumerDeletion: false });
}

describe("snapshots", () => {
  it("round-trips the whole state: restored machines equal the original and snapshot to the same bytes", () => {
    const a = cluster();
    script(a);
    const bytes = a.sm.snapshot();
    const b = new MetadataStateMachine();
    let notified: readonly string[] = [];
    b.onChange((_view, names) => {
      notified = names;
    });
    b.restore(bytes, a.index);
    expect(notified).toEqual(["clicks", "gone", "orders"]);
    expect(Buffer.from(b.snapshot())).toEqual(Buffer.from(bytes));
    expect(b.view().appliedIndex).toBe(a.index);
    expect(b.view().clusterSecret.toString("hex")).toBe(SECRET);
    expect(b.view().stream("orders")).toEqual(a.view.stream("orders"));
    expect([...b.view().nodes]).toEqual([...a.view.nodes]);
    expect(b.view().nextGroupId).toBe(a.view.nextGroupId);
    expect(b.view().nextStreamId).toBe(a.view.nextStreamId);
    // The restored machine goes on exactly like the original.
    const next = encodeCommand({
      type: "CreateStream",
      streamName: "after",
      shardCount: 2,
      mode: "PROVISIONED",
      nowMs: 7,
    });
    a.sm.apply(a.index + 1, next);
    b.apply(a.index + 1, next);
    expect(Buffer.from(b.snapshot())).toEqual(Buffer.from(a.sm.snapshot()));
  });

  it("is deterministic: machines fed the same commands have byte-identical snapshots", () => {
    const a = cluster();
    const b = cluster();
    script(a);
    script(b);
    expect(Buffer.from(a.sm.snapshot()).equals(Buffer.from(b.sm.snapshot()))).toBe(true);
    const text = Buffer.from(a.sm.snapshot()).toString("utf8");
    expect(text.indexOf('"clicks"')).toBeLessThan(text.indexOf('"orders"'));
  });

  it("refuses a snapshot of another version", () => {
    const m = new MetadataStateMachine();
    expect(() => m.restore(Buffer.from('{"version":99}'), 1)).toThrow(/version/);
  });
});
