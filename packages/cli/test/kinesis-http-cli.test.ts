// Proves that the AWS CLI and boto3, unmodified, work against the Kinesis HTTP API of a real
// three-node cluster: scripts/kinesis-cli-check starts its own cluster, and through each tool
// creates a stream, puts, reads the record back, splits the shard and deletes the stream.
import { spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// This file uses ports 19160-19192 (the script's --base-port layout: N+0…2, +10…12, +20…22, +30…32).
const BASE_PORT = 19_160;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const SCRIPT = join(ROOT, "scripts/kinesis-cli-check");

function missingTools(): string | undefined {
  if (spawnSync("aws", ["--version"], { stdio: "ignore" }).status !== 0) return "the AWS CLI (aws)";
  if (spawnSync("python3", ["-c", "import boto3"], { stdio: "ignore" }).status !== 0)
    return "python3 with boto3";
  return undefined;
}

const missing = missingTools();
if (missing !== undefined) {
  console.warn(
    `kinesis-http-cli.test.ts: skipped because ${missing} is not installed (CI installs awscli and python3-boto3)`,
  );
}

describe("the AWS CLI and boto3 against the Kinesis HTTP API", () => {
  it.skipIf(missing !== undefined)(
    "scripts/kinesis-cli-check succeeds",
    async () => {
      const child = spawn(SCRIPT, ["--base-port", String(BASE_PORT)], {
        cwd: ROOT,
        env: { ...process.env, SLUICE_SKIP_BUILD: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect({ code, output }).toMatchObject({ code: 0 });
      expect(output).toContain("kinesis-cli-check: ok");
    },
    120_000,
  );
});
