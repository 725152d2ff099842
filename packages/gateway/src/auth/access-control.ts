/**
 * The one place where a call is authenticated, authorized and audited, shared by the Kinesis HTTP
 * API (http/handler.ts) and the gRPC services (grpc-guard.ts):
 *
 *   authenticate (SigV4 over HTTP; a bearer key or a client certificate over gRPC) → principal
 *   authorize (principal, IAM action, stream) against the policy → run → audit (control plane)
 *
 * With no access keys configured, authentication is off: every call is the principal
 * "anonymous" and is allowed (the development mode; the node warns about it periodically). With
 * keys, a policy is required and everything it does not allow is denied. Keys and policy may be
 * replaced while the node runs (`replace`, when their files change); whether authentication is
 * on is fixed at construction.
 *
 * The node's own in-process clients authenticate as the internal principal (internal-principal.ts):
 * its key is made here on first use (`registerInternalPrincipal`), is kept apart from the
 * configured keys and policy (so `replace` never drops it), and is authorized by its fixed
 * statement, not by the policy.
 */
import { timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { AccessDeniedError, AuthenticationError, GatewayErrorCode } from "../errors.js";
import { KinesisHttpError } from "../http/errors.js";
import type { AuthenticationRequest } from "../http/exchange.js";
import { resolveError } from "../status-details.js";
import { type ActionNamespace, actionOf, CONTROL_PLANE_OPERATIONS, streamOf } from "./actions.js";
import type { AuditEntry, AuditSink } from "./audit-log.js";
import { ANONYMOUS_PRINCIPAL, BEARER_METADATA_KEY, PRINCIPAL_PATTERN } from "./constants.js";
import type { AccessKeyStore } from "./credentials.js";
import {
  INTERNAL_ACCESS_KEY_ID,
  INTERNAL_PRINCIPAL,
  type InternalCredentials,
  internalPrincipalAllows,
  newInternalCredentials,
} from "./internal-principal.js";
import type { Policy } from "./policy.js";
import { SigV4Verifier } from "./sigv4.js";

/** How a principal proved who it is ("internal": the node's own clients, with the internal key). */
export type AuthenticationMethod = "sigv4" | "bearer" | "certificate" | "internal" | "none";

/** Who is calling. */
export interface Principal {
  readonly name: string;
  readonly via: AuthenticationMethod;
}

/** The anonymous principal of a node without authentication. */
export const ANONYMOUS: Principal = Object.freeze({ name: ANONYMOUS_PRINCIPAL, via: "none" });

/** The node's own clients (see internal-principal.ts); only the internal key authenticates as it. */
export const INTERNAL: Principal = Object.freeze({ name: INTERNAL_PRINCIPAL, via: "internal" });

/** What the gRPC authentication reads of a call (a grpc-js ServerSurfaceCall fits). */
export interface GrpcCallCredentials {
  readonly metadata: Metadata;
  getAuthContext?(): {
    readonly sslPeerCertificate?: { readonly subject?: { readonly CN?: string | string[] } };
  };
}

export interface AccessControlOptions {
  /** The configured keys; absent, authentication is off. */
  readonly keys?: AccessKeyStore;
  /** Required with `keys`: who may do what. */
  readonly policy?: Policy;
  /** Where control-plane audit lines go. @default none */
  readonly audit?: AuditSink;
  /** Wall clock in ms (SigV4 skew window, audit times). @default Date.now */
  readonly clock?: () => number;
  /** SigV4 clock-skew window in ms. @default SIGV4_CLOCK_SKEW_MS_MAX */
  readonly clockSkewMsMax?: number;
}

/** Called once when an authorized call ends: without a name it succeeded, else its Kinesis error name. */
export type CallFinisher = (errorName?: string) => void;

const NO_AUDIT: CallFinisher = () => {};

export class AccessControl {
  /** True when calls must authenticate and are checked against the policy. */
  readonly enabled: boolean;
  #keys: AccessKeyStore | undefined;
  #policy: Policy | undefined;
  readonly #audit: AuditSink | undefined;
  readonly #clock: () => number;
  readonly #clockSkewMsMax: number | undefined;
  #sigv4: SigV4Verifier | undefined;
  /** The internal key, once registered; never replaced with the configured keys. */
  #internal: InternalCredentials | undefined;

  constructor(options: AccessControlOptions = {}) {
    if (options.keys !== undefined && options.policy === undefined) {
      throw new RangeError(
        "AccessControl: access keys need a policy (everything would be denied without one)",
      );
    }
    this.#keys = options.keys;
    this.#policy = options.policy;
    this.#audit = options.audit;
    this.#clock = options.clock ?? Date.now;
    this.enabled = options.keys !== undefined;
    this.#clockSkewMsMax = options.clockSkewMsMax;
    this.#sigv4 = options.keys === undefined ? undefined : this.#verifierOf(options.keys);
  }

  /**
   * Replaces the keys and the policy together (their files changed): calls authenticated from
   * now on use the new ones; a removed key stops working at once, calls already running finish.
   * RangeError when authentication is off (it cannot be turned on or off while running).
   */
  replace(keys: AccessKeyStore, policy: Policy): void {
    if (!this.enabled) {
      throw new RangeError("AccessControl.replace: authentication is off; restart the node to turn it on");
    }
    // A new verifier, so no signing key derived from a removed or changed secret is kept.
    const sigv4 = this.#verifierOf(keys);
    this.#keys = keys;
    this.#policy = policy;
    this.#sigv4 = sigv4;
  }

  /**
   * The internal principal's key for the node's own clients (made on the first call, the same
   * afterwards); undefined when authentication is off (they need none). Hand it to clients in
   * this process only. It survives `replace`: reloading the key and policy files never locks the
   * node's own clients out.
   */
  registerInternalPrincipal(): InternalCredentials | undefined {
    if (!this.enabled) return undefined;
    this.#internal ??= newInternalCredentials();
    return this.#internal;
  }

  #verifierOf(keys: AccessKeyStore): SigV4Verifier {
    return new SigV4Verifier({
      keys,
      clock: this.#clock,
      ...(this.#clockSkewMsMax === undefined ? {} : { clockSkewMsMax: this.#clockSkewMsMax }),
    });
  }

  /** The principal of a Kinesis HTTP request (SigV4); AuthenticationError when it does not verify. */
  authenticateHttp(request: AuthenticationRequest): Principal {
    if (this.#sigv4 === undefined) return ANONYMOUS;
    const key = this.#sigv4.verify(request);
    return { name: key.principal, via: "sigv4" };
  }

  /**
   * The principal of a gRPC call: `authorization: Bearer <access key id>:<secret>` metadata, else
   * the CN of a verified client certificate; AuthenticationError when neither is there or valid.
   */
  authenticateGrpc(call: GrpcCallCredentials): Principal {
    const keys = this.#keys;
    if (keys === undefined) return ANONYMOUS;
    const header = call.metadata.get(BEARER_METADATA_KEY)[0];
    if (header !== undefined) {
      const text = header.toString();
      const match = /^Bearer ([^:\s]+):(\S+)$/.exec(text);
      if (match === null) {
        throw new AuthenticationError(
          GatewayErrorCode.IncompleteSignature,
          "the authorization metadata must be `Bearer <access key id>:<secret access key>`",
        );
      }
      if (match[1] === INTERNAL_ACCESS_KEY_ID) return this.#authenticateInternal(match[2] as string);
      const found = keys.check(match[1] as string, match[2] as string);
      if (found === "unknown") {
        throw new AuthenticationError(
          GatewayErrorCode.UnrecognizedClient,
          "The security token included in the request is invalid: the access key id is not configured on this cluster",
        );
      }
      if (found === "mismatch") {
        throw new AuthenticationError(
          GatewayErrorCode.InvalidSignature,
          "the secret access key does not match the access key id; check the credentials",
        );
      }
      return { name: found.principal, via: "bearer" };
    }
    const commonName = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
    const name = Array.isArray(commonName) ? commonName[0] : commonName;
    if (name !== undefined && PRINCIPAL_PATTERN.test(name)) return { name, via: "certificate" };
    throw new AuthenticationError(
      GatewayErrorCode.MissingAuthenticationToken,
      "Missing Authentication Token: send `authorization: Bearer <access key id>:<secret>` metadata or a client certificate",
    );
  }

  /** The internal principal when `secret` is the registered internal key's (constant-time compare). */
  #authenticateInternal(secret: string): Principal {
    const internal = this.#internal;
    if (internal === undefined) {
      throw new AuthenticationError(
        GatewayErrorCode.UnrecognizedClient,
        "The security token included in the request is invalid: the internal key is not registered on this node; it is used only by the node's own clients",
      );
    }
    const expected = Buffer.from(internal.secretAccessKey, "utf8");
    const given = Buffer.from(secret, "utf8");
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new AuthenticationError(
        GatewayErrorCode.InvalidSignature,
        "the internal key does not match this node's; it is used only by the node's own clients",
      );
    }
    return INTERNAL;
  }

  /**
   * Checks that `principal` may run `operation` (its Kinesis or Sluice name) on the stream the
   * request names. Throws AccessDeniedError when the policy does not allow it (audited, for a
   * control-plane operation); otherwise returns the finisher to call with the outcome.
   */
  authorize(
    principal: Principal,
    namespace: ActionNamespace,
    operation: string,
    request: unknown,
  ): CallFinisher {
    const audited = this.#audit !== undefined && CONTROL_PLANE_OPERATIONS.has(operation);
    if (!this.enabled && !audited) return NO_AUDIT;
    const action = actionOf(namespace, operation);
    const stream = streamOf(request);
    if (this.enabled) {
      const decision =
        principal.via === "internal"
          ? internalPrincipalAllows(action)
            ? "allow"
            : "implicit-deny"
          : (this.#policy as Policy).evaluate(principal.name, action, stream);
      if (decision !== "allow") {
        const error = new AccessDeniedError(
          `User: ${principal.name} is not authorized to perform: ${action} on resource: ${stream === undefined ? "*" : `${namespace === "firehose" ? "deliverystream" : "stream"}/${stream}`}${decision === "explicit-deny" ? " with an explicit deny" : ""}; ask for it to be added to the policy`,
        );
        if (audited) this.#write(principal, action, stream, "denied", error.kinesisName);
        throw error;
      }
    }
    if (!audited) return NO_AUDIT;
    let done = false;
    return (errorName) => {
      if (done) return;
      done = true;
      this.#write(principal, action, stream, errorName === undefined ? "ok" : "error", errorName);
    };
  }

  /** Flushes and closes the audit log. */
  close(): Promise<void> {
    return this.#audit?.close() ?? Promise.resolve();
  }

  #write(
    principal: Principal,
    action: string,
    stream: string | undefined,
    outcome: AuditEntry["outcome"],
    error: string | undefined,
  ): void {
    this.#audit?.write({
      time: new Date(this.#clock()).toISOString(),
      principal: principal.name,
      via: principal.via,
      action,
      ...(stream === undefined ? {} : { stream }),
      outcome,
      ...(error === undefined ? {} : { error }),
    });
  }
}

/** The Kinesis error name a client is told for `error` (protocol errors and the error table alike). */
export function kinesisErrorNameOf(error: unknown): string {
  if (error instanceof KinesisHttpError) return error.kinesisName;
  return resolveError(error).entry.kinesisName;
}
