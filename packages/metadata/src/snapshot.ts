/**
 * The snapshot encoding of the metadata state: the whole state as canonical JSON (object keys
 * sorted, nodes by id, streams by name, tags by key, absent optional fields left out), so two
 * replicas with the same state produce byte-identical snapshots. Restore checks the version and
 * rebuilds the frozen state; a snapshot that does not decode is corruption or a bug, and throws.
 */
import { SNAPSHOT_FORMAT_VERSION } from "./constants.js";
import { decodeGroups, encodeGroups, type SnapshotGroup } from "./groups/snapshot.js";
import type { ConsumerInfo, MetadataState, NodeInfo, ShardInfo, StreamInfo } from "./state.js";

interface SnapshotStream extends Omit<StreamInfo, "tags"> {
  readonly tags: ReadonlyArray<readonly [string, string]>;
}

interface SnapshotBody {
  readonly version: number;
  readonly clusterSecretHex: string;
  readonly nextGroupId: number;
  readonly nextStreamId: number;
  readonly nodes: readonly NodeInfo[];
  readonly streams: readonly SnapshotStream[];
  /** Consumer groups by key; absent when there are none (and in snapshots made before groups). */
  readonly groups?: readonly SnapshotGroup[];
}

export function encodeSnapshot(state: MetadataState): Uint8Array {
  const body: SnapshotBody = {
    version: SNAPSHOT_FORMAT_VERSION,
    clusterSecretHex: state.clusterSecretHex,
    nextGroupId: state.nextGroupId,
    nextStreamId: state.nextStreamId,
    nodes: [...state.nodes.values()].sort((a, b) => a.nodeId - b.nodeId),
    streams: [...state.streams.values()]
      .sort((a, b) => compare(a.streamName, b.streamName))
      .map((stream) => ({ ...stream, tags: [...stream.tags].sort(([a], [b]) => compare(a, b)) })),
    ...encodeGroups(state),
  };
  return Buffer.from(canonicalJson(body), "utf8");
}

export function decodeSnapshot(data: Uint8Array): MetadataState {
  const body = JSON.parse(
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"),
  ) as SnapshotBody;
  if (body.version !== SNAPSHOT_FORMAT_VERSION) {
    throw new Error(`metadata snapshot version ${body.version} is not ${SNAPSHOT_FORMAT_VERSION}`);
  }
  const nodes = new Map<number, NodeInfo>();
  for (const node of body.nodes) nodes.set(node.nodeId, Object.freeze({ ...node }));
  const streams = new Map<string, StreamInfo>();
  for (const stream of body.streams) {
    streams.set(
      stream.streamName,
      Object.freeze({
        ...stream,
        tags: new Map(stream.tags),
        shards: Object.freeze(
          stream.shards.map((shard: ShardInfo) =>
            Object.freeze({
              ...shard,
              // Snapshots taken before resharding existed have no base: their shards start at 0.
              sequenceIndexBase: shard.sequenceIndexBase ?? 0,
              replicas: Object.freeze([...shard.replicas]),
            }),
          ),
        ),
        ...(stream.reshard === undefined
          ? {}
          : {
              reshard: Object.freeze({
                ...stream.reshard,
                parents: Object.freeze([...stream.reshard.parents]),
                children: Object.freeze([...stream.reshard.children]),
              }),
            }),
        ...(stream.reshardsAtMs === undefined
          ? {}
          : { reshardsAtMs: Object.freeze([...stream.reshardsAtMs]) }),
        ...(stream.shardLevelMetrics === undefined
          ? {}
          : { shardLevelMetrics: Object.freeze([...stream.shardLevelMetrics]) }),
        ...(stream.encryption === undefined ? {} : { encryption: Object.freeze({ ...stream.encryption }) }),
        ...(stream.dataKeys === undefined
          ? {}
          : { dataKeys: Object.freeze(stream.dataKeys.map((key) => Object.freeze({ ...key }))) }),
        consumers: Object.freeze(
          stream.consumers.map((c: ConsumerInfo) =>
            Object.freeze({
              ...c,
              ...(c.subscriptions === undefined
                ? {}
                : { subscriptions: Object.freeze(c.subscriptions.map((h) => Object.freeze({ ...h }))) }),
            }),
          ),
        ),
      }),
    );
  }
  return Object.freeze({
    clusterSecretHex: body.clusterSecretHex,
    nextGroupId: body.nextGroupId,
    nextStreamId: body.nextStreamId,
    nodes,
    streams,
    ...decodeGroups(body.groups),
  });
}

/** JSON with every object's keys in sorted order, undefined fields left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort(compare)) sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
