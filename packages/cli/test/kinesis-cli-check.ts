/**
 * Test support: runs scripts/kinesis-cli-check (the AWS CLI and boto3 against a cluster it starts)
 * and says which of its tools are missing here, for the plaintext and the TLS test.
 */
import { spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const SCRIPT = join(ROOT, "scripts/kinesis-cli-check");

/** The tool the check needs that is not installed, or undefined when both are. */
export function missingCliTools(): string | undefined {
  if (spawnSync("aws", ["--version"], { stdio: "ignore" }).status !== 0) return "the AWS CLI (aws)";
  if (spawnSync("python3", ["-c", "import boto3"], { stdio: "ignore" }).status !== 0)
    return "python3 with boto3";
  return undefined;
}

/** Runs the script with `args` (the build is already done); resolves with its exit code and output. */
export async function runKinesisCliCheck(
  args: readonly string[],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(SCRIPT, [...args], {
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
  return { code, output };
}
