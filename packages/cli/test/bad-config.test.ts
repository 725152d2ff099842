// Proves that a node started with a bad configuration or environment (missing or inconsistent
// peers, an unwritable data directory, a port in use, a data directory locked by a running node
// or stamped by another node id) exits with status 2 and exactly one clear line on stderr.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminClient, NodeProcess, runNodeToExit, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 18100-18199.
const PEERS = "1=127.0.0.1:18101,2=127.0.0.1:18102,3=127.0.0.1:18103";
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-bad-config-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Flags for node 1 that are valid apart from what a test changes. */
function flags(overrides: Readonly<Record<string, string | undefined>>): string[] {
  const base: Record<string, string | undefined> = {
    "node-id": "1",
    peers: PEERS,
    data: join(dir, "node-1"),
    "grpc-listen": "127.0.0.1:18111",
    "http-listen": "127.0.0.1:18112",
    "metrics-listen": "127.0.0.1:18113",
    ...overrides,
  };
  return Object.entries(base).flatMap(([name, value]) => (value === undefined ? [] : [`--${name}=${value}`]));
}

async function expectRefusal(
  args: readonly string[],
  pattern: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const result = await runNodeToExit(args, { env, timeoutMs: 20_000 });
  const lines = result.stderr.trimEnd().split("\n");
  expect(result.timedOut, `the node did not exit; stderr: ${result.stderr}`).toBe(false);
  expect(lines, `stderr was:\n${result.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^sluice node: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.code).toBe(2);
}

describe("a node with a bad configuration exits 2 with one clear line", () => {
  it("refuses a missing peer list", async () => {
    await expectRefusal(flags({ peers: undefined }), /--peers \(or SLUICE_PEERS\) is required/);
  });

  it("refuses a peer list that lacks this node", async () => {
    await expectRefusal(
      flags({ peers: "2=127.0.0.1:18102,3=127.0.0.1:18103" }),
      /does not list this node \(id 1\)/,
    );
  });

  it("refuses a duplicate node id and a duplicate address in the peer list", async () => {
    await expectRefusal(flags({ peers: "1=127.0.0.1:18101,1=127.0.0.1:18102" }), /names node id 1 twice/);
    await expectRefusal(flags({ peers: "1=127.0.0.1:18101,2=127.0.0.1:18101" }), /same address/);
  });

  it("reads the same checks from SLUICE_* variables", async () => {
    await expectRefusal([], /SLUICE_PEERS does not list this node \(id 3\)/, {
      SLUICE_NODE_ID: "3",
      SLUICE_PEERS: "1=127.0.0.1:18101",
      SLUICE_DATA_DIR: join(dir, "env-node"),
    });
  });

  it("refuses a data directory that cannot be written", async () => {
    // Tests run as root, for whom permission bits do not stop writes: a path under a regular
    // file cannot be created by anyone.
    const file = join(dir, "a-file");
    writeFileSync(file, "not a directory");
    await expectRefusal(flags({ data: join(file, "node-1") }), /data directory .* is not writable/);
  });

  it("refuses a port in use", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(18111, "127.0.0.1", resolve));
    try {
      await expectRefusal(flags({}), /--grpc-listen 127\.0\.0\.1:18111: the port is already in use/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("refuses a data directory locked by a running node, and one that belongs to another node id", async () => {
    const data = join(dir, "shared");
    const single = "1=127.0.0.1:18121,2=127.0.0.1:18125";
    const running = new NodeProcess({
      nodeId: 1,
      logFile: join(dir, "running.log"),
      args: flags({
        peers: single,
        data,
        "grpc-listen": "127.0.0.1:18122",
        "http-listen": "127.0.0.1:18123",
        "metrics-listen": "127.0.0.1:18124",
      }),
    });
    running.start();
    const client = new AdminClient("127.0.0.1:18122");
    try {
      await waitFor(async () => (await client.health(500)) === "SERVING", {
        timeoutMs: 30_000,
        what: `node 1 to serve\n${running.logTail()}`,
      });
      await expectRefusal(
        flags({
          peers: "1=127.0.0.1:18131",
          data,
          "grpc-listen": "127.0.0.1:18132",
          "http-listen": "127.0.0.1:18133",
          "metrics-listen": "127.0.0.1:18134",
        }),
        /data directory .* is in use by another running node/,
      );
      await expectRefusal(
        flags({
          "node-id": "2",
          peers: "1=127.0.0.1:18141,2=127.0.0.1:18145",
          data,
          "grpc-listen": "127.0.0.1:18142",
          "http-listen": "127.0.0.1:18143",
          "metrics-listen": "127.0.0.1:18144",
        }),
        /belongs to node 1 of cluster "sluice-local", not node 2/,
      );
    } finally {
      client.close();
      await running.kill("SIGTERM");
    }
    expect(running.lastExit).toEqual({ code: 0, signal: null });
  }, 60_000);
});
