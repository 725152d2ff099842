/**
 * NATS JetStream, the closest replicated peer that runs here: three `nats-server` processes
 * (Debian's package) clustered on loopback, one stream with 3 replicas on file storage, driven by
 * the official client (@nats-io/jetstream over @nats-io/transport-node), one connection per server.
 *
 * How the Kinesis workload maps onto it (docs/benchmarks.md says the same):
 * - a stream of N shards = one JetStream stream with subjects `<stream>.0` … `<stream>.<N-1>`;
 *   a record's partition key picks its subject as Kinesis picks a shard: the top 32 bits of the
 *   key's MD5 over N equal ranges (computed in the client: JetStream has no partition keys);
 * - PutRecords of n records = n `js.publish` calls awaited together (this JetStream has no batch
 *   publish); PutRecord = one awaited publish (acknowledged once the stream's quorum stored it);
 * - a consumer per shard = an ordered consumer filtered on the shard's subject, new messages only
 *   (a pull consumer that long-polls: records are pushed as they commit, like SubscribeToShard);
 *   JetStream has nothing like polling GetRecords, so that mode is not offered.
 * - durability: by default JetStream syncs its files every 2 minutes (`sync_interval`), not before
 *   acknowledging; the `jetstream-sync` target runs the same cluster with `sync_interval: always`
 *   (every write synced before the acknowledgement), which is what Sluice does.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { waitFor } from "@sluice/harness";
import {
  CALL_TIMEOUT_MS,
  JETSTREAM_CLIENT_PORT_FIRST,
  JETSTREAM_REPLICAS,
  JETSTREAM_ROUTE_PORT_FIRST,
  JETSTREAM_SERVERS,
  SERVER_START_TIMEOUT_MS,
} from "./constants.ts";
import { ServerProcess, waitWhileRunning } from "./server-process.ts";
import type {
  BenchDriver,
  BenchRecord,
  BenchTarget,
  ConsumeMode,
  Consumption,
  RecordHandler,
} from "./target.ts";
import { nowMs } from "./target.ts";

/** The Debian package's binary; override with NATS_SERVER=/path/to/nats-server. */
const NATS_SERVER_COMMAND_DEFAULT = "nats-server";

export interface JetStreamTargetOptions {
  /** `sync_interval: always`: every write synced to disk before it is acknowledged. */
  readonly syncAlways: boolean;
}

function serverConfig(index: number, storeDir: string, syncAlways: boolean): string {
  const routes = Array.from(
    { length: JETSTREAM_SERVERS },
    (_, other) => `nats-route://127.0.0.1:${JETSTREAM_ROUTE_PORT_FIRST + other}`,
  ).filter((_, other) => other !== index);
  return [
    `server_name: bench-${index + 1}`,
    "host: 127.0.0.1",
    `port: ${JETSTREAM_CLIENT_PORT_FIRST + index}`,
    "jetstream {",
    `  store_dir: ${JSON.stringify(storeDir)}`,
    ...(syncAlways ? ["  sync_interval: always"] : []),
    "}",
    "cluster {",
    "  name: bench",
    `  listen: 127.0.0.1:${JETSTREAM_ROUTE_PORT_FIRST + index}`,
    `  routes: [${routes.join(", ")}]`,
    "}",
    "",
  ].join("\n");
}

/** Starts the three servers, waits until JetStream has a meta leader, and connects to each server. */
export async function startJetStream(options: JetStreamTargetOptions): Promise<BenchTarget> {
  const directory = mkdtempSync(join(tmpdir(), "sluice-bench-nats-"));
  // Removed by stop(), or as the bench exits if it is interrupted (the servers are killed first).
  const removeDirectory = () => rmSync(directory, { recursive: true, force: true });
  process.once("exit", removeDirectory);
  const command = process.env.NATS_SERVER ?? NATS_SERVER_COMMAND_DEFAULT;
  const servers = Array.from({ length: JETSTREAM_SERVERS }, (_, index) => {
    const config = join(directory, `server-${index + 1}.conf`);
    writeFileSync(config, serverConfig(index, join(directory, `store-${index + 1}`), options.syncAlways));
    return new ServerProcess(`nats-server ${index + 1}`, command, ["-c", config]);
  });
  const connections: NatsConnection[] = [];
  const stop = async () => {
    await Promise.all(connections.map((connection) => connection.close().catch(() => {})));
    await Promise.all(servers.map((server) => server.stop()));
    process.off("exit", removeDirectory);
    removeDirectory();
  };
  try {
    for (let index = 0; index < JETSTREAM_SERVERS; index += 1) {
      connections.push(
        await waitWhileRunning(
          servers,
          async () => {
            return connect({ servers: `127.0.0.1:${JETSTREAM_CLIENT_PORT_FIRST + index}`, timeout: 2_000 });
          },
          {
            timeoutMs: SERVER_START_TIMEOUT_MS,
            what: `nats-server ${index + 1} to accept connections`,
            intervalMs: 100,
          },
        ),
      );
    }
    const manager = await jetstreamManager(connections[0] as NatsConnection, { checkAPI: false });
    await waitWhileRunning(
      servers,
      async () => {
        return (await manager.getAccountInfo()) !== undefined;
      },
      {
        timeoutMs: SERVER_START_TIMEOUT_MS,
        what: "the JetStream cluster to elect a meta leader",
        intervalMs: 200,
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const driver = new JetStreamDriver(connections);
  return {
    name: options.syncAlways ? "jetstream-sync" : "jetstream",
    description: `NATS JetStream, ${JETSTREAM_SERVERS} servers, R${JETSTREAM_REPLICAS}, file storage`,
    durability: options.syncAlways
      ? `quorum of ${JETSTREAM_REPLICAS}, sync_interval: always (fsync before ack)`
      : `quorum of ${JETSTREAM_REPLICAS} in page cache, fsync every 2 min (default sync_interval)`,
    driver,
    pids: () => servers.map((server) => server.pid),
    stop,
  };
}

/** The shard (subject suffix) of a partition key: the top 32 bits of its MD5 over `shards` equal ranges. */
export function shardOfKey(partitionKey: string, shards: number): number {
  const top = createHash("md5").update(partitionKey).digest().readUInt32BE(0);
  return Math.floor((top * shards) / 0x1_0000_0000);
}

class JetStreamDriver implements BenchDriver {
  readonly consumeModes: readonly ConsumeMode[] = ["subscribe"];
  readonly #connections: readonly NatsConnection[];
  readonly #clients: readonly JetStreamClient[];
  readonly #shards = new Map<string, number>();

  constructor(connections: readonly NatsConnection[]) {
    this.#connections = connections;
    this.#clients = connections.map((connection) => jetstream(connection, { timeout: CALL_TIMEOUT_MS }));
  }

  #client(caller: number): JetStreamClient {
    return this.#clients[caller % this.#clients.length] as JetStreamClient;
  }

  #subject(streamName: string, partitionKey: string): string {
    return `${streamName}.${shardOfKey(partitionKey, this.#shards.get(streamName) ?? 1)}`;
  }

  async createStream(streamName: string, shardCount: number): Promise<void> {
    const manager = await jetstreamManager(this.#connections[0] as NatsConnection);
    await manager.streams.add({
      name: streamName,
      subjects: [`${streamName}.*`],
      num_replicas: JETSTREAM_REPLICAS,
      storage: StorageType.File,
    });
    this.#shards.set(streamName, shardCount);
    // Writable once the stream's own Raft group has a leader: a publish is acknowledged.
    await waitFor(
      async () => (await this.#client(0).publish(`${streamName}.0`, new Uint8Array(0))) !== undefined,
      { timeoutMs: SERVER_START_TIMEOUT_MS, what: `stream ${streamName} to take writes`, intervalMs: 100 },
    );
  }

  async putRecords(streamName: string, records: readonly BenchRecord[], caller: number): Promise<number> {
    const client = this.#client(caller);
    const settled = await Promise.allSettled(
      records.map((record) => client.publish(this.#subject(streamName, record.partitionKey), record.data)),
    );
    let failed = 0;
    for (const outcome of settled) if (outcome.status === "rejected") failed += 1;
    if (failed === records.length && settled[0]?.status === "rejected") throw settled[0].reason;
    return failed;
  }

  async putRecord(streamName: string, record: BenchRecord, caller: number): Promise<void> {
    await this.#client(caller).publish(this.#subject(streamName, record.partitionKey), record.data);
  }

  async consume(streamName: string, mode: ConsumeMode, onRecord: RecordHandler): Promise<Consumption> {
    if (mode !== "subscribe") throw new Error(`JetStream has no ${mode} consumer here`);
    const shards = this.#shards.get(streamName) ?? 1;
    const subscriptions: ConsumerMessages[] = [];
    for (let shard = 0; shard < shards; shard += 1) {
      const consumer = await this.#client(shard).consumers.get(streamName, {
        // One subject as a string: servers before 2.10 (Debian's 2.9) take no list of filters.
        filter_subjects: `${streamName}.${shard}`,
        deliver_policy: DeliverPolicy.New,
      });
      subscriptions.push(await consumer.consume());
    }
    const loops = subscriptions.map(async (messages) => {
      for await (const message of messages) onRecord(message.data, nowMs());
    });
    return {
      errors: () => 0,
      close: async () => {
        for (const messages of subscriptions) messages.stop();
        await Promise.allSettled(loops);
      },
    };
  }

  async close(): Promise<void> {
    // The connections are closed by the target's stop().
  }
}
