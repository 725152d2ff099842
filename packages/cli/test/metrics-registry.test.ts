// Proves the node's Prometheus registry: Enable/DisableEnhancedMonitoring state in the real metadata state machine (validation, ALL, no-op, snapshot round trip) decides which per-shard series exist, per-stream series always count, request latency is a histogram by operation and outcome, and every series carries node and zone.
import { decodeSnapshot, encodeCommand, type MetadataCommand, MetadataStateMachine } from "@sluice/metadata";
import { describe, expect, it } from "vitest";
import { NodeMetrics } from "../src/node/metrics/node-metrics.js";

const NOW_MS = 1_700_000_000_000;

class Machine {
  readonly sm = new MetadataStateMachine();
  private index = 0;

  run(command: MetadataCommand | Record<string, unknown>) {
    return this.sm.apply(++this.index, encodeCommand(command as MetadataCommand));
  }

  ok(command: MetadataCommand | Record<string, unknown>): unknown {
    const result = this.run(command);
    if (!result.ok) throw new Error(`${JSON.stringify(command)} failed: ${result.code} ${result.message}`);
    return result.value;
  }

  stream(name: string) {
    const stream = this.sm.view().streams.get(name);
    if (stream === undefined) throw new Error(`no stream ${name}`);
    return stream;
  }
}

function cluster(): Machine {
  const m = new Machine();
  m.ok({ type: "InitCluster", secretHex: "ab".repeat(32) });
  for (const [nodeId, zone] of [
    [1, "a"],
    [2, "b"],
    [3, "c"],
  ] as const) {
    m.ok({
      type: "RegisterNode",
      node: { nodeId, zone, peerAddress: `n${nodeId}:7401`, gatewayAddress: `n${nodeId}:50051` },
    });
  }
  m.ok({ type: "CreateStream", streamName: "orders", shardCount: 2, mode: "PROVISIONED", nowMs: NOW_MS });
  return m;
}

/** The value of one series in the text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf("}"));
    const has = Object.entries(labels).every(([key, value]) => body.includes(`${key}="${value}"`));
    if (has) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("SetShardLevelMetrics (Enable/DisableEnhancedMonitoring state)", () => {
  it("enables by name or ALL, disables, answers current and desired, and survives a snapshot", () => {
    const m = cluster();
    expect(m.stream("orders").shardLevelMetrics).toBeUndefined();
    expect(
      m.ok({
        type: "SetShardLevelMetrics",
        streamName: "orders",
        enable: true,
        metrics: ["IncomingRecords"],
      }),
    ).toEqual({ current: [], desired: ["IncomingRecords"] });
    expect(
      m.ok({ type: "SetShardLevelMetrics", streamName: "orders", enable: true, metrics: ["ALL"] }),
    ).toEqual({
      current: ["IncomingRecords"],
      desired: [
        "IncomingBytes",
        "IncomingRecords",
        "OutgoingBytes",
        "OutgoingRecords",
        "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded",
        "IteratorAgeMilliseconds",
      ],
    });
    const restored = decodeSnapshot(m.sm.snapshot());
    expect(restored.streams.get("orders")?.shardLevelMetrics).toEqual(m.stream("orders").shardLevelMetrics);
    m.ok({ type: "SetShardLevelMetrics", streamName: "orders", enable: false, metrics: ["ALL"] });
    expect(m.stream("orders").shardLevelMetrics).toBeUndefined();
  });

  it("refuses unknown names, empty lists and unknown streams, changing nothing", () => {
    const m = cluster();
    const before = m.stream("orders");
    const code = (command: Record<string, unknown>) => {
      const result = m.run(command);
      return result.ok ? "OK" : result.code;
    };
    expect(
      code({ type: "SetShardLevelMetrics", streamName: "orders", enable: true, metrics: ["Bogus"] }),
    ).toBe("INVALID_ARGUMENT");
    expect(code({ type: "SetShardLevelMetrics", streamName: "orders", enable: true, metrics: [] })).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      code({ type: "SetShardLevelMetrics", streamName: "orders", enable: "yes", metrics: ["ALL"] }),
    ).toBe("INVALID_ARGUMENT");
    expect(code({ type: "SetShardLevelMetrics", streamName: "nope", enable: true, metrics: ["ALL"] })).toBe(
      "STREAM_NOT_FOUND",
    );
    expect(m.stream("orders")).toBe(before);
  });
});

describe("NodeMetrics", () => {
  it("counts per stream always and per shard only for the enabled metrics", async () => {
    const m = cluster();
    const metrics = new NodeMetrics({ nodeId: 2, zone: "b", processMetrics: false });
    const plain = m.stream("orders");
    const [shard0, shard1] = plain.shards;
    if (shard0 === undefined || shard1 === undefined) throw new Error("two shards expected");
    metrics.shardMetrics.recordsWritten(plain, shard0, 10, 1_000);
    let text = await metrics.render();
    expect(
      sample(text, "sluice_stream_incoming_records_total", { stream: "orders", node: "2", zone: "b" }),
    ).toBe(10);
    expect(sample(text, "sluice_shard_incoming_records_total", { stream: "orders" })).toBeUndefined();

    m.ok({ type: "SetShardLevelMetrics", streamName: "orders", enable: true, metrics: ["IncomingRecords"] });
    const enhanced = m.stream("orders");
    const [e0, e1] = enhanced.shards;
    if (e0 === undefined || e1 === undefined) throw new Error("two shards expected");
    metrics.shardMetrics.recordsWritten(enhanced, e0, 3, 300);
    metrics.shardMetrics.recordsWritten(enhanced, e1, 4, 400);
    metrics.shardMetrics.recordsWritten(enhanced, e1, 1, 100);
    metrics.shardMetrics.writesThrottled(enhanced, e1, 5);
    metrics.shardMetrics.recordsRead(enhanced, e0, 3, 300, 42);
    metrics.shardMetrics.readsThrottled(enhanced, e0);
    text = await metrics.render();
    expect(sample(text, "sluice_stream_incoming_records_total", { stream: "orders" })).toBe(18);
    expect(sample(text, "sluice_stream_incoming_bytes_total", { stream: "orders" })).toBe(1_800);
    expect(sample(text, "sluice_shard_incoming_records_total", { shard: e0.shardId })).toBe(3);
    expect(sample(text, "sluice_shard_incoming_records_total", { shard: e1.shardId })).toBe(5);
    // Only IncomingRecords is enabled per shard.
    expect(sample(text, "sluice_shard_incoming_bytes_total", { shard: e1.shardId })).toBeUndefined();
    expect(sample(text, "sluice_shard_iterator_age_milliseconds", { shard: e0.shardId })).toBeUndefined();
    expect(sample(text, "sluice_stream_write_throughput_exceeded_records_total", { stream: "orders" })).toBe(
      5,
    );
    expect(sample(text, "sluice_stream_read_throughput_exceeded_total", { stream: "orders" })).toBe(1);
    expect(sample(text, "sluice_stream_outgoing_records_total", { stream: "orders" })).toBe(3);
    expect(sample(text, "sluice_stream_iterator_age_milliseconds", { stream: "orders" })).toBe(42);
  });

  it("keeps request latency as a histogram by operation and outcome", async () => {
    let now = 1_000;
    const metrics = new NodeMetrics({ nodeId: 1, zone: "a", processMetrics: false, clock: () => now });
    now = 1_003;
    metrics.observe("PutRecords", "ok", 1_000);
    metrics.observe("GetRecords", "ExpiredIteratorException", 1_000);
    const text = await metrics.render();
    expect(
      sample(text, "sluice_gateway_request_duration_seconds_count", {
        operation: "PutRecords",
        outcome: "ok",
      }),
    ).toBe(1);
    expect(
      sample(text, "sluice_gateway_request_duration_seconds_bucket", {
        operation: "PutRecords",
        le: "0.005",
      }),
    ).toBe(1);
    expect(
      sample(text, "sluice_gateway_request_duration_seconds_sum", {
        operation: "GetRecords",
        outcome: "ExpiredIteratorException",
      }),
    ).toBeCloseTo(0.003);
  });

  it("keeps synced-write latency as a histogram by kind (segment, state)", async () => {
    const metrics = new NodeMetrics({ nodeId: 1, zone: "a", processMetrics: false });
    metrics.observeSync("segment", 3);
    metrics.observeSync("segment", 30);
    metrics.observeSync("state", 0.5);
    const text = await metrics.render();
    expect(sample(text, "sluice_storage_sync_duration_seconds_count", { kind: "segment" })).toBe(2);
    expect(
      sample(text, "sluice_storage_sync_duration_seconds_bucket", { kind: "segment", le: "0.004" }),
    ).toBe(1);
    expect(sample(text, "sluice_storage_sync_duration_seconds_sum", { kind: "state" })).toBeCloseTo(0.0005);
  });

  it("exports process metrics (event loop, heap, GC) when asked", async () => {
    const metrics = new NodeMetrics({ nodeId: 1, zone: "a" });
    const text = await metrics.render();
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    expect(text).toContain("nodejs_heap_size_used_bytes");
    expect(metrics.contentType).toContain("text/plain");
  });
});
