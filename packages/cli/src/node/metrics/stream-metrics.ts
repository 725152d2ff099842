/**
 * The per-stream and per-shard figures of the data plane (Kinesis's stream and shard-level
 * CloudWatch metrics) as Prometheus counters and gauges; the gateway reports into it through
 * `ShardMetricsSink`.
 *
 * Stream-level series always exist; shard-level ones only for the metrics a stream enabled with
 * EnableEnhancedMonitoring (`StreamInfo.shardLevelMetrics`), so label cardinality stays bounded.
 * The hot path allocates nothing: the label children of a stream and its shards are looked up
 * once per metadata version of the stream (a new StreamInfo object) and cached in a WeakMap.
 */
import type { ShardInfo, ShardLevelMetric, StreamInfo } from "@sluice/metadata";
import { Counter, Gauge, type Registry } from "prom-client";

type CounterChild = ReturnType<Counter<string>["labels"]>;
type GaugeChild = ReturnType<Gauge<string>["labels"]>;

interface Family {
  readonly incomingBytes: Counter<string>;
  readonly incomingRecords: Counter<string>;
  readonly outgoingBytes: Counter<string>;
  readonly outgoingRecords: Counter<string>;
  readonly writeThrottled: Counter<string>;
  readonly readThrottled: Counter<string>;
  readonly iteratorAge: Gauge<string>;
}

interface Children {
  readonly incomingBytes: CounterChild | undefined;
  readonly incomingRecords: CounterChild | undefined;
  readonly outgoingBytes: CounterChild | undefined;
  readonly outgoingRecords: CounterChild | undefined;
  readonly writeThrottled: CounterChild | undefined;
  readonly readThrottled: CounterChild | undefined;
  readonly iteratorAge: GaugeChild | undefined;
}

interface StreamEntry {
  readonly stream: Children;
  readonly shardLevel: ReadonlySet<ShardLevelMetric>;
  readonly shards: WeakMap<ShardInfo, Children>;
}

function family(registry: Registry, level: "stream" | "shard", labelNames: string[]): Family {
  const registers = [registry];
  const what = level === "stream" ? "the stream" : "the shard (with enhanced monitoring)";
  return {
    incomingBytes: new Counter({
      name: `sluice_${level}_incoming_bytes_total`,
      help: `Bytes (data and partition keys) committed to ${what} by this node as its leader (Kinesis IncomingBytes).`,
      labelNames,
      registers,
    }),
    incomingRecords: new Counter({
      name: `sluice_${level}_incoming_records_total`,
      help: `Records committed to ${what} by this node as its leader (Kinesis IncomingRecords).`,
      labelNames,
      registers,
    }),
    outgoingBytes: new Counter({
      name: `sluice_${level}_outgoing_bytes_total`,
      help: `Bytes served from ${what} by GetRecords and SubscribeToShard on this node (Kinesis OutgoingBytes / GetRecords.Bytes).`,
      labelNames,
      registers,
    }),
    outgoingRecords: new Counter({
      name: `sluice_${level}_outgoing_records_total`,
      help: `Records served from ${what} by GetRecords and SubscribeToShard on this node (Kinesis OutgoingRecords / GetRecords.Records).`,
      labelNames,
      registers,
    }),
    writeThrottled: new Counter({
      name: `sluice_${level}_write_throughput_exceeded_records_total`,
      help: `Records refused by the write throttle of ${what} (Kinesis WriteProvisionedThroughputExceeded).`,
      labelNames,
      registers,
    }),
    readThrottled: new Counter({
      name: `sluice_${level}_read_throughput_exceeded_total`,
      help: `GetRecords calls refused by the read throttle of ${what} (Kinesis ReadProvisionedThroughputExceeded).`,
      labelNames,
      registers,
    }),
    iteratorAge: new Gauge({
      name: `sluice_${level}_iterator_age_milliseconds`,
      help: `Age of the last record the latest read of ${what} on this node returned, 0 when it returned none (Kinesis IteratorAgeMilliseconds).`,
      labelNames,
      registers,
    }),
  };
}

export class StreamMetrics {
  private readonly streamFamily: Family;
  private readonly shardFamily: Family;
  private readonly entries = new WeakMap<StreamInfo, StreamEntry>();

  constructor(registry: Registry) {
    this.streamFamily = family(registry, "stream", ["stream"]);
    this.shardFamily = family(registry, "shard", ["stream", "shard"]);
  }

  recordsWritten(stream: StreamInfo, shard: ShardInfo, records: number, bytes: number): void {
    const entry = this.entryOf(stream);
    entry.stream.incomingRecords?.inc(records);
    entry.stream.incomingBytes?.inc(bytes);
    if (entry.shardLevel.size === 0) return;
    const children = this.shardChildren(entry, stream, shard);
    children.incomingRecords?.inc(records);
    children.incomingBytes?.inc(bytes);
  }

  writesThrottled(stream: StreamInfo, shard: ShardInfo, records: number): void {
    const entry = this.entryOf(stream);
    entry.stream.writeThrottled?.inc(records);
    if (entry.shardLevel.size === 0) return;
    this.shardChildren(entry, stream, shard).writeThrottled?.inc(records);
  }

  recordsRead(
    stream: StreamInfo,
    shard: ShardInfo,
    records: number,
    bytes: number,
    iteratorAgeMs: number,
  ): void {
    const entry = this.entryOf(stream);
    entry.stream.outgoingRecords?.inc(records);
    entry.stream.outgoingBytes?.inc(bytes);
    entry.stream.iteratorAge?.set(iteratorAgeMs);
    if (entry.shardLevel.size === 0) return;
    const children = this.shardChildren(entry, stream, shard);
    children.outgoingRecords?.inc(records);
    children.outgoingBytes?.inc(bytes);
    children.iteratorAge?.set(iteratorAgeMs);
  }

  readsThrottled(stream: StreamInfo, shard: ShardInfo): void {
    const entry = this.entryOf(stream);
    entry.stream.readThrottled?.inc();
    if (entry.shardLevel.size === 0) return;
    this.shardChildren(entry, stream, shard).readThrottled?.inc();
  }

  private entryOf(stream: StreamInfo): StreamEntry {
    let entry = this.entries.get(stream);
    if (entry === undefined) {
      const all = new Set<ShardLevelMetric>([
        "IncomingBytes",
        "IncomingRecords",
        "OutgoingBytes",
        "OutgoingRecords",
        "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded",
        "IteratorAgeMilliseconds",
      ]);
      entry = {
        stream: children(this.streamFamily, [stream.streamName], all),
        shardLevel: new Set(stream.shardLevelMetrics ?? []),
        shards: new WeakMap(),
      };
      this.entries.set(stream, entry);
    }
    return entry;
  }

  private shardChildren(entry: StreamEntry, stream: StreamInfo, shard: ShardInfo): Children {
    let found = entry.shards.get(shard);
    if (found === undefined) {
      found = children(this.shardFamily, [stream.streamName, shard.shardId], entry.shardLevel);
      entry.shards.set(shard, found);
    }
    return found;
  }
}

function children(family: Family, labels: string[], enabled: ReadonlySet<ShardLevelMetric>): Children {
  const pick = <T>(metric: ShardLevelMetric, make: () => T): T | undefined =>
    enabled.has(metric) ? make() : undefined;
  return {
    incomingBytes: pick("IncomingBytes", () => family.incomingBytes.labels(...labels)),
    incomingRecords: pick("IncomingRecords", () => family.incomingRecords.labels(...labels)),
    outgoingBytes: pick("OutgoingBytes", () => family.outgoingBytes.labels(...labels)),
    outgoingRecords: pick("OutgoingRecords", () => family.outgoingRecords.labels(...labels)),
    writeThrottled: pick("WriteProvisionedThroughputExceeded", () => family.writeThrottled.labels(...labels)),
    readThrottled: pick("ReadProvisionedThroughputExceeded", () => family.readThrottled.labels(...labels)),
    iteratorAge: pick("IteratorAgeMilliseconds", () => family.iteratorAge.labels(...labels)),
  };
}
