/**
 * Test support: three (or more) Brokers in one process on real temporary data directories,
 * connected by the InMemoryTransportHub, with kill/restart and condition waits with deadlines.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeId } from "raft-ts";
import { Broker, type BrokerOptions } from "../src/broker.js";
import { InMemoryTransportHub } from "../src/transport/memory-transport.js";
import type { GroupId } from "../src/transport/transport.js";

export type ClusterOptions = Partial<Omit<BrokerOptions, "nodeId" | "dataDir" | "transport">>;

/** Fast defaults for tests: 10 ms ticks (elections in 100–200 ms), no fsync (CPU-path tests). */
export const TEST_BROKER_OPTIONS: ClusterOptions = {
  tickIntervalMs: 10,
  electionTicks: 10,
  heartbeatTicks: 1,
  storage: { sync: false, segmentSizeBytes: 1024 * 1024 },
  leaderBalanceIntervalMs: 50,
  shutdownTransferTimeoutMs: 2_000,
};

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export class TestCluster {
  readonly hub = new InMemoryTransportHub();
  readonly root: string;
  readonly nodeIds: readonly NodeId[];
  private readonly brokers = new Map<NodeId, Broker>();
  private readonly options: ClusterOptions;

  private constructor(nodeIds: readonly NodeId[], options: ClusterOptions) {
    this.nodeIds = nodeIds;
    this.options = { ...TEST_BROKER_OPTIONS, ...options };
    this.root = mkdtempSync(join(tmpdir(), "sluice-broker-"));
  }

  static async start(
    options: ClusterOptions = {},
    nodeIds: readonly NodeId[] = [1, 2, 3],
  ): Promise<TestCluster> {
    const cluster = new TestCluster(nodeIds, options);
    for (const id of nodeIds) await cluster.open(id);
    return cluster;
  }

  dataDir(nodeId: NodeId): string {
    return join(this.root, `node-${nodeId}`);
  }

  broker(nodeId: NodeId): Broker {
    const broker = this.brokers.get(nodeId);
    if (broker === undefined) throw new Error(`node ${nodeId} is not running`);
    return broker;
  }

  running(): Broker[] {
    return [...this.brokers.values()];
  }

  async open(nodeId: NodeId, options: ClusterOptions = {}): Promise<Broker> {
    const transport = this.hub.transport(nodeId);
    const broker = await Broker.open({
      ...this.options,
      ...options,
      nodeId,
      dataDir: this.dataDir(nodeId),
      transport,
    });
    await transport.start();
    this.brokers.set(nodeId, broker);
    return broker;
  }

  /** Drops a node without a graceful shutdown: its links go Down, then it stops at once. */
  async kill(nodeId: NodeId): Promise<void> {
    const broker = this.broker(nodeId);
    this.brokers.delete(nodeId);
    await this.hub.transport(nodeId).close();
    await broker.close();
  }

  /** Graceful stop (leadership handed over first). */
  async shutdown(nodeId: NodeId): Promise<void> {
    const broker = this.broker(nodeId);
    await broker.shutdown();
    this.brokers.delete(nodeId);
    await this.hub.transport(nodeId).close();
  }

  async ensureGroups(groupIds: readonly GroupId[], voters: readonly NodeId[] = this.nodeIds): Promise<void> {
    await Promise.all(
      voters.flatMap((id) =>
        this.brokers.has(id) ? groupIds.map((g) => this.broker(id).ensureGroup(g, voters)) : [],
      ),
    );
  }

  /** The broker that leads `groupId`, if exactly one running broker says it does. */
  leaderOf(groupId: GroupId): Broker | undefined {
    const leaders = this.running().filter(
      (b) => b.groupIds().includes(groupId) && b.groupStatus(groupId).role === "leader",
    );
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  async waitForLeader(groupId: GroupId, timeoutMs = 10_000): Promise<Broker> {
    let leader: Broker | undefined;
    await waitFor(
      () => {
        leader = this.leaderOf(groupId);
        return leader !== undefined;
      },
      `a leader of group ${groupId}`,
      timeoutMs,
    );
    return leader as Broker;
  }

  async close(): Promise<void> {
    for (const id of [...this.brokers.keys()]) {
      const broker = this.brokers.get(id) as Broker;
      this.brokers.delete(id);
      await broker.close();
      await this.hub.transport(id).close();
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
