/**
 * The campaign's network: one LinkProxy per ordered pair of nodes (link i → j), and the
 * partitions built from them. Node i's `--peers` list names itself by its real peer port and
 * every other node j by the port of proxy (i, j); its `--peer-listen` stays the real port.
 */
import { LinkProxy } from "./link-proxy.js";

export interface ProxyMeshOptions {
  readonly nodeIds: readonly number[];
  /** The real peer port of a node. */
  readonly peerPort: (nodeId: number) => number;
  /** First proxy port; the mesh uses n(n−1) consecutive ports from here. */
  readonly basePort: number;
}

export class ProxyMesh {
  readonly nodeIds: readonly number[];
  readonly #options: ProxyMeshOptions;
  readonly #links = new Map<string, LinkProxy>();

  constructor(options: ProxyMeshOptions) {
    this.nodeIds = options.nodeIds;
    this.#options = options;
    let port = options.basePort;
    for (const from of options.nodeIds) {
      for (const to of options.nodeIds) {
        if (from === to) continue;
        this.#links.set(
          `${from}>${to}`,
          new LinkProxy({ listenPort: port, targetPort: options.peerPort(to) }),
        );
        port += 1;
      }
    }
  }

  /** The link carrying node `from`'s connections to node `to`. */
  link(from: number, to: number): LinkProxy {
    const found = this.#links.get(`${from}>${to}`);
    if (found === undefined) throw new Error(`no link ${from} → ${to} in this mesh`);
    return found;
  }

  /** The `--peers` value of one node: itself directly, every other node through its link. */
  peersFlag(nodeId: number): string {
    return this.nodeIds
      .map((other) =>
        other === nodeId
          ? `${other}=127.0.0.1:${this.#options.peerPort(other)}`
          : `${other}=127.0.0.1:${this.link(nodeId, other).listenPort}`,
      )
      .join(",");
  }

  async start(): Promise<void> {
    const started: LinkProxy[] = [];
    try {
      for (const link of this.#links.values()) {
        await link.start();
        started.push(link);
      }
    } catch (error) {
      await Promise.all(started.map((link) => link.close()));
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#links.values()].map((link) => link.close()));
  }

  /** Every link back to `pass` without delay. */
  healAll(): void {
    for (const link of this.#links.values()) link.heal();
  }

  /** Cuts the links both ways between every node of `a` and every node of `b`. */
  partition(a: readonly number[], b: readonly number[], mode: "drop" | "blackhole"): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.link(x, y).setMode(mode);
        this.link(y, x).setMode(mode);
      }
    }
  }

  /** Cuts one node off from all others, both ways. */
  isolate(nodeId: number, mode: "drop" | "blackhole"): void {
    this.partition(
      [nodeId],
      this.nodeIds.filter((other) => other !== nodeId),
      mode,
    );
  }

  /** Cuts only the direction from → to (from cannot reach to; to still reaches from). */
  cutOneWay(from: number, to: number, mode: "drop" | "blackhole"): void {
    this.link(from, to).setMode(mode);
  }

  /**
   * A bridge: `bridge` still talks to everyone, but the two sides `left` and `right` cannot talk
   * to each other (Jepsen's bridge: a majority reachable through one node only).
   */
  bridge(
    bridgeNode: number,
    left: readonly number[],
    right: readonly number[],
    mode: "drop" | "blackhole",
  ): void {
    this.partition(
      left.filter((id) => id !== bridgeNode),
      right.filter((id) => id !== bridgeNode),
      mode,
    );
  }

  /** Adds `delayMs` to every link into and out of `nodeId`. */
  slowNode(nodeId: number, delayMs: number): void {
    for (const other of this.nodeIds) {
      if (other === nodeId) continue;
      this.link(nodeId, other).setDelayMs(delayMs);
      this.link(other, nodeId).setDelayMs(delayMs);
    }
  }
}
