/**
 * Telling a real divergence from a comparison artefact on a cluster (a campaign's kept data,
 * restarted): for each shard group, every replica's first index, its `LogChecksum` from its own
 * first index (what the checker compared before commit f0196c8) and its committed records, read
 * with the admin Read. Records are the ground truth: two replicas diverge when they hold
 * different records at one (index, offset); a replica whose log starts later than another's is
 * only "short" when the entries it lacks held records (a reader from TRIM_HORIZON there misses
 * them), and merely "starts later" when they held none (no-op, membership or seal entries).
 */
import { createHash } from "node:crypto";
import type { TestCluster } from "../cluster.js";
import { shardGroupIds } from "../read-shard.js";
import { waitFor } from "../wait-for.js";

/** What one replica of a group holds, up to the group's compared index. */
export interface ReplicaSnapshot {
  readonly nodeId: number;
  readonly firstIndex: number;
  readonly commitIndex: number;
  /** The admin LogChecksum from this replica's own first index to `upToIndex`. */
  readonly logChecksum: string;
  /** SHA-256 of the records at or after the group's latest first index, to `upToIndex`. */
  readonly commonRecordsChecksum: string;
  /** Records this replica holds before the group's latest first index. */
  readonly recordsBeforeLatestFirst: number;
  /** SHA-256 of those records ("" when there are none). */
  readonly beforeLatestFirstChecksum: string;
  readonly records: number;
}

/**
 * The verdict on one group:
 * - `identical` — same first index, same LogChecksum;
 * - `starts-later` — first indexes differ (so LogChecksums differ, the old checker's false
 *   alarm) but the same records from the latest first index, and no replica holds a record
 *   before it;
 * - `short` — same records where all replicas have entries, but some replica lacks records that
 *   others hold before its first index (records compacted away on it, or never sent);
 * - `diverged` — two replicas hold different records at the same place.
 */
export type ReplicaVerdict = "identical" | "starts-later" | "short" | "diverged";

export interface GroupDiff {
  readonly groupId: number;
  /** The lowest commit index of the replicas: everything up to it is compared. */
  readonly upToIndex: number;
  /** False when the replicas did not reach one commit index before the deadline. */
  readonly converged: boolean;
  readonly replicas: readonly ReplicaSnapshot[];
  readonly verdict: ReplicaVerdict;
}

export interface DiffOptions {
  /** Only these groups (default: every shard group a running node hosts). */
  readonly groupIds?: readonly number[];
  /** How long all groups together may take to reach one commit index on every replica, in ms. */
  readonly convergeTimeoutMs: number;
}

/** Compares every shard group's replicas on a running cluster; groups hosted by one node are skipped. */
export async function diffReplicas(cluster: TestCluster, options: DiffOptions): Promise<GroupDiff[]> {
  const groups = options.groupIds ?? (await shardGroupIds(cluster));
  const deadline = Date.now() + options.convergeTimeoutMs;
  const diffs: GroupDiff[] = [];
  for (const groupId of groups) {
    const statuses = async () => {
      const found = new Map<number, { firstIndex: number; commitIndex: number }>();
      for (const nodeId of cluster.runningNodeIds()) {
        const status = await cluster
          .admin(nodeId)
          .groupStatus(groupId, 2_000)
          .catch(() => undefined);
        if (status !== undefined) {
          found.set(nodeId, {
            firstIndex: Number(status.firstIndex),
            commitIndex: Number(status.commitIndex),
          });
        }
      }
      return found;
    };
    let converged = true;
    const hosts = await statuses();
    if (hosts.size < 2) continue;
    const found = await waitFor(
      async () => {
        const now = await statuses();
        const commits = new Set([...now.values()].map((s) => s.commitIndex));
        return now.size === hosts.size && commits.size === 1 ? now : undefined;
      },
      {
        timeoutMs: Math.max(1_000, deadline - Date.now()),
        what: `group ${groupId} to have one commit index on every replica`,
        intervalMs: 200,
      },
    ).catch(async () => {
      converged = false;
      return statuses();
    });
    const upToIndex = Math.min(...[...found.values()].map((s) => s.commitIndex));
    const latestFirst = Math.max(...[...found.values()].map((s) => s.firstIndex));
    const replicas: ReplicaSnapshot[] = [];
    for (const [nodeId, status] of found) {
      const admin = cluster.admin(nodeId);
      const logChecksum = upToIndex === 0 ? "" : (await admin.logChecksum(groupId, upToIndex)).checksum;
      const common = createHash("sha256");
      const prefix = createHash("sha256");
      let before = 0;
      let records = 0;
      for (const record of await admin.readAll(groupId, 1)) {
        if (record.index > upToIndex) break;
        const hash = record.index < latestFirst ? prefix : common;
        if (record.index < latestFirst) before++;
        records++;
        hash.update(`${record.index}/${record.offset}/${record.arrivalTimestampMs}/${record.partitionKey}/`);
        hash.update(record.data);
      }
      replicas.push({
        nodeId,
        firstIndex: status.firstIndex,
        commitIndex: status.commitIndex,
        logChecksum,
        commonRecordsChecksum: common.digest("hex"),
        recordsBeforeLatestFirst: before,
        beforeLatestFirstChecksum: before > 0 ? prefix.digest("hex") : "",
        records,
      });
    }
    diffs.push({ groupId, upToIndex, converged, replicas, verdict: replicaVerdict(replicas) });
  }
  return diffs;
}

/** The verdict on one group from its replicas' snapshots (see ReplicaVerdict). */
export function replicaVerdict(replicas: readonly ReplicaSnapshot[]): ReplicaVerdict {
  if (new Set(replicas.map((r) => r.commonRecordsChecksum)).size > 1) return "diverged";
  // Replicas that start at the same index and hold records before the latest first index must
  // agree on them too.
  const byFirst = new Map<number, Set<string>>();
  for (const replica of replicas) {
    if (replica.recordsBeforeLatestFirst === 0) continue;
    const seen = byFirst.get(replica.firstIndex) ?? new Set<string>();
    seen.add(replica.beforeLatestFirstChecksum);
    byFirst.set(replica.firstIndex, seen);
  }
  for (const seen of byFirst.values()) if (seen.size > 1) return "diverged";
  if (byFirst.size > 0) return "short";
  if (new Set(replicas.map((r) => r.firstIndex)).size > 1) return "starts-later";
  return new Set(replicas.map((r) => r.logChecksum)).size > 1 ? "diverged" : "identical";
}

/** One line per group: verdict, compared index, and per replica its first index, records and checksums. */
export function formatGroupDiff(diff: GroupDiff): string {
  const replicas = diff.replicas
    .map(
      (r) =>
        `node ${r.nodeId}: first ${r.firstIndex}, ${r.records} records (${r.recordsBeforeLatestFirst} before the latest first index), LogChecksum ${r.logChecksum.slice(0, 12)}, records ${r.commonRecordsChecksum.slice(0, 12)}`,
    )
    .join("; ");
  return `group ${diff.groupId} ${diff.verdict}${diff.converged ? "" : " (commit indexes did not converge)"} up to ${diff.upToIndex} — ${replicas}`;
}
