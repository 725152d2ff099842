// Proves, on a real three-node cluster started with `startCluster({ auth: true })`, the parts of
// authentication beyond the public API: the harness (admin calls included) works with the admin
// key; the admin service refuses a caller without a key (UNAUTHENTICATED) and one whose policy
// lacks sluice:Admin (PERMISSION_DENIED) while health stays open; reflection needs a key; a
// consumer-group worker with credentials consumes and one without is refused; refused calls are
// counted in sluice_gateway_request_duration_seconds by their error name (gRPC and Kinesis
// HTTP); and a key added to the running cluster's key file works, then stops working once
// removed, without a restart.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  status,
} from "@grpc/grpc-js";
import { ConsumerGroup, GroupError, type GroupRecord, SluiceCallError, SluiceClient } from "@sluice/client";
import { AdminCallError, AdminClient, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initAuth } from "../src/commands/auth.js";

// This file uses ports 20260-20271.
const BASE_PORT = 20_260;
/** May do everything to orders-* streams, sluice:* included, but holds no statement on "*". */
const READER = { accessKeyId: "AKIDORDERSREADER", secretAccessKey: "orders-reader-secret-1" };
const LATE = { accessKeyId: "AKIDLATECOMER", secretAccessKey: "latecomer-secret-1" };
const STREAM = "orders-auth";
const WAIT_MS = 20_000;

let dataDir: string;
let cluster: TestCluster;
const clients: SluiceClient[] = [];

const grpcAddress = (nodeId = 1) => `127.0.0.1:${cluster.ports(nodeId).grpc}`;
const endpoints = () => cluster.nodeIds.map((nodeId) => grpcAddress(nodeId));
function client(keys?: { accessKeyId: string; secretAccessKey: string }): SluiceClient {
  const made = new SluiceClient({
    endpoints: endpoints(),
    ...(keys === undefined ? {} : { credentials: keys }),
  });
  clients.push(made);
  return made;
}
function adminClient(keys?: { accessKeyId: string; secretAccessKey: string }): AdminClient {
  return new AdminClient(grpcAddress(), keys === undefined ? {} : { credentials: keys });
}
/** The error a call was refused with (AdminCallError from the harness, SluiceCallError from the SDK). */
async function refusal<E extends Error>(
  call: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await call;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error("the call was not refused");
}
const adminRefusal = (call: Promise<unknown>) => refusal(call, AdminCallError);
const callRefusal = (call: Promise<unknown>) => refusal(call, SluiceCallError);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sluice-auth-admin-"));
  // DIR/auth as `sluice auth init` writes it (the harness keeps it), plus the reader's key and policy.
  const init = initAuth({ outDir: join(dataDir, "auth"), principal: "admin", force: false });
  if (init === undefined) throw new Error("auth init wrote nothing");
  appendFileSync(init.accessKeysFile, `${READER.accessKeyId}:${READER.secretAccessKey}:reader\n`);
  const policy = JSON.parse(readFileSync(init.policyFile, "utf8")) as {
    principals: Record<string, unknown[]>;
  };
  policy.principals.reader = [
    { effect: "Allow", actions: ["kinesis:*", "sluice:*"], resources: ["orders-*"] },
  ];
  policy.principals.latecomer = [{ effect: "Allow", actions: ["kinesis:ListStreams"], resources: ["*"] }];
  writeFileSync(init.policyFile, JSON.stringify(policy));
  cluster = await startCluster({ basePort: BASE_PORT, dataDir, auth: true });
  await cluster.streams(1).createActiveStream({ streamName: STREAM, shardCount: 1 });
}, 90_000);

afterAll(async () => {
  for (const made of clients) made.close();
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe("admin service, reflection and health with auth on", () => {
  it("serves the harness's admin calls with the admin key", async () => {
    expect(cluster.credentials?.accessKeyId).not.toBe(READER.accessKeyId);
    const status = await cluster.admin(1).nodeStatus();
    expect(status.nodeId).toBe(1);
    expect(await cluster.leaderOf(0)).toBeGreaterThan(0);
  });

  it("refuses admin calls without a key or without sluice:Admin, and keeps health open", async () => {
    const anonymous = adminClient();
    const reader = adminClient(READER);
    try {
      const missing = await adminRefusal(anonymous.nodeStatus());
      expect(missing.grpcCode).toBe(status.UNAUTHENTICATED);
      expect(missing.code).toBe("MISSING_AUTHENTICATION_TOKEN");
      const denied = await adminRefusal(reader.transferLeader(0, 2));
      expect(denied.grpcCode).toBe(status.PERMISSION_DENIED);
      expect(denied.message).toContain("sluice:Admin");
      const appendDenied = await adminRefusal(
        reader.append(1, [{ partitionKey: "k", data: Buffer.from("x") }]),
      );
      expect(appendDenied.grpcCode).toBe(status.PERMISSION_DENIED);
      expect(await anonymous.health(2_000)).toBe("SERVING");
      expect(await anonymous.health(2_000, "sluice.v1.StreamsService")).toBe("SERVING");
    } finally {
      anonymous.close();
      reader.close();
    }
  });

  it("answers server reflection only to an authenticated caller", async () => {
    const Reflection = makeGenericClientConstructor(
      {
        ServerReflectionInfo: {
          path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          requestStream: true,
          responseStream: true,
          requestSerialize: (value: Buffer) => value,
          requestDeserialize: (value: Buffer) => value,
          responseSerialize: (value: Buffer) => value,
          responseDeserialize: (value: Buffer) => value,
        },
      },
      "ServerReflection",
    );
    const reflection = new Reflection(grpcAddress(), credentials.createInsecure());
    // ServerReflectionRequest { list_services: "" } (field 7, length-delimited, empty).
    const listServices = Buffer.from([0x3a, 0x00]);
    const ask = (metadata: Metadata) =>
      new Promise<{ code: number; data: Buffer[] }>((resolve) => {
        const data: Buffer[] = [];
        const open = (
          reflection as unknown as Record<string, (m: Metadata) => ClientDuplexStream<Buffer, Buffer>>
        ).ServerReflectionInfo as (m: Metadata) => ClientDuplexStream<Buffer, Buffer>;
        const call = open.call(reflection, metadata);
        call.on("data", (chunk: Buffer) => data.push(chunk));
        call.on("error", (error: { code: number }) => resolve({ code: error.code, data }));
        call.on("status", (result: { code: number }) => resolve({ code: result.code, data }));
        call.write(listServices);
        call.end();
      });
    try {
      expect((await ask(new Metadata())).code).toBe(status.UNAUTHENTICATED);
      const keyed = new Metadata();
      keyed.set("authorization", `Bearer ${READER.accessKeyId}:${READER.secretAccessKey}`);
      const answered = await ask(keyed);
      expect(answered.code).toBe(status.OK);
      expect(Buffer.concat(answered.data).toString("latin1")).toContain("sluice.v1.StreamsService");
    } finally {
      reflection.close();
    }
  });
});

describe("consumer-group worker with auth on", () => {
  it("consumes with credentials and is refused without them", async () => {
    const producer = client(READER);
    for (let n = 0; n < 20; n++) {
      await producer.putRecord({
        streamName: STREAM,
        partitionKey: `k${n}`,
        data: Buffer.from(`record-${n}`),
      });
    }
    const seen = new Set<string>();
    const worker = new ConsumerGroup({
      streamName: STREAM,
      groupName: "billing",
      endpoints: endpoints(),
      credentials: READER,
    });
    await worker.run(async (records: readonly GroupRecord[], context) => {
      for (const record of records) seen.add(record.data.toString("utf8"));
      await context.checkpoint();
    });
    try {
      await waitFor(() => seen.size === 20, {
        timeoutMs: WAIT_MS,
        what: "the worker to read all 20 records",
      });
    } finally {
      await worker.stop();
    }

    const anonymous = new ConsumerGroup({ streamName: STREAM, groupName: "billing", endpoints: endpoints() });
    const error = await anonymous
      .run(async () => {})
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    await anonymous.stop().catch(() => {});
    expect(error).toBeInstanceOf(GroupError);
    expect((error as GroupError).code).toBe("MISSING_AUTHENTICATION_TOKEN");
    expect((error as GroupError).retriable).toBe(false);
  }, 60_000);
});

describe("refused calls in the request metrics", () => {
  it("counts gRPC and Kinesis HTTP refusals by their error name, and refused admin calls as Admin", async () => {
    await callRefusal(client().listStreams({}));
    await callRefusal(client(READER).listStreams({}));
    // An unsigned call on the Kinesis HTTP port of node 1.
    const unsigned = await fetch(`http://127.0.0.1:${cluster.ports(1).http}/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.DescribeLimits",
      },
      body: "{}",
    });
    expect(unsigned.status).toBe(400);
    const scrape = async () => (await fetch(`http://127.0.0.1:${cluster.ports(1).metrics}/metrics`)).text();
    const counted = (text: string, operation: string, outcome: string) =>
      text
        .split("\n")
        .some(
          (line) =>
            line.startsWith("sluice_gateway_request_duration_seconds_count{") &&
            line.includes(`operation="${operation}"`) &&
            line.includes(`outcome="${outcome}"`) &&
            Number(line.slice(line.lastIndexOf(" ") + 1)) >= 1,
        );
    // Node 1 answered the admin refusals above; the SDK's calls went to any node, so sum over all.
    const texts = await Promise.all(
      cluster.nodeIds.map((nodeId) =>
        fetch(`http://127.0.0.1:${cluster.ports(nodeId).metrics}/metrics`).then((response) =>
          response.text(),
        ),
      ),
    );
    expect(texts.some((text) => counted(text, "ListStreams", "MissingAuthenticationTokenException"))).toBe(
      true,
    );
    expect(texts.some((text) => counted(text, "ListStreams", "AccessDeniedException"))).toBe(true);
    expect(counted(await scrape(), "DescribeLimits", "MissingAuthenticationTokenException")).toBe(true);
    expect(counted(await scrape(), "Admin", "AccessDeniedException")).toBe(true);
    expect(counted(await scrape(), "Admin", "MissingAuthenticationTokenException")).toBe(true);
  });
});

describe("key file reload", () => {
  it("takes a key added to the running cluster's file, and drops it once removed", async () => {
    const keysFile = join(dataDir, "auth", "access-keys");
    const before = readFileSync(keysFile, "utf8");
    const late = client(LATE);
    expect((await callRefusal(late.listStreams({}))).errorName).toBe("UnrecognizedClientException");

    writeFileSync(keysFile, `${before}${LATE.accessKeyId}:${LATE.secretAccessKey}:latecomer\n`);
    // Every node polls its own file: wait until each one takes the key.
    for (const nodeId of cluster.nodeIds) {
      const one = new SluiceClient({ endpoints: [grpcAddress(nodeId)], credentials: LATE });
      clients.push(one);
      await waitFor(async () => (await one.listStreams({})).streamNames.includes(STREAM), {
        timeoutMs: WAIT_MS,
        what: `node ${nodeId} to take the added key`,
      });
    }

    writeFileSync(keysFile, before);
    for (const nodeId of cluster.nodeIds) {
      const one = new SluiceClient({ endpoints: [grpcAddress(nodeId)], credentials: LATE });
      clients.push(one);
      await waitFor(
        async () => (await callRefusal(one.listStreams({}))).errorName === "UnrecognizedClientException",
        { timeoutMs: WAIT_MS, what: `node ${nodeId} to refuse the removed key` },
      );
    }
  }, 60_000);
});
