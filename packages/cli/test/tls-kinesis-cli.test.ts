// Proves that the AWS CLI and boto3, unmodified, work over https against the Kinesis HTTP API of a
// TLS cluster (`cluster up --tls`, which prints the https endpoints): `scripts/kinesis-cli-check
// --tls` checks that the CLI refuses the certificate without the cluster CA, then through each
// tool, trusting the CA (--ca-bundle, verify=CA), creates a stream, puts, reads the record back,
// splits the shard and deletes the stream.
import { spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// This file uses ports 20160-20192 (the script's --base-port layout: N+0…2, +10…12, +20…22, +30…32).
const BASE_PORT = 20_160;
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
    `tls-kinesis-cli.test.ts: skipped because ${missing} is not installed (CI installs awscli and python3-boto3)`,
  );
}

describe("the AWS CLI and boto3 over https", () => {
  it.skipIf(missing !== undefined)(
    "scripts/kinesis-cli-check --tls succeeds",
    async () => {
      const child = spawn(SCRIPT, ["--tls", "--base-port", String(BASE_PORT)], {
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
      expect(output).toContain("against https://127.0.0.1:20170");
      expect(output).toContain("without --ca-bundle the certificate is refused");
      expect(output).toContain("kinesis-cli-check: ok");
    },
    180_000,
  );
});
