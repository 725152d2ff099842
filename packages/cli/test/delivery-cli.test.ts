// Proves `sluice delivery create|describe|list|delete` end to end: the built CLI against a real
// three-node cluster creates a files delivery stream over a stream that `sluice put` fills, the
// records arrive in the directory, --json output parses, secrets are redacted, and the exit
// codes are the documented ones (0 ok, 2 usage, 3 not found, 5 exists).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliRun, runCli, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20380-20391.
const BASE_PORT = 20_380;

let cluster: TestCluster;
let endpointArgs: string[];
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "sluice-delivery-cli-"));
  cluster = await startCluster({ basePort: BASE_PORT });
  endpointArgs = cluster.nodeIds.flatMap((nodeId) => [
    "--endpoint",
    `127.0.0.1:${cluster.ports(nodeId).grpc}`,
  ]);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(directory, { recursive: true, force: true });
}, 60_000);

function sluice(args: readonly string[], stdin?: string): Promise<CliRun> {
  return runCli(args, { stdin: stdin ?? "" });
}

/** Every line of every file under `dir`, skipping intents and temporary files. */
function deliveredLines(dir: string): string[] {
  const lines: string[] = [];
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      if (name === ".sluice-intents" || name.includes(".tmp-")) continue;
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else lines.push(...readFileSync(child, "utf8").split("\n").filter(Boolean));
    }
  };
  walk(dir);
  return lines;
}

describe("sluice delivery", () => {
  it("prints help with examples, exit 0; a usage error exits 2", async () => {
    const help = await sluice(["delivery", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("examples:");
    const bad = await sluice(["delivery", "create", "x", "--destination", "ftp", ...endpointArgs]);
    expect(bad.status).toBe(2);
  });

  it("creates, lists, describes and deletes; records put into the source arrive in files", async () => {
    expect((await sluice(["stream", "create", "cli-clicks", "--shards", "1", ...endpointArgs])).status).toBe(
      0,
    );
    const create = await sluice([
      "delivery",
      "create",
      "cli-archive",
      "--destination",
      "files",
      "--directory",
      directory,
      "--source-stream",
      "cli-clicks",
      "--size-mib",
      "1",
      "--interval-s",
      "1",
      ...endpointArgs,
    ]);
    expect(create.status, create.stderr).toBe(0);
    const again = await sluice([
      "delivery",
      "create",
      "cli-archive",
      "--destination",
      "files",
      "--directory",
      directory,
      ...endpointArgs,
    ]);
    expect(again.status).toBe(5);
    const pg = await sluice([
      "delivery",
      "create",
      "cli-pg",
      "--destination",
      "postgres",
      "--connection",
      "postgres://sluice:hunter2@127.0.0.1:1/warehouse",
      "--table",
      "orders",
      "--source-stream",
      "cli-clicks",
      ...endpointArgs,
    ]);
    expect(pg.status, pg.stderr).toBe(0);

    const list = await sluice(["delivery", "list", "--json", ...endpointArgs]);
    expect(list.status).toBe(0);
    const names = (JSON.parse(list.stdout) as { name: string }[]).map((definition) => definition.name);
    expect(names).toEqual(["cli-archive", "cli-pg"]);
    const describe = await sluice(["delivery", "describe", "cli-pg", "--json", ...endpointArgs]);
    expect(describe.status).toBe(0);
    expect(describe.stdout).not.toContain("hunter2");
    expect((await sluice(["delivery", "delete", "cli-pg", ...endpointArgs])).status).toBe(0);

    const put = await sluice(
      ["put", "cli-clicks", ...endpointArgs],
      `${Array.from({ length: 100 }, (_, i) => `click-${i}`).join("\n")}\n`,
    );
    expect(put.status, put.stderr).toBe(0);
    const lines = await waitFor(
      () => {
        const found = deliveredLines(directory);
        return found.length >= 100 ? found : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: "the 100 records in the directory" },
    );
    expect(lines.sort()).toEqual(Array.from({ length: 100 }, (_, i) => `click-${i}`).sort());

    expect((await sluice(["delivery", "delete", "cli-archive", ...endpointArgs])).status).toBe(0);
    const gone = await sluice(["delivery", "describe", "cli-archive", ...endpointArgs]);
    expect(gone.status).toBe(3);
  }, 180_000);
});
