/**
 * The internal principal: who a node's own in-process clients (the delivery runner and the
 * Firehose API, which call the node's public gRPC port like any client) are when authentication
 * is on. It needs no operator setup and cannot be guessed: each node's AccessControl makes its
 * own key from INTERNAL_SECRET_BYTES random bytes when first asked (`registerInternalPrincipal`)
 * and hands it only to clients in the same process. The key never leaves the process (not
 * written to disk, not sent to other nodes, since those clients call their own node only) and
 * is new at every start; nothing on disk, the cluster secret included, yields it.
 *
 * It cannot be configured or impersonated: its access key id and its principal name hold
 * characters that access-key files, policies and certificate names refuse ("-" in the id, ":" in
 * the name), so no configured key, policy entry or client certificate can claim it. It
 * authenticates over gRPC only (bearer metadata), never with SigV4 on the Kinesis HTTP port, and
 * is authorized by a fixed statement, not by the policy file: every `kinesis:*` and `sluice:*`
 * action on every stream except `sluice:Admin`. Audit lines name it `sluice:internal`.
 */
import { randomBytes } from "node:crypto";
import { ADMIN_OPERATION, INTERNAL_SECRET_BYTES } from "./constants.js";

/** The principal name of the internal clients, in audit lines and error messages. */
export const INTERNAL_PRINCIPAL = "sluice:internal";

/** The access key id of the internal key ("-" keeps it out of reach of any configured key id). */
export const INTERNAL_ACCESS_KEY_ID = "sluice-internal";

/** The credentials of the internal principal, for the node's own clients. */
export interface InternalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A fresh internal key: INTERNAL_SECRET_BYTES from the system's CSPRNG. */
export function newInternalCredentials(): InternalCredentials {
  return Object.freeze({
    accessKeyId: INTERNAL_ACCESS_KEY_ID,
    secretAccessKey: randomBytes(INTERNAL_SECRET_BYTES).toString("hex"),
  });
}

/** The action the internal principal is never allowed: every admin-service method. */
const INTERNAL_DENIED_ACTION = `sluice:${ADMIN_OPERATION}`.toLowerCase();

/**
 * Whether the internal principal may run `action` (an IAM action name, any stream): the data and
 * control plane of streams and consumer groups, `kinesis:*` and `sluice:*`, but not `sluice:Admin`.
 */
export function internalPrincipalAllows(action: string): boolean {
  const lower = action.toLowerCase();
  if (lower === INTERNAL_DENIED_ACTION) return false;
  return lower.startsWith("kinesis:") || lower.startsWith("sluice:");
}
