/**
 * The clients a node's own services (delivery streams, stream analytics) use to reach this
 * node's public gRPC port, speaking as any client must: over TLS on a secure node, trusting the
 * node's configured CA (--tls-ca, else the peer CA) and checking the node's certificate by a name
 * it carries (the loopback address when the certificate names it, as `sluice certs init`'s do,
 * else its first DNS name); and with authentication on, as the internal principal
 * `sluice:internal` (auth.ts `internalCredentialsOf`), whose key never leaves this process.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import {
  type GroupTransport,
  grpcGroupTransport,
  SluiceClient,
  type SluiceClientCredentials,
  type SluiceClientTls,
} from "@sluice/client";
import { internalCredentialsOf } from "./auth.js";
import { formatHostPort, type NodeConfig } from "./config.js";

/** A client and a consumer-group transport of this node's public port; the caller closes both. */
export interface InNodeClients {
  readonly endpoint: string;
  readonly tls: SluiceClientTls | undefined;
  readonly credentials: SluiceClientCredentials | undefined;
  readonly client: SluiceClient;
  readonly transport: GroupTransport;
}

export function openInNodeClients(config: NodeConfig): InNodeClients {
  const { endpoint, tls } = inNodeEndpoint(config);
  const credentials = internalCredentialsOf(config.auth);
  const security = {
    ...(tls === undefined ? {} : { tls }),
    ...(credentials === undefined ? {} : { credentials }),
  };
  return {
    endpoint,
    tls,
    credentials,
    client: new SluiceClient({ endpoints: [endpoint], ...security }),
    transport: grpcGroupTransport([endpoint], security),
  };
}

/**
 * Where the in-node clients dial this node's public gRPC port, and their TLS options when the
 * node serves TLS: the CA is --tls-ca, else the peer CA, else the system's; the certificate is
 * checked against the address dialed when it names it, else against its first DNS name. The CA
 * is read once: after replacing the CA itself (not a node certificate), restart the node.
 */
export function inNodeEndpoint(config: NodeConfig): { endpoint: string; tls: SluiceClientTls | undefined } {
  const { host, port } = config.grpcListen;
  const dialHost = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  const endpoint = formatHostPort({ host: dialHost, port });
  if (config.tls === undefined) return { endpoint, tls: undefined };
  const caFile = config.tls.caFile ?? config.peerTls?.caFile;
  const ca = caFile === undefined ? undefined : readFileSync(caFile);
  const serverName = certificateNameFor(readFileSync(config.tls.certFile), dialHost);
  return {
    endpoint,
    tls: {
      ...(ca === undefined ? {} : { ca }),
      ...(serverName === undefined ? {} : { serverName }),
    },
  };
}

/**
 * The name to check the node's certificate (PEM chain, leaf first) against when dialed at
 * `dialHost`: undefined when the certificate names `dialHost` itself, else its first DNS name (a
 * wildcard's `*` made a label), else its common name.
 */
export function certificateNameFor(chain: Buffer, dialHost: string): string | undefined {
  const certificate = new X509Certificate(chain);
  const covered = isIP(dialHost) === 0 ? certificate.checkHost(dialHost) : certificate.checkIP(dialHost);
  if (covered !== undefined) return undefined;
  const dns = (certificate.subjectAltName ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .find((entry) => entry.startsWith("DNS:"));
  if (dns !== undefined) return dns.slice("DNS:".length).replace(/^\*\./, "node.");
  return /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
}
