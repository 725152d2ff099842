/**
 * Finds streams and shards in the metadata view for a request, and keeps one ShardRouter per
 * stream instance so that routing a record is a binary search over prepared bounds, not a parse
 * of decimal hash keys. The data path reads the local view (no round-trip); only when a stream
 * is not found there does it ask for a consistent view, so a stream created through another
 * node is visible here as soon as it exists anywhere.
 */
import type { MetadataService, MetadataView, ShardInfo, StreamInfo } from "@sluice/metadata";
import { ResourceInUseError, ResourceNotFoundError } from "../errors.js";
import { isListed, isRoutable } from "../lineage.js";
import { ShardRouter } from "../shard-router.js";

/** How a request names its stream: by name, by ARN, or both (then they must agree). */
export interface StreamRef {
  readonly streamName?: string | undefined;
  readonly streamArn?: string | undefined;
}

/** The routing state of one stream instance, rebuilt when its shard list changes. */
export interface StreamRoutes {
  readonly stream: StreamInfo;
  /** The open, non-pending shards, in hash-key order; `router.route(hash)` indexes this array. */
  readonly openShards: readonly ShardInfo[];
  readonly router: ShardRouter;
}

export class StreamLookup {
  private readonly metadata: MetadataService;
  private readonly routes = new Map<number, StreamRoutes>();

  constructor(metadata: MetadataService) {
    this.metadata = metadata;
  }

  /** The stream a request names, from the local view, else from a consistent view. */
  async stream(ref: StreamRef, options: { consistent?: boolean } = {}): Promise<StreamInfo> {
    if (options.consistent !== true) {
      const local = findStream(this.metadata.view(), ref);
      if (local !== undefined) return local;
    }
    const found = findStream(await this.metadata.consistentView(), ref);
    if (found === undefined) throw streamNotFound(ref);
    return found;
  }

  /** A stream that accepts records and reads: ACTIVE or UPDATING (Kinesis answers others as not found). */
  async writableStream(ref: StreamRef): Promise<StreamInfo> {
    const stream = await this.stream(ref);
    if (stream.status === "ACTIVE" || stream.status === "UPDATING") return stream;
    if (stream.status === "CREATING") {
      // A client that polls for ACTIVE may hit another node a moment before this one applies it.
      const fresh = await this.stream(ref, { consistent: true });
      if (fresh.status === "ACTIVE" || fresh.status === "UPDATING") return fresh;
    }
    throw new ResourceNotFoundError(
      `Stream ${stream.streamName} is ${stream.status}, not ACTIVE; wait until DescribeStreamSummary reports ACTIVE`,
    );
  }

  /** The stream instance with this id, if it still exists (iterators name streams by id). */
  streamById(streamId: number, streamName: string): StreamInfo | undefined {
    const stream = this.metadata.view().streams.get(streamName);
    return stream !== undefined && stream.streamId === streamId ? stream : undefined;
  }

  /** The routing state of a stream, cached per stream instance and shard list. */
  routesOf(stream: StreamInfo): StreamRoutes {
    const cached = this.routes.get(stream.streamId);
    if (cached !== undefined && cached.stream.shards === stream.shards) return cached;
    const openShards = stream.shards
      .filter(isRoutable)
      .sort((a, b) => compareDecimal(a.hashKeyStart, b.hashKeyStart));
    const router = new ShardRouter(openShards);
    const routes: StreamRoutes = { stream, openShards, router };
    if (this.routes.size > 4096) this.routes.clear();
    this.routes.set(stream.streamId, routes);
    return routes;
  }

  /**
   * A shard of the stream by id (ResourceNotFoundError when it has no such shard; a reshard's
   * pending child is not a shard yet).
   */
  shard(stream: StreamInfo, shardId: string): ShardInfo {
    const shard = stream.shards.find((candidate) => candidate.shardId === shardId && isListed(candidate));
    if (shard === undefined) {
      throw new ResourceNotFoundError(
        `Shard ${shardId} in stream ${stream.streamName} does not exist; ListShards returns the stream's shards`,
      );
    }
    return shard;
  }

  /** A registered consumer by ARN, with its stream; ResourceInUseError unless ACTIVE. */
  async activeConsumer(consumerArn: string): Promise<{ stream: StreamInfo; consumerName: string }> {
    const find = (view: MetadataView) => {
      for (const stream of view.streams.values()) {
        const consumer = stream.consumers.find((c) => c.consumerArn === consumerArn);
        if (consumer !== undefined) return { stream, consumer };
      }
      return undefined;
    };
    const found = find(this.metadata.view()) ?? find(await this.metadata.consistentView());
    if (found === undefined) {
      throw new ResourceNotFoundError(
        `Consumer ${consumerArn} is not registered; RegisterStreamConsumer creates it`,
      );
    }
    if (found.consumer.status !== "ACTIVE") {
      throw new ResourceInUseError(
        `Consumer ${found.consumer.consumerName} is ${found.consumer.status}, not ACTIVE; wait until DescribeStreamConsumer reports ACTIVE`,
      );
    }
    return { stream: found.stream, consumerName: found.consumer.consumerName };
  }
}

function findStream(view: MetadataView, ref: StreamRef): StreamInfo | undefined {
  if (ref.streamArn !== undefined && ref.streamArn !== "") {
    const byArn = view.streamByArn(ref.streamArn);
    if (byArn === undefined) return undefined;
    if (ref.streamName !== undefined && ref.streamName !== "" && ref.streamName !== byArn.streamName) {
      return undefined;
    }
    return byArn;
  }
  return ref.streamName === undefined ? undefined : view.streams.get(ref.streamName);
}

function streamNotFound(ref: StreamRef): ResourceNotFoundError {
  const what = ref.streamArn !== undefined && ref.streamArn !== "" ? ref.streamArn : ref.streamName;
  return new ResourceNotFoundError(
    `Stream ${what} does not exist; ListStreams shows the streams, CreateStream creates one`,
  );
}

/** Compares two canonical decimal strings (no leading zeros) numerically. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
