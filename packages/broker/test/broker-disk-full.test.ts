// Proves the disk-space guard: when a node's data filesystem (a real 16 MiB tmpfs) falls below the
// reserve, that node refuses appends with DiskFullError, stops writing and goes silent instead of
// crashing; its groups elect leaders elsewhere and keep committing; once space returns it catches
// up to a log identical to the others'. It goes silent whether a flush or the periodic check
// finds the shortage first. Needs root (mount); skipped otherwise.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { DiskFullError } from "../src/errors.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

const GROUP = 7;
const RESERVE_BYTES = 4 * 1_048_576;
const TMPFS_BYTES = 16 * 1_048_576;
/** Free space left by the ballast: below the reserve. */
const LEFT_FREE_BYTES = 1_048_576;

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "sluice-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const mountable = canMount();
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function records(tag: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    partitionKey: `k${i}`,
    data: Buffer.alloc(512, `${tag}${i}`),
  }));
}

/**
 * Nodes 1 and 2 on the shared disk, node 3 on its own 16 MiB tmpfs and leading GROUP, which
 * holds 20 records.
 */
async function clusterWithSmallDiskLeader() {
  const cluster = await TestCluster.start({ diskReserveBytes: RESERVE_BYTES, leaderBalance: false }, [1, 2]);
  cleanups.push(() => cluster.close());
  const dir = cluster.dataDir(3);
  mkdirSync(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_BYTES}`, "tmpfs", dir]);
  cleanups.push(() => {
    execFileSync("umount", ["-l", dir]);
  });
  const full = await cluster.open(3);
  await cluster.ensureGroups([GROUP], [1, 2, 3]);
  const first = await cluster.waitForLeader(GROUP);
  if (first !== full) first.transferLeader(GROUP, 3);
  await waitFor(() => cluster.leaderOf(GROUP) === full, "node 3 to lead the group");
  await full.append(GROUP, records("before", 20));
  return { cluster, full, dir };
}

/** Waits until a node other than `full` leads GROUP, and returns that node. */
async function leaderOtherThan(cluster: TestCluster, full: Broker): Promise<Broker> {
  await waitFor(
    () => {
      const leader = cluster.leaderOf(GROUP);
      return leader !== undefined && leader !== full;
    },
    "a leader other than node 3",
    15_000,
  );
  const leader = cluster.leaderOf(GROUP);
  if (leader === undefined) throw new Error("no leader");
  return leader;
}

/** Writes a ballast file that leaves LEFT_FREE_BYTES (below the reserve) free; returns its path. */
function fillBelowReserve(dir: string): string {
  const ballast = join(dir, "ballast");
  const { bavail, bsize } = statfsSync(dir);
  writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - LEFT_FREE_BYTES)));
  return ballast;
}

describe.skipIf(!mountable)("a node whose disk fills up", () => {
  it("refuses appends with DiskFullError, stays up and silent, and catches up once space returns", async () => {
    const { cluster, full, dir } = await clusterWithSmallDiskLeader();

    // Fill the filesystem to below the reserve.
    const ballast = fillBelowReserve(dir);

    // An append that raced the fill waits for space (its flush is held); the next ones are refused.
    let refused: unknown;
    await waitFor(async () => {
      const attempt = full.append(GROUP, records("refused", 1));
      attempt.catch(() => undefined);
      const outcome = await Promise.race([
        attempt.then(
          () => "ok",
          (error: unknown) => error,
        ),
        new Promise((resolve) => setTimeout(() => resolve("pending"), 100)),
      ]);
      refused = outcome;
      return outcome instanceof DiskFullError;
    }, "node 3 to refuse an append with DiskFullError");
    expect((refused as DiskFullError).retriable).toBe(true);
    expect((refused as Error).message).toMatch(/data filesystem is full/);

    // The others take the group over and keep committing while node 3 is full.
    const leader = await leaderOtherThan(cluster, full);
    for (let i = 0; i < 10; i++) await leader.append(GROUP, records(`during${i}`, 20));
    expect(full.metrics().messagesDroppedDiskFull).toBeGreaterThan(0);
    // Still running: its status answers, no fatal storage error.
    expect(full.groupStatus(GROUP).groupId).toBe(GROUP);

    // Space returns: node 3 catches up to an identical committed log.
    rmSync(ballast);
    const target = leader.groupStatus(GROUP).commitIndex;
    await waitFor(() => full.groupStatus(GROUP).appliedIndex >= target, "node 3 to catch up", 15_000);
    expect(full.committedLogChecksum(GROUP, target)).toBe(leader.committedLogChecksum(GROUP, target));
    await full.append(GROUP, records("after", 1)).catch(() => undefined); // a follower: NotLeader is fine
    await leader.append(GROUP, records("after", 5));
  }, 60_000);

  it("goes silent too when only its periodic check finds the disk full, so its groups move away", async () => {
    const { cluster, full, dir } = await clusterWithSmallDiskLeader();

    // Filled with no append in flight: no flush meets the shortage, only the space poll sees it.
    const ballast = fillBelowReserve(dir);
    await leaderOtherThan(cluster, full);
    await expect(full.append(GROUP, records("refused", 1))).rejects.toBeInstanceOf(DiskFullError);
    expect(full.metrics().diskFullWaits).toBeGreaterThan(0);

    rmSync(ballast);
    const leader = await leaderOtherThan(cluster, full);
    await leader.append(GROUP, records("after", 5));
    const target = leader.groupStatus(GROUP).commitIndex;
    await waitFor(() => full.groupStatus(GROUP).appliedIndex >= target, "node 3 to catch up", 15_000);
  }, 60_000);
});
