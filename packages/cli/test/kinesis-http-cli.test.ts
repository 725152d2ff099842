// Proves that the AWS CLI and boto3, unmodified, work against the Kinesis HTTP API of a real
// three-node cluster: scripts/kinesis-cli-check starts its own cluster, and through each tool
// creates a stream, puts, reads the record back, splits the shard and deletes the stream.
import { describe, expect, it } from "vitest";
import { missingCliTools, runKinesisCliCheck } from "./kinesis-cli-check.js";

// This file uses ports 19160-19192 (the script's --base-port layout: N+0…2, +10…12, +20…22, +30…32).
const BASE_PORT = 19_160;
const missing = missingCliTools();
if (missing !== undefined) {
  console.warn(
    `kinesis-http-cli.test.ts: skipped because ${missing} is not installed (CI installs awscli and python3-boto3)`,
  );
}

describe("the AWS CLI and boto3 against the Kinesis HTTP API", () => {
  it.skipIf(missing !== undefined)(
    "scripts/kinesis-cli-check succeeds",
    async () => {
      const { code, output } = await runKinesisCliCheck(["--base-port", String(BASE_PORT)]);
      expect({ code, output }).toMatchObject({ code: 0 });
      expect(output).toContain("kinesis-cli-check: ok");
    },
    120_000,
  );
});
