// Proves that the AWS CLI and boto3, unmodified, work over https against the Kinesis HTTP API of a
// TLS cluster (`cluster up --tls`, which prints the https endpoints): `scripts/kinesis-cli-check
// --tls` checks that the CLI refuses the certificate without the cluster CA, then through each
// tool, trusting the CA (--ca-bundle, verify=CA), creates a stream, puts, reads the record back,
// splits the shard and deletes the stream.
import { describe, expect, it } from "vitest";
import { missingCliTools, runKinesisCliCheck } from "./kinesis-cli-check.js";

// This file uses ports 20160-20192 (the script's --base-port layout: N+0…2, +10…12, +20…22, +30…32).
const BASE_PORT = 20_160;
const missing = missingCliTools();
if (missing !== undefined) {
  console.warn(
    `tls-kinesis-cli.test.ts: skipped because ${missing} is not installed (CI installs awscli and python3-boto3)`,
  );
}

describe("the AWS CLI and boto3 over https", () => {
  it.skipIf(missing !== undefined)(
    "scripts/kinesis-cli-check --tls succeeds",
    async () => {
      const { code, output } = await runKinesisCliCheck(["--tls", "--base-port", String(BASE_PORT)]);
      expect({ code, output }).toMatchObject({ code: 0 });
      expect(output).toContain("against https://127.0.0.1:20170");
      expect(output).toContain("without --ca-bundle the certificate is refused");
      expect(output).toContain("kinesis-cli-check: ok");
    },
    180_000,
  );
});
