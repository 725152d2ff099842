/**
 * Test support: three Brokers on real temporary data directories, connected by the
 * InMemoryTransportHub, each with its MetadataStateMachine on group 0 and a MetadataService; an
 * in-process forwarder calls the target node's `handleForwarded`. Kill and restart by node id;
 * conditions are awaited with deadlines, never fixed sleeps.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Broker, InMemoryTransportHub } from "@sluice/broker";
import type { MetadataForwarder } from "../src/forwarding.js";
import { MetadataService } from "../src/service.js";
import type { NodeInfo } from "../src/state.js";
import { MetadataStateMachine } from "../src/state-machine.js";

/** Polls `condition` every 5 ms until it holds; fails naming `what` after `timeoutMs`. */
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

export interface TestNode {
  readonly nodeId: number;
  readonly broker: Broker;
  readonly stateMachine: MetadataStateMachine;
  readonly service: MetadataService;
}

const ZONES = ["a", "b", "c"];

export class MetadataCluster {
  readonly hub = new InMemoryTransportHub();
  readonly root = mkdtempSync(join(tmpdir(), "sluice-metadata-"));
  readonly members: readonly number[] = [1, 2, 3];
  private readonly nodes = new Map<number, TestNode>();
  readonly forwarder: MetadataForwarder = {
    propose: async (leader, command) => {
      const node = this.nodes.get(leader);
      if (node === undefined) throw new Error(`node ${leader} is down`);
      return node.service.handleForwarded(Buffer.from(command));
    },
  };

  static async start(): Promise<MetadataCluster> {
    const cluster = new MetadataCluster();
    await Promise.all(cluster.members.map((id) => cluster.open(id)));
    return cluster;
  }

  node(nodeId: number): TestNode {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new Error(`node ${nodeId} is not running`);
    return node;
  }

  running(): TestNode[] {
    return [...this.nodes.values()];
  }

  self(nodeId: number): NodeInfo {
    return {
      nodeId,
      zone: ZONES[(nodeId - 1) % ZONES.length] as string,
      peerAddress: `127.0.0.1:${7400 + nodeId}`,
      gatewayAddress: `127.0.0.1:${50050 + nodeId}`,
    };
  }

  async open(nodeId: number, serviceOptions: { proposeTimeoutMs?: number } = {}): Promise<TestNode> {
    const stateMachine = new MetadataStateMachine();
    const transport = this.hub.transport(nodeId);
    const broker = await Broker.open({
      nodeId,
      dataDir: join(this.root, `node-${nodeId}`),
      transport,
      tickIntervalMs: 20,
      electionTicks: 10,
      heartbeatTicks: 1,
      storage: { sync: false, segmentSizeBytes: 1024 * 1024 },
      leaderBalanceIntervalMs: 100,
      shutdownTransferTimeoutMs: 1_000,
      stateMachineFor: (groupId) => (groupId === 0 ? stateMachine : undefined),
    });
    await transport.start();
    const service = await MetadataService.start({
      broker,
      stateMachine,
      nodeId,
      self: this.self(nodeId),
      members: this.members,
      forwarder: this.forwarder,
      ...serviceOptions,
    });
    const node = { nodeId, broker, stateMachine, service };
    this.nodes.set(nodeId, node);
    return node;
  }

  /** Stops a node at once: its service, its links (Down), its broker. */
  async kill(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    this.nodes.delete(nodeId);
    await node.service.stop();
    await this.hub.transport(nodeId).close();
    await node.broker.close();
  }

  /** The node whose broker leads group 0, when exactly one running node says so. */
  metadataLeader(): TestNode | undefined {
    const leaders = this.running().filter((n) => n.broker.groupStatus(0).role === "leader");
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  async waitForMetadataLeader(): Promise<TestNode> {
    let leader: TestNode | undefined;
    await waitFor(() => {
      leader = this.metadataLeader();
      return leader !== undefined;
    }, "a leader of group 0");
    return leader as TestNode;
  }

  /** A running node that does not lead group 0. */
  async follower(): Promise<TestNode> {
    const leader = await this.waitForMetadataLeader();
    const follower = this.running().find((n) => n !== leader);
    if (follower === undefined) throw new Error("no follower is running");
    return follower;
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.kill(id);
    rmSync(this.root, { recursive: true, force: true });
  }
}
