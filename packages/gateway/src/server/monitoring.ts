/**
 * Enhanced monitoring (Kinesis's shard-level CloudWatch metrics): the hooks through which the
 * write and read paths report per-stream and per-shard figures to whoever exports them (the node's
 * Prometheus registry), and the Enable/DisableEnhancedMonitoring operations that choose, per
 * stream, which metrics are also reported per shard (kept in the metadata state, so every node
 * agrees and label cardinality stays bounded).
 *
 * Contract for implementations of `ShardMetricsSink`: every method is called on the hot path,
 * synchronously, once per append, read or refusal (not once per record); it must not allocate
 * per call (cache label children per stream and shard) and must never throw. Which figures are
 * kept per shard is the sink's to decide from `stream.shardLevelMetrics`.
 */
import type { MetadataService, ShardInfo, StreamInfo } from "@sluice/metadata";
import type { streams } from "@sluice/proto";
import * as validate from "../validation.js";
import type { StreamLookup, StreamRef } from "./stream-lookup.js";

/** Receives the figures of the data plane as they happen on this node. */
export interface ShardMetricsSink {
  /**
   * `records` records of `bytes` bytes (data plus partition keys, as Kinesis counts
   * IncomingBytes) were committed by this node as the shard's leader: each record is counted
   * once in the cluster, on the node that led its shard when it was written.
   */
  recordsWritten(stream: StreamInfo, shard: ShardInfo, records: number, bytes: number): void;
  /** `records` records were refused by the shard's write throttle (WriteProvisionedThroughputExceeded). */
  writesThrottled(stream: StreamInfo, shard: ShardInfo, records: number): void;
  /**
   * A GetRecords call or a SubscribeToShard event served `records` records of `bytes` bytes from
   * this node; `iteratorAgeMs` is how old the last of them is (now − its arrival), 0 when none
   * was returned (Kinesis's IteratorAgeMilliseconds).
   */
  recordsRead(
    stream: StreamInfo,
    shard: ShardInfo,
    records: number,
    bytes: number,
    iteratorAgeMs: number,
  ): void;
  /** A GetRecords call was refused by the shard's read throttle (ReadProvisionedThroughputExceeded). */
  readsThrottled(stream: StreamInfo, shard: ShardInfo): void;
}

/** The parts the monitoring operations need. */
export interface MonitoringParts {
  readonly lookup: StreamLookup;
  readonly metadata: MetadataService;
}

/** The answer of Enable/DisableEnhancedMonitoring, as Kinesis gives it. */
export interface EnhancedMonitoringOutput {
  readonly streamName: string;
  readonly streamArn: string;
  /** The shard-level metrics enabled before the call, in Kinesis's order. */
  readonly currentShardLevelMetrics: string[];
  /** The shard-level metrics enabled after the call, in Kinesis's order. */
  readonly desiredShardLevelMetrics: string[];
}

/**
 * EnableEnhancedMonitoring (`enable` true) or DisableEnhancedMonitoring: names are Kinesis's
 * metric names or "ALL". Rejects with the metadata service's typed errors (InvalidArgument for an
 * unknown name, ResourceNotFound for an unknown stream, ResourceInUse while it is deleted).
 */
export async function setEnhancedMonitoring(
  parts: MonitoringParts,
  streamRef: StreamRef,
  metrics: readonly string[],
  enable: boolean,
): Promise<EnhancedMonitoringOutput> {
  const stream = await parts.lookup.stream(streamRef, { consistent: true });
  const result = await parts.metadata.setShardLevelMetrics({
    streamName: stream.streamName,
    enable,
    metrics,
  });
  return {
    streamName: stream.streamName,
    streamArn: stream.streamArn,
    currentShardLevelMetrics: [...result.current],
    desiredShardLevelMetrics: [...result.desired],
  };
}

/** The request fields both operations share (Kinesis: StreamName or StreamARN, ShardLevelMetrics). */
interface MonitoringRequest {
  readonly streamName: string;
  readonly streamArn: string;
  readonly shardLevelMetrics: readonly string[];
}

async function monitoringCall(
  parts: MonitoringParts,
  request: MonitoringRequest,
  enable: boolean,
): Promise<EnhancedMonitoringOutput> {
  validate.validateStreamRef(request);
  return setEnhancedMonitoring(
    parts,
    { streamName: request.streamName || undefined, streamArn: request.streamArn || undefined },
    request.shardLevelMetrics,
    enable,
  );
}

/** The EnableEnhancedMonitoring operation (see `setEnhancedMonitoring`). */
export function enableEnhancedMonitoring(
  parts: MonitoringParts,
  request: streams.EnableEnhancedMonitoringRequest,
): Promise<streams.EnableEnhancedMonitoringResponse> {
  return monitoringCall(parts, request, true);
}

/** The DisableEnhancedMonitoring operation (see `setEnhancedMonitoring`). */
export function disableEnhancedMonitoring(
  parts: MonitoringParts,
  request: streams.DisableEnhancedMonitoringRequest,
): Promise<streams.DisableEnhancedMonitoringResponse> {
  return monitoringCall(parts, request, false);
}
