// Proves how a node's in-node clients check its certificate when they dial it on the loopback
// address: a certificate that names 127.0.0.1 (as `sluice certs init` issues) is checked by that
// address; one that names only a DNS name is checked by that name (`tls.serverName`), and a
// client given that name completes a real TLS call to a loopback gRPC server, one without it fails.
import * as grpc from "@grpc/grpc-js";
import { SluiceCallError, SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCa, issueCertificate } from "../src/commands/certs-x509.js";
import { certificateNameFor } from "../src/node/delivery-host.js";

// This file uses port 20396.
const PORT = 20_396;
const ca = issueCa("test CA", 1);
const byName = issueCertificate(ca, {
  commonName: "node-1",
  hosts: ["sluice.example.internal"],
  validDays: 1,
  usage: "server",
});
const byAddress = issueCertificate(ca, {
  commonName: "node-1",
  hosts: ["localhost", "127.0.0.1"],
  validDays: 1,
  usage: "server",
});
const wildcard = issueCertificate(ca, {
  commonName: "node-1",
  hosts: ["*.nodes.example"],
  validDays: 1,
  usage: "server",
});

let server: grpc.Server;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(streams.StreamsServiceService, {
    listStreams: (
      _call: grpc.ServerUnaryCall<unknown, streams.ListStreamsResponse>,
      callback: grpc.sendUnaryData<streams.ListStreamsResponse>,
    ) => callback(null, streams.ListStreamsResponse.fromPartial({ streamNames: ["served"] })),
  } as unknown as grpc.UntypedServiceImplementation);
  const credentials = grpc.ServerCredentials.createSsl(null, [
    { cert_chain: Buffer.from(byName.certPem), private_key: Buffer.from(byName.keyPem) },
  ]);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${PORT}`, credentials, (error) =>
      error === null ? resolve() : reject(error),
    ),
  );
});
afterAll(() => {
  server?.forceShutdown();
});

describe("the name the in-node clients check", () => {
  it("is the address dialed when the certificate names it, else its first DNS name", () => {
    expect(certificateNameFor(Buffer.from(byAddress.certPem), "127.0.0.1")).toBeUndefined();
    expect(certificateNameFor(Buffer.from(byAddress.certPem), "localhost")).toBeUndefined();
    expect(certificateNameFor(Buffer.from(byName.certPem), "127.0.0.1")).toBe("sluice.example.internal");
    expect(certificateNameFor(Buffer.from(wildcard.certPem), "127.0.0.1")).toBe("node.nodes.example");
  });

  it("lets a client reach a loopback TLS server whose certificate does not name the address", async () => {
    const named = new SluiceClient({
      endpoints: [`127.0.0.1:${PORT}`],
      deadlineMs: 5_000,
      tls: { ca: ca.certPem, serverName: "sluice.example.internal" },
    });
    const unnamed = new SluiceClient({
      endpoints: [`127.0.0.1:${PORT}`],
      deadlineMs: 2_000,
      tls: { ca: ca.certPem },
    });
    try {
      expect((await named.listStreams({})).streamNames).toEqual(["served"]);
      await expect(unnamed.listStreams({})).rejects.toBeInstanceOf(SluiceCallError);
    } finally {
      named.close();
      unnamed.close();
    }
  });
});
