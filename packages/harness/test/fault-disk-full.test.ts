// Proves that when one node's data filesystem fills up under load (a 256 MiB tmpfs filled to its
// last 8 MiB, below the node's 32 MiB reserve, then emptied), no acknowledged record is lost, the
// replicas stay identical, and the node stays up: it refuses writes with a typed error and goes
// silent until space returns (it was found exiting with STORAGE_FAILED, seed 5; fixed by the
// broker's disk-space guard, also tested in packages/broker/test/broker-disk-full.test.ts).
// Needs root (mount); skipped otherwise.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CampaignResult, runCampaign } from "../src/fault/campaign.js";

// This file uses ports 20460-20477.
const BASE_PORT = 20_460;
const SEED = 5;

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
let result: CampaignResult;

describe.skipIf(!mountable)("a full disk on one node", () => {
  beforeAll(async () => {
    result = await runCampaign({
      seed: SEED,
      durationMs: 12_000,
      basePort: BASE_PORT,
      kinds: ["disk-full"],
      smallDisk: true,
      log: (line) => console.log(`[disk-full] ${line}`),
    });
    console.log(`${result.report}\nnode exits during the full-disk faults: ${result.check.crashes}`);
  }, 240_000);

  it("loses no acknowledged record and leaves the replicas identical", () => {
    expect(result.check.faults.length).toBeGreaterThan(0);
    expect({ lost: result.check.lost, divergent: result.check.divergentGroups }, result.report).toEqual({
      lost: 0,
      divergent: 0,
    });
  });

  it("keeps the node running, refusing writes, while its disk is full", () => {
    expect(result.check.crashes, result.report).toBe(0);
  });
});
