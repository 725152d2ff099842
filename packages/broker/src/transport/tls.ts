/**
 * Mutual TLS on the peer port. Every node holds a certificate signed by the cluster CA that names
 * it with a URI subject alternative name, `sluice://<cluster-id>/node/<node-id>`. The peer
 * server asks every client for its certificate and refuses the handshake unless the CA signed it
 * (Node's own chain check), then refuses the connection unless the identity names this cluster
 * and a member of `--peers`; a RaftStream must then claim the node id its certificate names. The
 * dialer checks the same way that the server it reached is the node it meant to reach (the
 * certificate's identity, not its host names: nodes are dialed by address, and an address proves
 * nothing).
 *
 * The material is read through `material()` at every new connection, so a certificate replaced on
 * disk (and reloaded by the caller) is used from the next handshake on; open connections keep
 * theirs.
 */
import type { PeerCertificate } from "node:tls";
import type { NodeId } from "raft-ts";

/** A certificate chain, its key, and the CA certificates trusted for peers (all PEM). */
export interface PeerTlsMaterial {
  readonly ca: Buffer | string;
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
}

export interface PeerTlsOptions {
  /** The current material; called for every new connection and handshake. */
  readonly material: () => PeerTlsMaterial;
  /** Called with each refused peer connection (bad chain, wrong identity); for a metric. */
  readonly onRejected?: (reason: PeerTlsRejection, remoteAddress: string) => void;
}

/** Why a peer connection was refused, as the label of `sluice_peer_tls_rejected_total`. */
export const PeerTlsRejection = {
  /** No certificate, one not signed by the cluster CA, expired, or a plaintext client. */
  Handshake: "handshake",
  /** Signed by the CA, but it names another cluster or a node that is not a member. */
  Identity: "identity",
} as const;
export type PeerTlsRejection = (typeof PeerTlsRejection)[keyof typeof PeerTlsRejection];

const IDENTITY_PREFIX = "sluice://";

/** The URI subject alternative name naming node `nodeId` of cluster `clusterId`. */
export function peerIdentityUri(clusterId: string, nodeId: NodeId): string {
  return `${IDENTITY_PREFIX}${encodeURIComponent(clusterId)}/node/${nodeId}`;
}

/**
 * The node id a certificate names for `clusterId`, or undefined when it names none (or another
 * cluster, or more than one node).
 */
export function nodeIdOfCertificate(
  certificate: Pick<PeerCertificate, "subjectaltname"> | undefined,
  clusterId: string,
): NodeId | undefined {
  const names = certificate?.subjectaltname;
  if (typeof names !== "string" || names === "") return undefined;
  const prefix = `URI:${IDENTITY_PREFIX}${encodeURIComponent(clusterId)}/node/`;
  let found: NodeId | undefined;
  for (const entry of names.split(", ")) {
    if (!entry.startsWith(prefix)) continue;
    const idText = entry.slice(prefix.length);
    if (!/^[1-9]\d{0,9}$/.test(idText)) return undefined;
    const id = Number(idText);
    if (found !== undefined && found !== id) return undefined;
    found = id;
  }
  return found;
}
