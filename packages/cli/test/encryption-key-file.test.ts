// Proves that a node given a bad key file (--kms-key-file or SLUICE_KMS_KEY_FILE: malformed key,
// missing file) refuses to start: exit status 2 and one line on stderr naming the file and the
// line at fault, before it serves anything.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runNodeToExit } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20750-20759.
const PEERS = "1=127.0.0.1:20751,2=127.0.0.1:20752,3=127.0.0.1:20753";
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-kms-config-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function flags(extra: readonly string[]): string[] {
  return [
    "--node-id=1",
    `--peers=${PEERS}`,
    `--data=${join(dir, "node-1")}`,
    "--grpc-listen=127.0.0.1:20755",
    "--http-listen=127.0.0.1:20756",
    "--metrics-listen=127.0.0.1:20757",
    ...extra,
  ];
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
  expect(lines[0]).toMatch(/^sluice node: --kms-key-file: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.code).toBe(2);
}

describe("a node with a bad key file exits 2 with one clear line", () => {
  it("refuses a malformed key, naming the line", async () => {
    const file = join(dir, "bad-keys");
    writeFileSync(file, `# keys\nalpha: ${"ab".repeat(32)}\nbeta: not-a-key\n`);
    await expectRefusal(flags([`--kms-key-file=${file}`]), /bad-keys line 3: a key is 64 hex digits/);
  });

  it("refuses a missing file given by SLUICE_KMS_KEY_FILE", async () => {
    await expectRefusal(flags([]), /cannot read key file .*missing-keys/, {
      SLUICE_KMS_KEY_FILE: join(dir, "missing-keys"),
    });
  });
});
