// Proves the node's auth configuration: `sluice auth init` writes a key, an admin policy and
// client.env once (and keeps them after); flags that contradict each other or a malformed key
// file stop the node with one line naming the fault; and a node serving without access keys
// logs its warning periodically (interval shortened through SLUICE_INSECURE_WARNING_INTERVAL_MS).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessKeyStore, Policy } from "@sluice/gateway";
import { runNodeToExit, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, describe, expect, it } from "vitest";
import { initAuth } from "../src/commands/auth.js";
import { parseNodeConfig } from "../src/node/config.js";

// This file uses ports 20240-20243 (one node) and 20250-20253 (refused starts).
const dir = mkdtempSync(join(tmpdir(), "sluice-auth-node-"));
let cluster: TestCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe("sluice auth init", () => {
  it("writes a key for an admin who may do everything, once", () => {
    const out = join(dir, "auth");
    const made = initAuth({ outDir: out, principal: "admin", force: false });
    if (made === undefined) throw new Error("nothing written");
    const keys = AccessKeyStore.fromFile(made.accessKeysFile);
    expect(keys.check(made.accessKeyId, made.secretAccessKey)).toMatchObject({ principal: "admin" });
    const policy = Policy.fromFile(made.policyFile);
    expect(policy.evaluate("admin", "kinesis:DeleteStream", "anything")).toBe("allow");
    expect(policy.evaluate("admin", "sluice:JoinGroup", "anything")).toBe("allow");
    expect(policy.evaluate("admin", "kinesis:ListStreams", undefined)).toBe("allow");
    expect(readFileSync(made.clientEnvFile, "utf8")).toContain(
      `AWS_SECRET_ACCESS_KEY=${made.secretAccessKey}\n`,
    );
    expect(initAuth({ outDir: out, principal: "admin", force: false })).toBeUndefined();
    expect(AccessKeyStore.fromFile(made.accessKeysFile).get(made.accessKeyId)).toBeDefined();
  });
});

describe("node auth flags", () => {
  const PEERS = "1=127.0.0.1:20251";
  const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    parseNodeConfig(["--node-id", "1", "--peers", PEERS, ...argv], env);

  it("turns auth on with keys and a policy, and refuses keys without a policy or with --insecure", () => {
    const on = parse(["--auth-keys", "k", "--auth-policy", "p.json", "--audit-log", "a.log"]);
    expect(on.auth.keysFile).toMatch(/\/k$/);
    expect(on.auth.auditLogFile).toMatch(/\/a\.log$/);
    expect(
      parse([], { SLUICE_ACCESS_KEYS: "AKIDONE1:secret-one-1", SLUICE_AUTH_POLICY: "p" }).auth.keysText,
    ).toBe("AKIDONE1:secret-one-1");
    expect(() => parse(["--auth-keys", "k"])).toThrow(/need a policy/);
    expect(() => parse(["--auth-keys", "k", "--auth-policy", "p", "--insecure"])).toThrow(/contradicts/);
    expect(() => parse(["--auth-policy", "p"])).toThrow(/no effect without access keys/);
    expect(parse([]).auth.insecureWarningIntervalMs).toBe(60_000);
  });

  it("stops the node with one line naming a malformed key file", async () => {
    const keys = join(dir, "bad-keys");
    writeFileSync(keys, "AKIDONE1:short:admin\n");
    writeFileSync(join(dir, "policy.json"), '{"principals":{}}');
    const result = await runNodeToExit(
      [
        "--node-id=1",
        `--peers=${PEERS}`,
        `--data=${join(dir, "refused")}`,
        "--grpc-listen=127.0.0.1:20250",
        "--http-listen=127.0.0.1:20252",
        "--metrics-listen=127.0.0.1:20253",
        `--auth-keys=${keys}`,
        `--auth-policy=${join(dir, "policy.json")}`,
      ],
      { timeoutMs: 15_000 },
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      `sluice node: ${keys} entry 1 (AKIDONE1): the secret must be 8 to 256 printable characters without ":", "," or spaces`,
    ]);
  });
});

describe("a node without access keys", () => {
  it("logs that authentication is off, again every interval", async () => {
    cluster = await startCluster({
      basePort: 20_240,
      nodes: 1,
      env: { SLUICE_INSECURE_WARNING_INTERVAL_MS: "50" },
    });
    const log = cluster.process(1).logFile;
    await waitFor(() => readFileSync(log, "utf8").split("authentication is off").length - 1 >= 3, {
      timeoutMs: 10_000,
      what: "three warnings that authentication is off",
    });
  }, 60_000);
});
