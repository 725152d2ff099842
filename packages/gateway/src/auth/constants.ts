/**
 * Limits and defaults of authentication, authorization and the audit log. Units are in the names.
 */

/**
 * How far a SigV4 request's X-Amz-Date may be from the server's clock, either way, before the
 * request is refused as expired (or not yet current): five minutes, as AWS.
 */
export const SIGV4_CLOCK_SKEW_MS_MAX = 5 * 60_000;

/** The only SigV4 algorithm accepted. */
export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";

/**
 * The services a SigV4 credential scope may name: the AWS CLI and SDKs sign Kinesis calls for
 * `kinesis`, and Firehose calls (delivery streams, served on the same port) for `firehose`.
 */
export const SIGV4_SERVICES: readonly string[] = ["kinesis", "firehose"];

/** Signing keys kept per (key, date, region, service): one HMAC chain per key per day, not per request. */
export const SIGNING_KEY_CACHE_ENTRIES_MAX = 1_024;

/** Longest Authorization header looked at; a longer one is IncompleteSignature. */
export const AUTHORIZATION_HEADER_CHARS_MAX = 8_192;

/** Largest access-key or policy file read (bytes): they are small, hand-written files. */
export const AUTH_FILE_BYTES_MAX = 4 * 1_048_576;

/** Access key ids: letters, digits and "_" (AWS ids are 16-128 such characters; shorter ones are allowed). */
export const ACCESS_KEY_ID_PATTERN = /^[A-Za-z0-9_]{4,128}$/;

/** Secrets: 8 to 256 printable characters other than ":" and "," (the separators of the line format). */
export const SECRET_ACCESS_KEY_PATTERN = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]{8,256}$/;

/** Principal names: what policies and audit lines name. */
export const PRINCIPAL_PATTERN = /^[A-Za-z0-9_.@+=-]{1,128}$/;

/** The principal of requests served without authentication (auth off). */
export const ANONYMOUS_PRINCIPAL = "anonymous";

/** The gRPC metadata key carrying `Bearer <access key id>:<secret>`. */
export const BEARER_METADATA_KEY = "authorization";

/**
 * How often a node running without authentication (--insecure, or no --auth-keys) logs its
 * warning, in ms: once a minute.
 */
export const INSECURE_WARNING_INTERVAL_MS = 60_000;

/** Audit bytes waiting to be written past which a warning is raised once (the disk is not keeping up). */
export const AUDIT_PENDING_BYTES_WARN = 16 * 1_048_576;

/** Statements per principal and principals per policy file (a bound on evaluation cost). */
export const POLICY_STATEMENTS_MAX = 1_000;

/**
 * The operation every admin-service method (sluice.admin.v1: raw appends, leader transfer, group
 * status) is authorized as, in the "sluice" namespace: the IAM action `sluice:Admin`, naming no
 * stream, so only a statement with the resource "*" grants it.
 */
export const ADMIN_OPERATION = "Admin";

/** How often the access-key and policy files are checked for a change, in ms (as the TLS files). */
export const AUTH_RELOAD_POLL_MS = 1_000;

/** Random bytes in the internal principal's secret (internal-principal.ts; sent hex-encoded). */
export const INTERNAL_SECRET_BYTES = 32;
