/**
 * The nemesis: injects one fault at a time into a running campaign cluster, each aimed at a
 * random node, at the leader of a random shard, or at the metadata leader, and heals it after a
 * random duration. Every fault is logged to the history (invoke when injected, ok when healed,
 * fail when injecting or healing failed) so the checker can measure unavailability per fault.
 *
 * Faults: `kill` (SIGKILL, restart), `pause` (SIGSTOP, SIGCONT), `isolate` (one node cut off both
 * ways), `leader-cut` (a shard leader cut from its followers), `one-way-out` / `one-way-in` (only
 * the leader's outgoing / incoming links cut), `bridge` (two nodes cut from each other, both still
 * reaching the third), `slow` (latency on every link of a node), `reshard` (UpdateShardCount,
 * half the time while a node is isolated or killed), `disk-full` (the small filesystem of one
 * node filled to the last few KiB, then emptied). Partitions drop or blackhole at random.
 */
import { closeSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { streams } from "@sluice/proto";
import type { TestCluster } from "../cluster.js";
import { listAllShards } from "../lineage-reader.js";
import { shardGroupIds } from "../read-shard.js";
import {
  FAULT_DISK_FULL_HEADROOM_BYTES,
  FAULT_DURATION_MS_MAX,
  FAULT_DURATION_MS_MIN,
  FAULT_RECOVER_TIMEOUT_MS,
  FAULT_SLOW_LINK_DELAY_MS_MAX,
  FAULT_SLOW_LINK_DELAY_MS_MIN,
} from "./constants.js";
import type { FaultDescription, History } from "./history.js";
import type { ProxyMesh } from "./network.js";
import type { SeededRandom } from "./random.js";
import { sleep } from "./workload.js";

export const FAULT_KINDS = [
  "kill",
  "pause",
  "isolate",
  "leader-cut",
  "one-way-out",
  "one-way-in",
  "bridge",
  "slow",
  "reshard",
  "disk-full",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface NemesisOptions {
  readonly cluster: TestCluster;
  readonly mesh: ProxyMesh;
  readonly history: History;
  readonly random: SeededRandom;
  readonly streamName: string;
  /** The kinds to draw from. @default every kind but disk-full, plus disk-full when smallDiskNode is set */
  readonly kinds?: readonly FaultKind[];
  /** The node whose data directory is a small filesystem (the disk-full fault's only target). */
  readonly smallDiskNode?: number;
  /** Largest shard count a reshard asks for. @default 4 */
  readonly maxShards?: number;
}

type Target = { readonly node: number; readonly how: string };

export class Nemesis {
  readonly #options: NemesisOptions;
  readonly kinds: readonly FaultKind[];
  /** Nodes the nemesis stopped on purpose (a crash watcher must not count them). */
  readonly downOnPurpose = new Set<number>();
  #nextId = 1;
  /** Faults injected, by kind. */
  readonly injected = new Map<FaultKind, number>();

  constructor(options: NemesisOptions) {
    this.#options = options;
    this.kinds =
      options.kinds ??
      FAULT_KINDS.filter((kind) => kind !== "disk-full" || options.smallDiskNode !== undefined);
    if (this.kinds.includes("disk-full") && options.smallDiskNode === undefined) {
      throw new Error(
        "Nemesis: the disk-full fault needs smallDiskNode (a node whose data is on a small filesystem)",
      );
    }
  }

  /** Injects one fault of a random kind, waits its duration, heals it. */
  async runOne(): Promise<void> {
    const { random } = this.#options;
    const kind = random.pick(this.kinds);
    await this.run(kind, random.int(FAULT_DURATION_MS_MIN, FAULT_DURATION_MS_MAX));
  }

  /** Injects one fault of `kind` for about `durationMs`, then heals it; never throws. */
  async run(kind: FaultKind, durationMs: number): Promise<void> {
    const { history } = this.#options;
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
    let fault: FaultDescription | undefined;
    try {
      const { description, heal } = await this.#inject(kind, durationMs);
      fault = description;
      history.log({ type: "invoke", f: "fault", fault });
      await sleep(durationMs);
      await heal();
      history.log({ type: "ok", f: "fault", fault });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const described = fault ?? { id: this.#nextId++, kind, nodes: [], detail: "not injected" };
      history.log({ type: "fail", f: "fault", fault: described, error: text.slice(0, 500) });
      await this.healAll().catch(() => {});
    }
  }

  /** Undoes every fault: links healed, paused nodes resumed, stopped nodes restarted, ballast removed. */
  async healAll(): Promise<void> {
    const { cluster, mesh } = this.#options;
    mesh.healAll();
    for (const nodeId of cluster.nodeIds) cluster.process(nodeId).signal("SIGCONT");
    this.#removeBallast();
    for (const nodeId of cluster.nodeIds) {
      if (!cluster.process(nodeId).running) {
        await cluster.restart(nodeId, FAULT_RECOVER_TIMEOUT_MS);
      }
      this.downOnPurpose.delete(nodeId);
    }
  }

  async #target(): Promise<Target> {
    const { cluster, random } = this.#options;
    const choice = random.int(0, 2);
    if (choice === 1) {
      const groups = await shardGroupIds(cluster);
      if (groups.length > 0) {
        const group = random.pick(groups);
        return { node: await cluster.leaderOf(group, 10_000), how: `leader of group ${group}` };
      }
    }
    if (choice === 2) return { node: await cluster.metadataLeader(10_000), how: "metadata leader" };
    return { node: random.pick(cluster.nodeIds), how: "random node" };
  }

  async #leaderTarget(): Promise<Target> {
    const { cluster, random } = this.#options;
    const groups = await shardGroupIds(cluster);
    if (groups.length === 0 || random.chance(0.25)) {
      return { node: await cluster.metadataLeader(10_000), how: "metadata leader" };
    }
    const group = random.pick(groups);
    return { node: await cluster.leaderOf(group, 10_000), how: `leader of group ${group}` };
  }

  async #inject(
    kind: FaultKind,
    durationMs: number,
  ): Promise<{ description: FaultDescription; heal: () => Promise<void> }> {
    const { cluster, mesh, random } = this.#options;
    const id = this.#nextId++;
    const describe = (nodes: readonly number[], detail: string): FaultDescription => ({
      id,
      kind,
      nodes,
      detail,
    });
    const others = (node: number): number[] => cluster.nodeIds.filter((other) => other !== node);
    const partitionMode = (): "drop" | "blackhole" => (random.chance(0.5) ? "drop" : "blackhole");
    switch (kind) {
      case "kill": {
        const target = await this.#target();
        this.downOnPurpose.add(target.node);
        await cluster.kill(target.node, "SIGKILL");
        return {
          description: describe([target.node], `SIGKILL ${target.how}`),
          heal: async () => {
            await cluster.restart(target.node, FAULT_RECOVER_TIMEOUT_MS);
            this.downOnPurpose.delete(target.node);
          },
        };
      }
      case "pause": {
        const target = await this.#target();
        cluster.pause(target.node);
        return {
          description: describe([target.node], `SIGSTOP ${target.how}`),
          heal: async () => cluster.resume(target.node),
        };
      }
      case "isolate": {
        const target = await this.#target();
        const mode = partitionMode();
        mesh.isolate(target.node, mode);
        return {
          description: describe([target.node], `${mode} all links of ${target.how}`),
          heal: async () => mesh.healAll(),
        };
      }
      case "leader-cut": {
        const target = await this.#leaderTarget();
        const mode = partitionMode();
        mesh.partition([target.node], others(target.node), mode);
        return {
          description: describe([target.node], `${mode} ${target.how} ↔ its followers`),
          heal: async () => mesh.healAll(),
        };
      }
      case "one-way-out":
      case "one-way-in": {
        const target = await this.#leaderTarget();
        const mode = partitionMode();
        for (const other of others(target.node)) {
          if (kind === "one-way-out") mesh.cutOneWay(target.node, other, mode);
          else mesh.cutOneWay(other, target.node, mode);
        }
        return {
          description: describe(
            [target.node],
            `${mode} ${kind === "one-way-out" ? "outgoing" : "incoming"} links of ${target.how}`,
          ),
          heal: async () => mesh.healAll(),
        };
      }
      case "bridge": {
        const target = await this.#target();
        const [left, right] = others(target.node);
        const mode = partitionMode();
        mesh.bridge(target.node, [left ?? 0], [right ?? 0], mode);
        return {
          description: describe([target.node], `${mode} ${left} ↮ ${right}, bridged by ${target.how}`),
          heal: async () => mesh.healAll(),
        };
      }
      case "slow": {
        const target = await this.#target();
        const delayMs = random.int(FAULT_SLOW_LINK_DELAY_MS_MIN, FAULT_SLOW_LINK_DELAY_MS_MAX);
        mesh.slowNode(target.node, delayMs);
        return {
          description: describe([target.node], `+${delayMs} ms on every link of ${target.how}`),
          heal: async () => mesh.healAll(),
        };
      }
      case "reshard":
        return this.#reshard(describe, durationMs);
      case "disk-full": {
        const node = this.#options.smallDiskNode as number;
        const filled = this.#fillDisk(node);
        return {
          description: describe([node], `data filesystem of node ${node} filled (${filled} MiB ballast)`),
          heal: async () => this.#removeBallast(),
        };
      }
    }
  }

  async #reshard(
    describe: (nodes: readonly number[], detail: string) => FaultDescription,
    durationMs: number,
  ): Promise<{ description: FaultDescription; heal: () => Promise<void> }> {
    const { cluster, mesh, random, streamName } = this.#options;
    const maxShards = this.#options.maxShards ?? 4;
    const via = random.pick(cluster.runningNodeIds());
    const client = cluster.streams(via);
    const open = (await listAllShards(client, streamName)).filter(
      (shard) => (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "",
    ).length;
    const choices = Array.from({ length: maxShards }, (_, i) => i + 1).filter(
      (count) => count !== open && count <= open * 2 && count * 2 >= open,
    );
    const targetShardCount = random.pick(choices.length > 0 ? choices : [open]);
    // Half the time the reshard runs while another node is isolated or killed.
    let alongside = "";
    let healAlongside = async (): Promise<void> => {};
    const others = cluster.nodeIds.filter((node) => node !== via);
    if (random.chance(0.5)) {
      const victim = random.pick(others);
      if (random.chance(0.5)) {
        mesh.isolate(victim, "drop");
        alongside = `, node ${victim} isolated`;
        healAlongside = async () => mesh.healAll();
      } else {
        this.downOnPurpose.add(victim);
        await cluster.kill(victim, "SIGKILL");
        alongside = `, node ${victim} killed`;
        healAlongside = async () => {
          await cluster.restart(victim, FAULT_RECOVER_TIMEOUT_MS);
          this.downOnPurpose.delete(victim);
        };
      }
    }
    const request = client
      .updateShardCount(
        {
          streamName,
          targetShardCount,
          scalingType: streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING,
        },
        durationMs,
      )
      .then(
        () => "accepted",
        (error: unknown) =>
          `refused: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`,
      );
    return {
      description: describe(
        [via],
        `UpdateShardCount ${open} → ${targetShardCount} through node ${via}${alongside}`,
      ),
      heal: async () => {
        const outcome = await request;
        await healAlongside();
        this.#options.history.log({
          type: "info",
          f: "note",
          text: `reshard ${open} → ${targetShardCount}: ${outcome}`,
        });
        await client.waitStreamStatus(
          streamName,
          streams.StreamStatus.STREAM_STATUS_ACTIVE,
          FAULT_RECOVER_TIMEOUT_MS,
        );
      },
    };
  }

  #ballastPath(node: number): string {
    return join(this.#options.cluster.nodeDataDir(node), "..", `node-${node}-disk`, "ballast");
  }

  /** Fills the node's small filesystem up to the headroom; returns the ballast size in MiB. */
  #fillDisk(node: number): number {
    const path = this.#ballastPath(node);
    const stats = statfsSync(join(path, ".."));
    let remaining = stats.bavail * stats.bsize - FAULT_DISK_FULL_HEADROOM_BYTES;
    const chunk = Buffer.alloc(1_048_576, 0x5a);
    const fd = openSync(path, "w");
    let written = 0;
    try {
      while (remaining > 0) {
        const length = Math.min(chunk.length, remaining);
        try {
          written += writeSync(fd, chunk, 0, length);
        } catch {
          break;
        }
        remaining -= length;
      }
    } finally {
      closeSync(fd);
    }
    return Math.round(written / 1_048_576);
  }

  #removeBallast(): void {
    const node = this.#options.smallDiskNode;
    if (node !== undefined) rmSync(this.#ballastPath(node), { force: true });
  }
}
