// Proves that a three-node cluster started with `--tls-dir` (certificates from `sluice certs
// init`) serves everything over TLS and nothing in plaintext: the SDK and the AWS SDK (h2 and
// http/1.1 by ALPN) work with the CA trusted; plaintext is refused on every port; a process with
// a certificate from another CA, or from the right CA but naming no member, is refused on the
// peer port and counted in sluice_peer_tls_rejected_total while the cluster keeps serving; and a
// certificate replaced on disk is what new connections see.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { CreateStreamCommand, KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { credentials, Metadata } from "@grpc/grpc-js";
import { peerIdentityUri } from "@sluice/broker";
import { SluiceClient } from "@sluice/client";
import { AdminClient, NodeProcess, waitFor } from "@sluice/harness";
import { health } from "@sluice/proto";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initCertificates } from "../src/commands/certs.js";
import { issueCertificate } from "../src/commands/certs-x509.js";

// This file uses ports 20100-20111.
const BASE_PORT = 20_100;
const CLUSTER_ID = "tls-test";
const NODE_IDS = [1, 2, 3] as const;

const ports = (nodeId: number) => {
  const base = BASE_PORT + (nodeId - 1) * 4;
  return { grpc: base, peer: base + 1, http: base + 2, metrics: base + 3 };
};

let dir: string;
let certsDir: string;
let ca: Buffer;
const processes = new Map<number, NodeProcess>();
const admins = new Map<number, AdminClient>();
let client: SluiceClient;

function certs(out: string): void {
  initCertificates({
    outDir: out,
    nodeIds: [...NODE_IDS],
    clusterId: CLUSTER_ID,
    extraHosts: [],
    validDays: 30,
    force: false,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-tls-"));
  certsDir = join(dir, "certs");
  certs(certsDir);
  ca = readFileSync(join(certsDir, "ca.crt"));
  // The AWS SDK's h2 handler takes no CA option: trust ours process-wide, as NODE_EXTRA_CA_CERTS would.
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ca.toString()]);
  const peers = NODE_IDS.map((id) => `${id}=127.0.0.1:${ports(id).peer}`).join(",");
  for (const nodeId of NODE_IDS) {
    const p = ports(nodeId);
    const node = new NodeProcess({
      nodeId,
      args: [
        `--node-id=${nodeId}`,
        `--zone=${String.fromCharCode(96 + nodeId)}`,
        `--cluster-id=${CLUSTER_ID}`,
        `--data=${join(dir, `node-${nodeId}`)}`,
        `--grpc-listen=127.0.0.1:${p.grpc}`,
        `--peer-listen=127.0.0.1:${p.peer}`,
        `--http-listen=127.0.0.1:${p.http}`,
        `--metrics-listen=127.0.0.1:${p.metrics}`,
        `--peers=${peers}`,
        `--tls-dir=${certsDir}`,
      ],
      logFile: join(dir, `node-${nodeId}.log`),
    });
    processes.set(nodeId, node);
    admins.set(nodeId, new AdminClient(`127.0.0.1:${p.grpc}`, { tls: { ca } }));
    node.start();
  }
  for (const nodeId of NODE_IDS) {
    const node = processes.get(nodeId) as NodeProcess;
    await waitFor(
      async () => {
        if (!node.running) throw new Error(`node ${nodeId} exited while starting. ${node.logTail()}`);
        return (
          (await (admins.get(nodeId) as AdminClient).health(500, "sluice.v1.StreamsService")) === "SERVING"
        );
      },
      { timeoutMs: 30_000, what: `node ${nodeId} to serve over TLS`, intervalMs: 50 },
    );
  }
  client = new SluiceClient({
    endpoints: NODE_IDS.map((id) => `127.0.0.1:${ports(id).grpc}`),
    tls: { ca },
  });
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const admin of admins.values()) admin.close();
  await Promise.all([...processes.values()].map((node) => node.kill("SIGTERM").catch(() => {})));
  if (process.env.SLUICE_HARNESS_KEEP_DATA !== "1") rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Resolves with the error a plaintext HTTP/1.1 request gets, or rejects if it is answered. */
function plainHttp1(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, method: "POST", path: "/" }, (response) =>
      reject(new Error(`plaintext HTTP/1.1 was answered ${response.statusCode}`)),
    );
    request.on("error", (error) => resolve(error.message));
    request.end("{}");
  });
}

/** Resolves with the error a plaintext (h2c) HTTP/2 request gets, or rejects if it is answered. */
function plainH2c(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", (error) => resolve(error.message));
    const stream = session.request({ ":method": "POST", ":path": "/", "content-type": "application/grpc" });
    stream.on("response", (headers) => {
      session.destroy();
      reject(new Error(`plaintext h2c was answered ${headers[":status"]}`));
    });
    stream.on("error", (error) => resolve(error.message));
    stream.on("close", () => {
      session.destroy();
      resolve("closed");
    });
    stream.end();
  });
}

/** The serial number of the certificate a TLS server on `port` presents now. */
function servedSerial(port: number, options: tls.ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, ALPNProtocols: ["h2"], ...options }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on("error", reject);
  });
}

/** Opens a RaftStream on node 1's peer port as `identity` and reports how it ended. */
function raftStreamAs(identity: { cert: string; key: string; ca: string }): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`https://127.0.0.1:${ports(1).peer}`, {
      ...identity,
      checkServerIdentity: () => undefined,
    });
    session.on("error", (error) => resolve(`session: ${error.message}`));
    session.on("close", () => resolve("closed"));
    const stream = session.request({
      ":method": "POST",
      ":path": "/sluice.peer.v1.PeerService/RaftStream",
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    stream.on("error", (error) => resolve(`stream: ${error.message}`));
    stream.on("response", (headers) => resolve(`answered: grpc-status ${headers["grpc-status"] ?? "-"}`));
    stream.write(Buffer.from([0, 0, 0, 0, 0]));
  });
}

async function peerRejections(): Promise<Record<string, number>> {
  // The metrics endpoint serves HTTPS with the node's certificate (the CA is trusted process-wide).
  const response = await fetch(`https://127.0.0.1:${ports(1).metrics}/metrics`);
  const text = await response.text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_peer_tls_rejected_total\{([^}]*)\} (\d+)/gm)) {
    const reason = /reason="(\w+)"/.exec(match[1] as string)?.[1] ?? "?";
    counts[reason] = Number(match[2]);
  }
  return counts;
}

describe("a cluster with TLS everywhere", () => {
  it("creates a stream, takes records and reads them back over TLS", async () => {
    await client.createStream({ streamName: "tls-orders", shardCount: 2 });
    await client.waitForStreamStatus("tls-orders", { timeoutMs: 30_000 });
    const producer = client.producer({ streamName: "tls-orders" });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        producer.send({ partitionKey: `k${index % 4}`, data: `r${index}` }),
      ),
    );
    await producer.close();
    const reader = client.streamReader({
      streamName: "tls-orders",
      start: { type: "TRIM_HORIZON" },
      follow: false,
    });
    const read: string[] = [];
    for await (const record of reader) read.push(record.data.toString());
    expect(read.sort()).toEqual(Array.from({ length: 20 }, (_, index) => `r${index}`).sort());
  });

  it("serves the AWS SDK over https, h2 and http/1.1 by ALPN", async () => {
    for (const handler of [
      new NodeHttp2Handler(),
      new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
    ]) {
      const kinesis = new KinesisClient({
        endpoint: `https://127.0.0.1:${ports(2).http}`,
        region: "us-east-1",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
        requestHandler: handler,
      });
      try {
        const listed = await kinesis.send(new ListStreamsCommand({}));
        expect(listed.StreamNames).toContain("tls-orders");
      } finally {
        kinesis.destroy();
      }
    }
    const kinesis = new KinesisClient({
      endpoint: `https://127.0.0.1:${ports(3).http}`,
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
      requestHandler: new NodeHttp2Handler(),
    });
    await kinesis.send(new CreateStreamCommand({ StreamName: "tls-h2", ShardCount: 1 }));
    kinesis.destroy();
  });

  it("refuses plaintext on the gRPC, Kinesis HTTP, metrics and peer ports", async () => {
    const insecure = new health.HealthClient(`127.0.0.1:${ports(1).grpc}`, credentials.createInsecure());
    const outcome = await new Promise<string>((resolve) =>
      insecure.check({ service: "" }, new Metadata(), { deadline: Date.now() + 2_000 }, (error, response) =>
        resolve(error === null ? `answered ${response?.status}` : `failed: ${error.code}`),
      ),
    );
    insecure.close();
    expect(outcome).toMatch(/^failed/);
    await expect(plainHttp1(ports(1).http)).resolves.toBeTypeOf("string");
    await expect(plainH2c(ports(1).http)).resolves.toBeTypeOf("string");
    await expect(plainH2c(ports(1).peer)).resolves.toBeTypeOf("string");
    await expect(plainHttp1(ports(1).metrics)).resolves.toBeTypeOf("string");
  });

  it("refuses a certificate from another CA and one naming no member on the peer port, and counts both", async () => {
    const before = await peerRejections();
    const foreignDir = join(dir, "foreign");
    certs(foreignDir);
    const foreign = {
      cert: readFileSync(join(foreignDir, "node-1.crt"), "utf8"),
      key: readFileSync(join(foreignDir, "node-1.key"), "utf8"),
      // It trusts the cluster CA (it could know it: it is public); only its own certificate is foreign.
      ca: ca.toString(),
    };
    expect(await raftStreamAs(foreign)).not.toMatch(/^answered/);
    const clusterCa = {
      certPem: ca.toString(),
      keyPem: readFileSync(join(certsDir, "ca.key"), "utf8"),
    };
    const stranger = issueCertificate(clusterCa, {
      commonName: "node-9",
      uris: [peerIdentityUri(CLUSTER_ID, 9)],
      validDays: 1,
      usage: "both",
    });
    expect(
      await raftStreamAs({ cert: stranger.certPem, key: stranger.keyPem, ca: ca.toString() }),
    ).not.toMatch(/^answered/);
    await waitFor(
      async () => {
        const after = await peerRejections();
        return (
          (after.handshake ?? 0) > (before.handshake ?? 0) && (after.identity ?? 0) > (before.identity ?? 0)
        );
      },
      { timeoutMs: 10_000, what: "both refusals to be counted" },
    );
    // The cluster did not notice: it still takes writes.
    const producer = client.producer({ streamName: "tls-orders" });
    await producer.send({ partitionKey: "after", data: "still-serving" });
    await producer.close();
  });

  it("serves a replaced certificate to new connections on every port", async () => {
    const clusterCa = { certPem: ca.toString(), keyPem: readFileSync(join(certsDir, "ca.key"), "utf8") };
    const renewed = issueCertificate(clusterCa, {
      commonName: "node-1",
      hosts: ["localhost", "127.0.0.1"],
      uris: [peerIdentityUri(CLUSTER_ID, 1)],
      validDays: 60,
      usage: "both",
    });
    const serial = new X509Certificate(renewed.certPem).serialNumber;
    const node2 = {
      cert: readFileSync(join(certsDir, "node-2.crt")),
      key: readFileSync(join(certsDir, "node-2.key")),
    };
    // The key first would pair the new key with the old certificate for a moment; the node keeps
    // the previous material until the two load together.
    writeFileSync(join(certsDir, "node-1.key"), renewed.keyPem);
    writeFileSync(join(certsDir, "node-1.crt"), renewed.certPem);
    await waitFor(
      async () =>
        (await servedSerial(ports(1).grpc)) === serial &&
        (await servedSerial(ports(1).http)) === serial &&
        (await servedSerial(ports(1).peer, { ...node2, checkServerIdentity: () => undefined })) === serial,
      { timeoutMs: 15_000, what: "every port of node 1 to present the renewed certificate" },
    );
    // And the renewed node still replicates: a write through node 1 lands.
    const admin = admins.get(1) as AdminClient;
    expect(await admin.health(2_000, "sluice.v1.StreamsService")).toBe("SERVING");
  });
});
