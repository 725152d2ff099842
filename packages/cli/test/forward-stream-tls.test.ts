// Proves that the gateway's ForwardStream speaks mutual TLS to a peer port that requires it, as the node wires both (streams-host.ts): a forwarder holding a member's certificate gets its batches appended, while one expecting another node at that address, or holding a certificate of another CA, is refused with the retriable PeerUnavailableError and nothing is appended.
import { PeerHttp2Server, type PeerTlsMaterial, peerIdentityUri } from "@sluice/broker";
import {
  createForwardService,
  createForwardStreamHandler,
  FORWARD_STREAM_PATH,
  GrpcPeerForwarder,
  PeerUnavailableError,
} from "@sluice/gateway";
import { forward } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IssuedCertificate, issueCa, issueCertificate } from "../src/commands/certs-x509.js";

const CLUSTER_ID = "forward-tls";

function nodeMaterial(ca: IssuedCertificate, nodeId: number): PeerTlsMaterial {
  const issued = issueCertificate(ca, {
    commonName: `node-${nodeId}`,
    hosts: ["127.0.0.1", "localhost"],
    uris: [peerIdentityUri(CLUSTER_ID, nodeId)],
    validDays: 1,
    usage: "both",
  });
  return { ca: ca.certPem, cert: issued.certPem, key: issued.keyPem };
}

const appended: number[] = [];
let server: PeerHttp2Server;
let address: string;
let ca: IssuedCertificate;
const forwarders: GrpcPeerForwarder[] = [];

beforeAll(async () => {
  ca = issueCa("forward-tls-ca", 1);
  const serverMaterial = nodeMaterial(ca, 2);
  server = new PeerHttp2Server({
    tls: { material: () => serverMaterial, clusterId: CLUSTER_ID, members: new Set([1, 2, 3]) },
  });
  const targets = () => ({
    put: {
      appendAsLeader: async (_streamId: number, groupId: number, batch: Buffer) => {
        appended.push(groupId);
        return {
          accepted: batch.length,
          index: 42,
          firstOffset: 0,
          errorCode: "",
          errorMessage: "",
          leaderHint: 0,
        };
      },
    },
  });
  server.addUnaryService(forward.ForwardServiceService, createForwardService(targets));
  server.handleStream(FORWARD_STREAM_PATH, createForwardStreamHandler(targets));
  address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
});

afterAll(async () => {
  for (const forwarder of forwarders) forwarder.close();
  await server.close();
});

/** A forwarder of node 1 that believes node `expectedNodeId` listens at the server's address. */
function forwarder(material: PeerTlsMaterial, expectedNodeId = 2): GrpcPeerForwarder {
  const created = new GrpcPeerForwarder({
    addresses: new Map([[expectedNodeId, address]]),
    streamTls: { material: () => material, clusterId: CLUSTER_ID },
  });
  forwarders.push(created);
  return created;
}

describe("ForwardStream with mutual TLS", () => {
  it("forwards with a member's certificate", async () => {
    const reply = await forwarder(nodeMaterial(ca, 1)).putRecords(
      2,
      7,
      5,
      Buffer.alloc(9),
      Date.now() + 10_000,
    );
    expect([reply.accepted, reply.index]).toEqual([9, 42]);
    expect(appended).toEqual([5]);
  });

  it("refuses a server that is not the node meant, and a client of another CA", async () => {
    const wrongNode = await forwarder(nodeMaterial(ca, 1), 3)
      .putRecords(3, 7, 6, Buffer.alloc(9), Date.now() + 10_000)
      .catch((error: unknown) => error);
    expect(wrongNode).toBeInstanceOf(PeerUnavailableError);
    const otherCa = await forwarder(nodeMaterial(issueCa("another-ca", 1), 1))
      .putRecords(2, 7, 7, Buffer.alloc(9), Date.now() + 10_000)
      .catch((error: unknown) => error);
    expect(otherCa).toBeInstanceOf(PeerUnavailableError);
    expect(appended).toEqual([5]);
  });
});
