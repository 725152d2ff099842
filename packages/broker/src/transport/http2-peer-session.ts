/**
 * Opening an HTTP/2 client session to a peer's peer port, in plaintext (h2c) or with mutual TLS
 * as the peer port requires it (tls.ts): this node presents its certificate, and the server must
 * present one the cluster CA signed that names the node meant (its identity, not its host name:
 * peers are dialed by address, and an address proves nothing). Shared by the Raft stream's sender
 * (Http2PeerCall) and the gateway's forwarding stream, so both dial peers the same way.
 */
import * as http2 from "node:http2";
import type { NodeId } from "raft-ts";
import { nodeIdOfCertificate, type PeerTlsMaterial } from "./tls.js";

/** Mutual TLS of one session: what to present, and whom the server must be. */
export interface PeerCallTls {
  readonly material: PeerTlsMaterial;
  readonly clusterId: string;
  /** The node the server's certificate must name. */
  readonly expectedNodeId: NodeId;
}

export interface PeerSessionOptions {
  /** This end's receive window per stream, in bytes. */
  readonly windowBytes: number;
  /** Mutual TLS; @default undefined (plaintext h2c) */
  readonly tls?: PeerCallTls | undefined;
  /**
   * HTTP/2 state (buffered outbound data, headers) the session may hold, in MiB; Node refuses new
   * streams beyond it. @default Node's default (10)
   */
  readonly maxSessionMemoryMib?: number | undefined;
}

/**
 * Opens a session to `address` ("host:port") at once; connection and handshake failures arrive
 * as the session's 'error' (and fail its streams). The caller owns the session and destroys it.
 */
export function connectPeerSession(address: string, options: PeerSessionOptions): http2.ClientHttp2Session {
  const settings = { enablePush: false, initialWindowSize: options.windowBytes };
  const memory =
    options.maxSessionMemoryMib === undefined ? {} : { maxSessionMemory: options.maxSessionMemoryMib };
  const tls = options.tls;
  if (tls === undefined) return http2.connect(`http://${address}`, { settings, ...memory });
  return http2.connect(`https://${address}`, {
    settings,
    ...memory,
    ca: tls.material.ca,
    cert: tls.material.cert,
    key: tls.material.key,
    ALPNProtocols: ["h2"],
    // The chain is checked against the CA by Node; the identity, not the host name, says whether
    // this is the node meant.
    checkServerIdentity: (_host, certificate) => {
      const named = nodeIdOfCertificate(certificate, tls.clusterId);
      return named === tls.expectedNodeId
        ? undefined
        : new Error(
            `the peer at ${address} presented the identity of ${named === undefined ? "no member" : `node ${named}`}, not node ${tls.expectedNodeId} of cluster ${tls.clusterId}`,
          );
    },
  });
}
