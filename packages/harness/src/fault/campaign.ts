/**
 * The fault-injection campaign: a real three-node cluster whose peer links all go through
 * runner-controlled proxies, the workload and a live reader, the nemesis injecting one fault
 * after another for `durationMs`, then a healed, settled cluster whose stream is read in full and
 * whose replicas are compared; the checker's verdict and the report come back. Used by the CI
 * test (packages/harness/test/fault-campaign.test.ts) and by hand (scripts/fault-campaign).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { streams } from "@sluice/proto";
import { nodePorts, startCluster, type TestCluster } from "../cluster.js";
import { PORTS_PER_NODE } from "../constants.js";
import { readStreamByLineage } from "../lineage-reader.js";
import { shardGroupIds } from "../read-shard.js";
import { waitFor } from "../wait-for.js";
import { type CheckResult, checkHistory, type FinalShardRead, type ReplicaComparison } from "./checker.js";
import {
  FAULT_CLUSTER_NODES,
  FAULT_CONVERGE_TIMEOUT_MS,
  FAULT_KEYS_DEFAULT,
  FAULT_PRODUCERS_DEFAULT,
  FAULT_PROXY_PORTS_PER_CLUSTER,
  FAULT_QUIET_MS_MAX,
  FAULT_QUIET_MS_MIN,
  FAULT_RECORDS_PER_SECOND_DEFAULT,
  FAULT_SETTLE_MS,
  FAULT_SMALL_DISK_BYTES,
  FAULT_STREAM_SHARDS_INITIAL,
} from "./constants.js";
import { History, type HistoryEvent } from "./history.js";
import { type FaultKind, Nemesis } from "./nemesis.js";
import { ProxyMesh } from "./network.js";
import { SeededRandom } from "./random.js";
import { formatReport } from "./report.js";
import { LiveReader, sleep, Workload } from "./workload.js";

/** Ports a campaign uses from its base: the nodes', then one proxy per ordered pair of nodes. */
export const CAMPAIGN_PORTS = FAULT_CLUSTER_NODES * PORTS_PER_NODE + FAULT_PROXY_PORTS_PER_CLUSTER;

export interface CampaignOptions {
  readonly seed: number;
  /** How long the nemesis injects faults (the load runs a little longer: setup, settle). */
  readonly durationMs: number;
  /** First of CAMPAIGN_PORTS consecutive ports. */
  readonly basePort: number;
  /** @default FAULT_PRODUCERS_DEFAULT */
  readonly producers?: number;
  /** @default FAULT_KEYS_DEFAULT */
  readonly keys?: number;
  /** @default FAULT_RECORDS_PER_SECOND_DEFAULT */
  readonly recordsPerSecond?: number;
  /** Fault kinds to draw from; @default all (disk-full only with smallDisk). */
  readonly kinds?: readonly FaultKind[];
  /** Put node 3's data on a small tmpfs (needs root) and enable the disk-full fault. @default false */
  readonly smallDisk?: boolean;
  /** Where the history (JSON lines) goes; @default none (kept in memory only). */
  readonly historyFile?: string;
  /** Keep the cluster's data folder (and node logs) afterwards. @default false */
  readonly keepData?: boolean;
  /** Write through the idempotent producer (a duplicate then fails the check); see WorkloadOptions.idempotent. @default false */
  readonly idempotent?: boolean;
  /** How the campaign can be run again, for the report. */
  readonly command?: string;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

export interface CampaignResult {
  readonly seed: number;
  readonly check: CheckResult;
  readonly report: string;
  readonly dataDir: string;
  readonly injected: ReadonlyMap<string, number>;
}

const STREAM_NAME = "fault-campaign";
const SMALL_DISK_NODE = FAULT_CLUSTER_NODES;

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? (() => {});
  const random = new SeededRandom(options.seed);
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-fault-"));
  const nodeIds = Array.from({ length: FAULT_CLUSTER_NODES }, (_, i) => i + 1);
  const smallDiskMount = join(dataDir, `node-${SMALL_DISK_NODE}-disk`);
  if (options.smallDisk === true) {
    mkdirSync(join(smallDiskMount), { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${FAULT_SMALL_DISK_BYTES}`, "tmpfs", smallDiskMount]);
    mkdirSync(join(smallDiskMount, "data"));
    symlinkSync(join(smallDiskMount, "data"), join(dataDir, `node-${SMALL_DISK_NODE}`));
  }
  const mesh = new ProxyMesh({
    nodeIds,
    peerPort: (nodeId) => nodePorts(options.basePort, nodeId).peer,
    basePort: options.basePort + FAULT_CLUSTER_NODES * PORTS_PER_NODE,
  });
  const history = new History(options.historyFile);
  let cluster: TestCluster | undefined;
  try {
    await mesh.start();
    cluster = await startCluster({
      basePort: options.basePort,
      dataDir,
      keepData: true,
      nodeExtraArgs: (nodeId) => [`--peers=${mesh.peersFlag(nodeId)}`],
    });
    log(
      `cluster up in ${dataDir}; peers through proxies on ports ${options.basePort + FAULT_CLUSTER_NODES * PORTS_PER_NODE}…`,
    );
    const running = cluster;
    // PROVISIONED (UpdateShardCount is refused in ON_DEMAND mode); the workload's rate stays far
    // below a shard's 1,000 records/s.
    await running.streams(1).createActiveStream({
      streamName: STREAM_NAME,
      shardCount: FAULT_STREAM_SHARDS_INITIAL,
    });
    for (const nodeId of nodeIds) {
      await running
        .streams(nodeId)
        .waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE, 30_000);
    }
    const clients = nodeIds.map((nodeId) => running.streams(nodeId));
    const workload = new Workload({
      streamName: STREAM_NAME,
      clients,
      history,
      random: random.fork(),
      producers: options.producers ?? FAULT_PRODUCERS_DEFAULT,
      keys: options.keys ?? FAULT_KEYS_DEFAULT,
      recordsPerSecond: options.recordsPerSecond ?? FAULT_RECORDS_PER_SECOND_DEFAULT,
      ...(options.idempotent === undefined ? {} : { idempotent: options.idempotent }),
    });
    const reader = new LiveReader({ streamName: STREAM_NAME, clients, history });
    const nemesis = new Nemesis({
      cluster: running,
      mesh,
      history,
      random: random.fork(),
      streamName: STREAM_NAME,
      ...(options.kinds === undefined ? {} : { kinds: options.kinds }),
      ...(options.smallDisk === true ? { smallDiskNode: SMALL_DISK_NODE } : {}),
    });
    const crashes: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const nodeId of nodeIds) {
          const node = running.process(nodeId);
          if (node.running || nemesis.downOnPurpose.has(nodeId) || !watching) continue;
          const exit = node.lastExit;
          crashes.push(
            `node ${nodeId} exited by itself at ${history.now()} ms (${exit?.signal ?? `status ${exit?.code}`}). ${node.logTail()}`,
          );
          log(`CRASH: node ${nodeId} exited by itself; restarting it`);
          await running.restart(nodeId).catch(() => {});
        }
        await sleep(250);
      }
    })();

    workload.start();
    reader.start();
    const faultsEndAt = Date.now() + options.durationMs;
    let lastNote: HistoryEvent | undefined;
    while (Date.now() < faultsEndAt) {
      await sleep(random.int(FAULT_QUIET_MS_MIN, FAULT_QUIET_MS_MAX));
      if (Date.now() >= faultsEndAt) break;
      await nemesis.runOne();
      const note = history.events.findLast((event) => event.f === "note");
      if (note?.f === "note" && note !== lastNote) {
        lastNote = note;
        log(note.text);
      }
      const last = history.events.findLast((event) => event.f === "fault");
      if (last?.f === "fault")
        log(
          `${last.type === "ok" ? "healed" : last.type}: ${last.fault.kind} — ${last.fault.detail}${last.error === undefined ? "" : ` (${last.error})`}`,
        );
    }
    await nemesis.healAll();
    log(`faults over; load runs ${FAULT_SETTLE_MS} ms more on the healed cluster`);
    await sleep(FAULT_SETTLE_MS);
    await workload.stop();
    await reader.stop();
    watching = false;
    await watcher;

    const replicas = await compareReplicas(running, log);
    const lineage = await readStreamByLineage(running.streams(1), STREAM_NAME, { timeoutMs: 120_000 });
    const finalRead: FinalShardRead[] = lineage.map((shard) => ({
      shardId: shard.shard.shardId,
      records: shard.records,
    }));
    const check = checkHistory({
      events: history.events,
      finalRead,
      replicas,
      crashes,
      duplicatesAllowed: options.idempotent !== true,
    });
    const faultErrors = new Map<string, number>();
    for (const event of history.events) {
      if (event.f === "fault" && event.type === "fail") {
        faultErrors.set(event.fault.kind, (faultErrors.get(event.fault.kind) ?? 0) + 1);
      }
    }
    const report = formatReport({
      seed: options.seed,
      durationMs: options.durationMs,
      command:
        options.command ??
        `./scripts/fault-campaign --seed ${options.seed} --duration ${Math.round(options.durationMs / 1_000)}s`,
      check,
      faultErrors,
    });
    return { seed: options.seed, check, report, dataDir, injected: nemesis.injected };
  } finally {
    history.close();
    await cluster?.stop().catch(() => {});
    await mesh.close();
    if (options.smallDisk === true) {
      try {
        execFileSync("umount", ["-l", smallDiskMount]);
      } catch {
        // Already unmounted.
      }
    }
    if (options.keepData !== true) rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Waits until every shard group has one commit index on every replica that hosts it (or the
 * deadline passes), then asks each replica for the checksum of its committed log up to the
 * lowest commit index. A group hosted by fewer than two nodes has nothing to compare.
 */
async function compareReplicas(
  cluster: TestCluster,
  log: (line: string) => void,
): Promise<ReplicaComparison[]> {
  const groups = await shardGroupIds(cluster);
  const comparisons: ReplicaComparison[] = [];
  // One deadline for all groups, so a campaign with many groups still ends in bounded time.
  const deadline = Date.now() + FAULT_CONVERGE_TIMEOUT_MS;
  for (const groupId of groups) {
    const commitIndexes = async (): Promise<Map<number, number>> => {
      const found = new Map<number, number>();
      for (const nodeId of cluster.nodeIds) {
        const status = await cluster
          .admin(nodeId)
          .groupStatus(groupId, 2_000)
          .catch(() => undefined);
        if (status !== undefined) found.set(nodeId, Number(status.commitIndex));
      }
      return found;
    };
    const hosts = await commitIndexes();
    if (hosts.size < 2) {
      log(`group ${groupId}: hosted by ${hosts.size} node(s) only; not compared`);
      continue;
    }
    const indexes = await waitFor(
      async () => {
        const found = await commitIndexes();
        return found.size === hosts.size && new Set(found.values()).size === 1 ? found : undefined;
      },
      {
        timeoutMs: Math.max(1_000, deadline - Date.now()),
        what: `group ${groupId} to have one commit index on every replica`,
        intervalMs: 200,
      },
    ).catch(async () => {
      const found = await commitIndexes();
      log(
        `group ${groupId}: replicas did not converge: commit indexes ${[...found].map(([n, i]) => `node ${n} ${i}`).join(", ")}`,
      );
      return found;
    });
    const upToIndex = Math.min(...indexes.values());
    if (upToIndex === 0) continue;
    // LogChecksum covers a replica's log from its own first index; a replica that caught up from
    // a snapshot starts later, so replicas with different first indexes are compared by their
    // committed records from the earliest first index instead: entries without records (no-ops,
    // membership, a seal) may be missing on some replica, records may not — within a campaign no
    // record is older than the retention, so a replica short of one diverged for its readers.
    const firstIndexes = new Map<number, number>();
    for (const nodeId of indexes.keys()) {
      const status = await cluster.admin(nodeId).groupStatus(groupId, 2_000);
      firstIndexes.set(nodeId, Number(status.firstIndex));
    }
    const checksums = new Map<number, string>();
    if (new Set(firstIndexes.values()).size === 1) {
      for (const nodeId of indexes.keys()) {
        const response = await cluster.admin(nodeId).logChecksum(groupId, upToIndex);
        checksums.set(nodeId, response.checksum);
      }
    } else {
      const from = Math.min(...firstIndexes.values());
      log(
        `group ${groupId}: replicas start at different log indexes (${[...firstIndexes].map(([n, i]) => `node ${n} ${i}`).join(", ")}); comparing committed records ${from}…${upToIndex}`,
      );
      for (const nodeId of indexes.keys()) {
        checksums.set(nodeId, await recordsChecksum(cluster, nodeId, groupId, from, upToIndex));
      }
    }
    comparisons.push({ groupId, upToIndex, checksums });
  }
  return comparisons;
}

/** SHA-256 over the committed records (index, offset, arrival, key, data) of `from`…`upToIndex` on one replica. */
async function recordsChecksum(
  cluster: TestCluster,
  nodeId: number,
  groupId: number,
  from: number,
  upToIndex: number,
): Promise<string> {
  const hash = createHash("sha256");
  for (const record of await cluster.admin(nodeId).readAll(groupId, from)) {
    if (record.index > upToIndex) break;
    hash.update(`${record.index}/${record.offset}/${record.arrivalTimestampMs}/${record.partitionKey}/`);
    hash.update(record.data);
  }
  return hash.digest("hex");
}
