// Proves client authentication and authorization end to end on a real three-node cluster started
// with --auth-keys, --auth-policy and --audit-log: a principal allowed only PutRecord(s) on
// `orders-*` writes `orders-eu` and is denied reading it or writing `payments`, over the Kinesis
// HTTP API (AWS SDK v3 and the AWS CLI, real SigV4) and over gRPC (bearer keys); a wrong secret,
// an unknown key, a request six minutes off and a tampered body are refused with the AWS errors;
// and control-plane calls, not data-plane ones, land in the audit log with principal and outcome.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
import { SluiceCallError, SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initAuth } from "../src/commands/auth.js";

// This file uses ports 20200-20211.
const BASE_PORT = 20_200;
const WRITER = { accessKeyId: "AKIDORDERSWRITER", secretAccessKey: "orders-writer-secret-1" };

let cluster: TestCluster;
let dir: string;
let admin: { accessKeyId: string; secretAccessKey: string };
const auditLog = () => join(dir, "audit.log");
const sdkClients: KinesisClient[] = [];
const grpcClients: SluiceClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-auth-"));
  // The admin key and policy exactly as `sluice auth init` writes them, plus a writer key and statement.
  const init = initAuth({ outDir: join(dir, "auth"), principal: "admin", force: false });
  if (init === undefined) throw new Error("auth init wrote nothing");
  admin = { accessKeyId: init.accessKeyId, secretAccessKey: init.secretAccessKey };
  writeFileSync(
    init.accessKeysFile,
    `${readFileSync(init.accessKeysFile, "utf8")}${WRITER.accessKeyId}:${WRITER.secretAccessKey}:orders-writer\n`,
  );
  const policy = JSON.parse(readFileSync(init.policyFile, "utf8")) as {
    principals: Record<string, unknown[]>;
  };
  policy.principals["orders-writer"] = [
    { effect: "Allow", actions: ["kinesis:PutRecord", "kinesis:PutRecords"], resources: ["orders-*"] },
  ];
  writeFileSync(init.policyFile, JSON.stringify(policy));
  cluster = await startCluster({
    basePort: BASE_PORT,
    extraArgs: [
      `--auth-keys=${init.accessKeysFile}`,
      `--auth-policy=${init.policyFile}`,
      `--audit-log=${auditLog()}`,
    ],
  });
  const root = kinesis(admin);
  for (const name of ["orders-eu", "payments"]) {
    await root.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  }
  for (const name of ["orders-eu", "payments"]) {
    await waitFor(
      async () =>
        (await root.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary
          ?.StreamStatus === "ACTIVE",
      { timeoutMs: 20_000, what: `stream ${name} to be ACTIVE` },
    );
  }
}, 90_000);

afterAll(async () => {
  for (const client of sdkClients) client.destroy();
  for (const client of grpcClients) client.close();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function kinesis(
  credentials: { accessKeyId: string; secretAccessKey: string },
  options: { nodeId?: number; systemClockOffset?: number } = {},
): KinesisClient {
  const client = new KinesisClient({
    endpoint: `http://127.0.0.1:${cluster.ports(options.nodeId ?? 1).http}`,
    region: "eu-west-1",
    credentials,
    requestHandler: new NodeHttpHandler(),
    // One attempt: the SDK would correct its clock after InvalidSignatureException and retry.
    maxAttempts: 1,
    ...(options.systemClockOffset === undefined ? {} : { systemClockOffset: options.systemClockOffset }),
  });
  sdkClients.push(client);
  return client;
}

function grpc(credentials?: { accessKeyId: string; secretAccessKey: string }): SluiceClient {
  const client = new SluiceClient({
    endpoints: cluster.nodeIds.map((id) => `127.0.0.1:${cluster.ports(id).grpc}`),
    ...(credentials === undefined ? {} : { credentials }),
  });
  grpcClients.push(client);
  return client;
}

async function errorNameOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return error instanceof SluiceCallError ? error.errorName : (error as Error).name;
  }
  return "no error";
}

async function adminIterator(): Promise<string> {
  const { ShardIterator } = await kinesis(admin).send(
    new GetShardIteratorCommand({
      StreamName: "orders-eu",
      ShardId: "shardId-000000000000",
      ShardIteratorType: "TRIM_HORIZON",
    }),
  );
  return ShardIterator as string;
}

describe("over the Kinesis HTTP API with SigV4 (AWS SDK v3)", () => {
  it("lets orders-writer write orders-eu and denies reading it or writing payments", async () => {
    const writer = kinesis(WRITER, { nodeId: 2 });
    const put = await writer.send(
      new PutRecordCommand({ StreamName: "orders-eu", PartitionKey: "k", Data: Buffer.from("hello") }),
    );
    expect(put.SequenceNumber).toMatch(/^\d+$/);
    const batch = await writer.send(
      new PutRecordsCommand({
        StreamName: "orders-eu",
        Records: [{ PartitionKey: "k", Data: Buffer.from("b") }],
      }),
    );
    expect(batch.FailedRecordCount).toBe(0);
    const iterator = await adminIterator();
    expect(await errorNameOf(writer.send(new GetRecordsCommand({ ShardIterator: iterator })))).toBe(
      "AccessDeniedException",
    );
    expect(
      await errorNameOf(
        writer.send(
          new GetShardIteratorCommand({
            StreamName: "orders-eu",
            ShardId: "shardId-000000000000",
            ShardIteratorType: "TRIM_HORIZON",
          }),
        ),
      ),
    ).toBe("AccessDeniedException");
    expect(
      await errorNameOf(
        writer.send(
          new PutRecordCommand({ StreamName: "payments", PartitionKey: "k", Data: Buffer.from("x") }),
        ),
      ),
    ).toBe("AccessDeniedException");
    expect(await errorNameOf(writer.send(new ListStreamsCommand({})))).toBe("AccessDeniedException");
    // The admin reads what the writer wrote.
    const read = await kinesis(admin).send(new GetRecordsCommand({ ShardIterator: iterator }));
    expect(read.Records?.map((record) => Buffer.from(record.Data ?? []).toString())).toEqual(["hello", "b"]);
  });

  it("refuses a wrong secret, an unknown key and a clock six minutes off", async () => {
    const list = new ListStreamsCommand({});
    expect(await errorNameOf(kinesis({ ...admin, secretAccessKey: "not-the-admin-secret" }).send(list))).toBe(
      "InvalidSignatureException",
    );
    expect(
      await errorNameOf(
        kinesis({ accessKeyId: "AKIDUNKNOWN0000", secretAccessKey: "whatever-secret" }).send(list),
      ),
    ).toBe("UnrecognizedClientException");
    expect(await errorNameOf(kinesis(admin, { systemClockOffset: -6 * 60_000 }).send(list))).toBe(
      "InvalidSignatureException",
    );
    expect(await errorNameOf(kinesis(admin, { systemClockOffset: 6 * 60_000 }).send(list))).toBe(
      "InvalidSignatureException",
    );
  });

  it("verifies the SDK's own signature, and refuses the same request with a changed body", async () => {
    // Capture the request the SDK signed instead of sending it.
    let captured: { headers: Record<string, string>; body: string } | undefined;
    const capturing = new KinesisClient({
      endpoint: `http://127.0.0.1:${cluster.ports(1).http}`,
      region: "us-east-1",
      credentials: WRITER,
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: { headers: Record<string, string>; body: string | Uint8Array }) => {
          const body = typeof request.body === "string" ? request.body : Buffer.from(request.body).toString();
          captured = { headers: request.headers, body };
          throw new Error("captured");
        },
      },
    });
    await capturing
      .send(new PutRecordCommand({ StreamName: "orders-eu", PartitionKey: "k", Data: Buffer.from("signed") }))
      .catch(() => {});
    capturing.destroy();
    if (captured === undefined) throw new Error("the SDK sent nothing");
    const send = (body: string) =>
      new Promise<{ status: number; type: string }>((resolve, reject) => {
        const headers = { ...(captured as { headers: Record<string, string> }).headers };
        headers["content-length"] = String(Buffer.byteLength(body));
        const req = httpRequest(
          { host: "127.0.0.1", port: cluster.ports(1).http, method: "POST", path: "/", headers },
          (res) => {
            res.resume();
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, type: String(res.headers["x-amzn-errortype"] ?? "") }),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    expect(await send(captured.body)).toEqual({ status: 200, type: "" });
    const tampered = captured.body.replace('"orders-eu"', '"orders-us"');
    expect(tampered).not.toBe(captured.body);
    expect(await send(tampered)).toEqual({ status: 400, type: "InvalidSignatureException" });
  });
});

describe("over gRPC with bearer keys (@sluice/client)", () => {
  it("lets orders-writer write orders-eu and denies reading it or writing payments", async () => {
    const writer = grpc(WRITER);
    const put = await writer.putRecord({
      streamName: "orders-eu",
      partitionKey: "k",
      data: Buffer.from("over grpc"),
    });
    expect(put.sequenceNumber).toMatch(/^\d+$/);
    expect(await errorNameOf(writer.getRecords({ shardIterator: await adminIterator() }))).toBe(
      "AccessDeniedException",
    );
    expect(
      await errorNameOf(
        writer.putRecord({ streamName: "payments", partitionKey: "k", data: Buffer.from("x") }),
      ),
    ).toBe("AccessDeniedException");
    const records = await grpc(admin).getRecords({ shardIterator: await adminIterator() });
    expect(records.records.map((record) => Buffer.from(record.data).toString())).toContain("over grpc");
  });

  it("refuses calls without credentials, with a wrong secret or an unknown key", async () => {
    expect(await errorNameOf(grpc().listStreams({}))).toBe("MissingAuthenticationTokenException");
    expect(
      await errorNameOf(grpc({ ...admin, secretAccessKey: "not-the-admin-secret" }).listStreams({})),
    ).toBe("InvalidSignatureException");
    expect(
      await errorNameOf(
        grpc({ accessKeyId: "AKIDUNKNOWN0000", secretAccessKey: "whatever-secret" }).listStreams({}),
      ),
    ).toBe("UnrecognizedClientException");
  });
});

describe("the audit log", () => {
  it("has a line per control-plane call with principal and outcome, and none for data-plane calls", async () => {
    expect(
      await errorNameOf(kinesis(WRITER).send(new DeleteStreamCommand({ StreamName: "orders-eu" }))),
    ).toBe("AccessDeniedException");
    expect(
      await errorNameOf(kinesis(admin).send(new DeleteStreamCommand({ StreamName: "no-such-stream" }))),
    ).toBe("ResourceNotFoundException");
    type Line = {
      principal: string;
      via: string;
      action: string;
      stream?: string;
      outcome: string;
      error?: string;
    };
    let lines: Line[] = [];
    await waitFor(
      () => {
        if (!existsSync(auditLog())) return false;
        lines = readFileSync(auditLog(), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Line);
        return lines.some((line) => line.stream === "no-such-stream");
      },
      { timeoutMs: 10_000, what: "the audit lines of the DeleteStream calls" },
    );
    const summary = lines.map(({ principal, via, action, stream, outcome, error }) => ({
      principal,
      via,
      action,
      stream,
      outcome,
      error,
    }));
    expect(summary).toContainEqual({
      principal: "admin",
      via: "sigv4",
      action: "kinesis:CreateStream",
      stream: "orders-eu",
      outcome: "ok",
      error: undefined,
    });
    expect(summary).toContainEqual({
      principal: "orders-writer",
      via: "sigv4",
      action: "kinesis:DeleteStream",
      stream: "orders-eu",
      outcome: "denied",
      error: "AccessDeniedException",
    });
    expect(summary).toContainEqual({
      principal: "admin",
      via: "sigv4",
      action: "kinesis:DeleteStream",
      stream: "no-such-stream",
      outcome: "error",
      error: "ResourceNotFoundException",
    });
    expect(lines.filter((line) => /Put|Get|List|Describe/.test(line.action))).toEqual([]);
  });
});

describe("the AWS CLI with real credentials", () => {
  const aws = (args: string[], credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "aws",
        [
          "--endpoint-url",
          `http://127.0.0.1:${cluster.ports(3).http}`,
          "--output",
          "json",
          "kinesis",
          ...args,
        ],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_PAGER: "",
            AWS_MAX_ATTEMPTS: "1",
            AWS_EC2_METADATA_DISABLED: "true",
            AWS_CONFIG_FILE: "/dev/null",
            AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
          },
          timeout: 30_000,
        },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : Number((error as { code?: unknown }).code ?? 1),
            stdout,
            stderr,
          }),
      );
    });
  const hasCli = process.env.PATH?.split(":").some((folder) => existsSync(join(folder, "aws"))) === true;

  it.skipIf(!hasCli)(
    "writes as orders-writer, is denied reading, and is refused with a wrong secret",
    async () => {
      const put = await aws(
        ["put-record", "--stream-name", "orders-eu", "--partition-key", "k", "--data", "aGk="],
        WRITER,
      );
      expect(put.stderr).toBe("");
      expect(JSON.parse(put.stdout).SequenceNumber).toMatch(/^\d+$/);
      const read = await aws(["describe-stream-summary", "--stream-name", "orders-eu"], WRITER);
      expect(read.code).not.toBe(0);
      expect(read.stderr).toContain("AccessDeniedException");
      const wrong = await aws(["list-streams"], { ...admin, secretAccessKey: "not-the-admin-secret" });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain("InvalidSignatureException");
    },
  );
});
