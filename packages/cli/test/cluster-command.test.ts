// Proves `sluice cluster up|status|down --data DIR` starts three detached node processes that
// serve, is idempotent when the cluster is already up, reports each node, and stops them all.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertCliBuilt, CLI_MAIN_PATH } from "@sluice/harness";
import { afterAll, describe, expect, it } from "vitest";

// This file uses ports 18400-18432 (--base-port 18400).
const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-command-"));

function sluice(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  assertCliBuilt();
  const result = spawnSync(process.execPath, [CLI_MAIN_PATH, ...args], { encoding: "utf8", timeout: 90_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A zombie (exited, waiting for init to reap it) counts as gone. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

afterAll(() => {
  sluice("cluster", "down", "--data", dir, "--base-port", "18400");
  rmSync(dir, { recursive: true, force: true });
});

describe("sluice cluster", () => {
  it("starts, reports, restarts idempotently and stops a local three-node cluster", () => {
    const up = sluice("cluster", "up", "--data", dir, "--base-port", "18400");
    expect(up.status, `${up.stdout}${up.stderr}`).toBe(0);
    expect(up.stdout).toContain("the cluster is up");
    expect(up.stdout).toContain("127.0.0.1:18400");
    const pids = [1, 2, 3].map((id) => Number(readFileSync(join(dir, `node-${id}.pid`), "utf8")));
    expect(new Set(pids).size).toBe(3);

    const again = sluice("cluster", "up", "--data", dir, "--base-port", "18400");
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("already up");
    expect([1, 2, 3].map((id) => Number(readFileSync(join(dir, `node-${id}.pid`), "utf8")))).toEqual(pids);

    const status = sluice("cluster", "status", "--data", dir, "--base-port", "18400");
    expect(status.status, status.stdout).toBe(0);
    expect(status.stdout.match(/SERVING/g)).toHaveLength(3);

    const down = sluice("cluster", "down", "--data", dir, "--base-port", "18400");
    expect(down.status).toBe(0);
    expect(down.stdout).toContain("stopped node 1, 2, 3");
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    const after = sluice("cluster", "status", "--data", dir, "--base-port", "18400");
    expect(after.status).toBe(1);
    expect(after.stdout.match(/not running/g)).toHaveLength(3);
  }, 120_000);
});
