// Proves that a cluster's nodeExecArgv reaches its node process as Node.js flags, before the CLI
// script (where NODE_OPTIONS would refuse a V8 flag such as --trace-gc), and that the nodes still
// start and serve; and that a cluster without it starts its nodes with no flags there.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "../src/cluster.js";

const BASE_PORT = 21_790;

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((part) => part !== "");
}

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("nodeExecArgv", () => {
  it("puts the flags before the node's script, and the node serves", async () => {
    const flags = ["--trace-gc", "--max-semi-space-size=8"];
    cluster = await startCluster({ basePort: BASE_PORT, nodes: 1, nodeExecArgv: flags });
    const argv = commandLine(cluster.process(1).pid as number);
    const script = argv.findIndex((part) => part.endsWith("main.js"));
    expect(script).toBeGreaterThan(0);
    expect(argv.slice(1, script)).toEqual(flags);
    expect(argv[script + 1]).toBe("node");
    expect((await cluster.admin(1).nodeStatus()).groupIds).toContain(0);
  }, 60_000);

  it("adds nothing before the script when not given", async () => {
    cluster = await startCluster({ basePort: BASE_PORT, nodes: 1 });
    const argv = commandLine(cluster.process(1).pid as number);
    expect(argv.findIndex((part) => part.endsWith("main.js"))).toBe(1);
  }, 60_000);
});
