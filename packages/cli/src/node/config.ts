/**
 * The node's configuration, from flags and `SLUICE_*` environment variables (a flag wins over
 * its variable), validated once before anything is opened or bound. Every problem is reported as
 * one `StartupError` whose message is a single line naming the flag at fault.
 */
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { authConstants } from "@sluice/gateway";
import {
  CLUSTER_ID_DEFAULT,
  CLUSTER_ID_LENGTH_MAX,
  CLUSTER_NODES_MAX,
  GRPC_PORT_BASE_DEFAULT,
  HTTP_PORT_BASE_DEFAULT,
  LISTEN_HOST_DEFAULT,
  METRICS_PORT_BASE_DEFAULT,
  NODE_ID_MAX,
  ZONE_DEFAULT,
  ZONE_LENGTH_MAX,
} from "../constants.js";
import { StartupError, StartupErrorCode } from "./errors.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

/** A TCP address to listen on or to dial. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  /** This node's id, a positive uint32 unique in the cluster. */
  readonly nodeId: number;
  /** The availability zone this node runs in; replicas of a group go to distinct zones. */
  readonly zone: string;
  /** The cluster's name; peers of another cluster are refused. */
  readonly clusterId: string;
  /** Absolute path of the node's data directory (created when missing). */
  readonly dataDir: string;
  /** Public gRPC: health, admin, later the sluice.v1 API. @default 127.0.0.1:(50050 + node id) */
  readonly grpcListen: HostPort;
  /** Raft traffic between nodes. @default this node's address in `peers` */
  readonly peerListen: HostPort;
  /** Kinesis HTTP API, reserved for the streams issue. @default 127.0.0.1:(4566 + node id) */
  readonly httpListen: HostPort;
  /** Prometheus metrics at /metrics. @default 127.0.0.1:(9463 + node id) */
  readonly metricsListen: HostPort;
  /** Every node of the cluster, this one included: node id → address of its peer port. */
  readonly peers: ReadonlyMap<number, HostPort>;
  /** @default "info" */
  readonly logLevel: LogLevel;
  /** Broker timing, for tests and tuning; undefined keeps the broker's defaults. */
  readonly tickIntervalMs: number | undefined;
  readonly electionTicks: number | undefined;
  readonly heartbeatTicks: number | undefined;
  /**
   * Shifts this node's wall clock by this many ms (negative moves it back), for tests of
   * time-dependent behaviour: iterator expiry, retention, arrival timestamps. @default 0
   */
  readonly clockOffsetMs: number;
  /** Period of the gateway's retention sweep in ms; undefined keeps the gateway's default. */
  readonly retentionSweepIntervalMs: number | undefined;
  /**
   * TLS on the public ports (gRPC and Kinesis HTTP); undefined serves them in plaintext. Files
   * are read at start and again whenever they change (see tls-files.ts).
   */
  readonly tls: TlsFiles | undefined;
  /** Mutual TLS on the peer port (Raft and forwarding); undefined keeps it plaintext. */
  readonly peerTls: PeerTlsFiles | undefined;
  /**
   * The explicit development mode: plaintext and no authentication, said out loud. Refused
   * together with any TLS flag. @default false
   */
  readonly insecure: boolean;
  /** Client authentication, authorization and the audit log (see node/auth.ts). */
  readonly auth: AuthConfig;
  /**
   * Absolute path of the key file of master keys for encryption at rest (--kms-key-file,
   * SLUICE_KMS_KEY_FILE); every node gets the same file. Undefined: this node can neither encrypt a
   * stream nor read or write an encrypted one.
   */
  readonly kmsKeyFile: string | undefined;
}

/**
 * Authentication is on when access keys are configured (`--auth-keys` or SLUICE_ACCESS_KEYS);
 * then a policy is required. Without keys the node serves everyone as "anonymous" and warns every
 * `insecureWarningIntervalMs`.
 */
export interface AuthConfig {
  /** Absolute path of the access-key file. */
  readonly keysFile: string | undefined;
  /** Access keys inline, from SLUICE_ACCESS_KEYS (lines or commas of AKID:SECRET[:PRINCIPAL]). */
  readonly keysText: string | undefined;
  /** Absolute path of the policy file; required with keys. */
  readonly policyFile: string | undefined;
  /** Absolute path of the control-plane audit log (JSON lines); undefined writes none. */
  readonly auditLogFile: string | undefined;
  /** How often the no-authentication warning is logged (SLUICE_INSECURE_WARNING_INTERVAL_MS, for tests). */
  readonly insecureWarningIntervalMs: number;
}

/** Absolute paths of a certificate chain, its key, and optionally the CA for client certificates. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Given, clients may present a certificate signed by it (not required). */
  readonly caFile: string | undefined;
}

/** Absolute paths of this node's certificate and key and of the cluster CA. */
export interface PeerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** The largest clock shift `--clock-offset-ms` accepts either way: ten years. */
export const CLOCK_OFFSET_MS_MAX = 10 * 365 * 24 * 3_600_000;
/** Bounds of `--retention-sweep-interval-ms`: 10 ms to one day. */
export const RETENTION_SWEEP_INTERVAL_MS_MIN = 10;
export const RETENTION_SWEEP_INTERVAL_MS_MAX = 24 * 3_600_000;

/** Each option: its flag, its environment variable, and its help line. */
const OPTIONS = {
  "node-id": { env: "SLUICE_NODE_ID", help: "this node's id, a positive integer (required)" },
  zone: { env: "SLUICE_ZONE", help: `availability zone (default ${ZONE_DEFAULT})` },
  "cluster-id": { env: "SLUICE_CLUSTER_ID", help: `cluster name (default ${CLUSTER_ID_DEFAULT})` },
  data: { env: "SLUICE_DATA_DIR", help: "data directory (default ./data/node-<id>)" },
  "grpc-listen": { env: "SLUICE_GRPC_LISTEN", help: "public gRPC address (default 127.0.0.1:50050+id)" },
  "peer-listen": { env: "SLUICE_PEER_LISTEN", help: "peer address (default: this node's entry in --peers)" },
  "http-listen": { env: "SLUICE_HTTP_LISTEN", help: "Kinesis HTTP address (default 127.0.0.1:4566+id)" },
  "metrics-listen": { env: "SLUICE_METRICS_LISTEN", help: "metrics address (default 127.0.0.1:9463+id)" },
  peers: { env: "SLUICE_PEERS", help: 'every node, "1=host:port,2=host:port,3=host:port" (required)' },
  "log-level": { env: "SLUICE_LOG_LEVEL", help: "debug, info, warn or error (default info)" },
  "tick-interval-ms": {
    env: "SLUICE_TICK_INTERVAL_MS",
    help: "Raft tick interval in ms (default: broker's)",
  },
  "election-ticks": { env: "SLUICE_ELECTION_TICKS", help: "election timeout in ticks (default: broker's)" },
  "heartbeat-ticks": {
    env: "SLUICE_HEARTBEAT_TICKS",
    help: "heartbeat interval in ticks (default: broker's)",
  },
  "clock-offset-ms": {
    env: "SLUICE_CLOCK_OFFSET_MS",
    help: "shifts this node's wall clock, for tests of time-dependent behaviour (default 0)",
  },
  "retention-sweep-interval-ms": {
    env: "SLUICE_RETENTION_SWEEP_INTERVAL_MS",
    help: "period of the retention sweep in ms (default: gateway's)",
  },
  "tls-dir": {
    env: "SLUICE_TLS_DIR",
    help: "TLS everywhere from `sluice certs init` output: ca.crt, node-<id>.crt/.key",
  },
  "tls-cert": { env: "SLUICE_TLS_CERT", help: "public ports' certificate chain (PEM); with --tls-key" },
  "tls-key": { env: "SLUICE_TLS_KEY", help: "public ports' private key (PEM)" },
  "tls-ca": { env: "SLUICE_TLS_CA", help: "CA for client certificates, and the peer CA by default" },
  "peer-tls-cert": { env: "SLUICE_PEER_TLS_CERT", help: "peer mTLS certificate (default --tls-cert)" },
  "peer-tls-key": { env: "SLUICE_PEER_TLS_KEY", help: "peer mTLS key (default --tls-key)" },
  "peer-tls-ca": { env: "SLUICE_PEER_TLS_CA", help: "cluster CA for peer mTLS (default --tls-ca)" },
  "auth-keys": {
    env: "SLUICE_AUTH_KEYS",
    help: "access-key file (AKID:SECRET:PRINCIPAL lines or JSON); turns auth on (or SLUICE_ACCESS_KEYS inline)",
  },
  "auth-policy": { env: "SLUICE_AUTH_POLICY", help: "policy file (JSON): principals → actions on streams" },
  "audit-log": { env: "SLUICE_AUDIT_LOG", help: "append control-plane audit lines (JSON) to this file" },
  "kms-key-file": {
    env: "SLUICE_KMS_KEY_FILE",
    help: "master keys for StartStreamEncryption (id: 64 hex digits per line, or JSON); same file on every node",
  },
  insecure: {
    env: "SLUICE_INSECURE",
    help: "development mode: plaintext, no auth (true/false; refused with TLS flags)",
  },
} as const;
type OptionName = keyof typeof OPTIONS;

export const NODE_USAGE = `usage: sluice node [options]   (each option also reads its SLUICE_* variable; flags win)

${Object.entries(OPTIONS)
  .map(([name, { env, help }]) => `  --${name.padEnd(18)} ${env.padEnd(24)} ${help}`)
  .join("\n")}
`;

/** Parses and validates the configuration; throws `StartupError` on the first problem. */
export function parseNodeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): NodeConfig {
  let values: Partial<Record<OptionName, string>>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.keys(OPTIONS).map((name) => [
          name,
          // --insecure is a switch; every other option takes a value.
          name === "insecure" ? { type: "boolean" as const } : { type: "string" as const },
        ]),
      ),
    });
    const { insecure, ...rest } = parsed.values as Record<string, string | boolean | undefined>;
    values = {
      ...(rest as Partial<Record<OptionName, string>>),
      ...(insecure === undefined ? {} : { insecure: String(insecure) }),
    };
  } catch (error) {
    throw invalid(`${error instanceof Error ? error.message : String(error)} (see sluice node --help)`);
  }
  const raw = (name: OptionName): string | undefined => {
    const value = values[name] ?? env[OPTIONS[name].env];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const source = (name: OptionName): string =>
    values[name] !== undefined ? `--${name}` : `${OPTIONS[name].env}`;

  const nodeIdText = raw("node-id");
  if (nodeIdText === undefined) throw invalid("--node-id (or SLUICE_NODE_ID) is required");
  const nodeId = parseInteger(nodeIdText, 1, NODE_ID_MAX, source("node-id"));

  const peersText = raw("peers");
  if (peersText === undefined) {
    throw new StartupError(
      StartupErrorCode.InvalidPeers,
      '--peers (or SLUICE_PEERS) is required: every node of the cluster, as "1=host:port,2=host:port,3=host:port"',
    );
  }
  const peers = parsePeers(peersText, source("peers"));
  const self = peers.get(nodeId);
  if (self === undefined) {
    throw new StartupError(
      StartupErrorCode.InvalidPeers,
      `${source("peers")} does not list this node (id ${nodeId}); it names ${[...peers.keys()].join(", ")}`,
    );
  }

  const zone = raw("zone") ?? ZONE_DEFAULT;
  checkName(zone, ZONE_LENGTH_MAX, source("zone"));
  const clusterId = raw("cluster-id") ?? CLUSTER_ID_DEFAULT;
  checkName(clusterId, CLUSTER_ID_LENGTH_MAX, source("cluster-id"));

  const listen = (name: OptionName, fallback: HostPort): HostPort => {
    const text = raw(name);
    return text === undefined ? fallback : parseHostPort(text, source(name));
  };
  const grpcListen = listen("grpc-listen", {
    host: LISTEN_HOST_DEFAULT,
    port: GRPC_PORT_BASE_DEFAULT + nodeId,
  });
  const peerListen = listen("peer-listen", self);
  const httpListen = listen("http-listen", {
    host: LISTEN_HOST_DEFAULT,
    port: HTTP_PORT_BASE_DEFAULT + nodeId,
  });
  const metricsListen = listen("metrics-listen", {
    host: LISTEN_HOST_DEFAULT,
    port: METRICS_PORT_BASE_DEFAULT + nodeId,
  });
  for (const [name, address] of [
    ["grpc-listen", grpcListen],
    ["http-listen", httpListen],
    ["metrics-listen", metricsListen],
    ["peer-listen", peerListen],
  ] as const) {
    if (address.port > 65_535 || address.port < 1) {
      throw invalid(`the default ${name} port for node id ${nodeId} is ${address.port}; set --${name}`);
    }
  }
  const byPort = new Map<number, string>();
  for (const [name, address] of [
    ["--grpc-listen", grpcListen],
    ["--peer-listen", peerListen],
    ["--http-listen", httpListen],
    ["--metrics-listen", metricsListen],
  ] as const) {
    const other = byPort.get(address.port);
    if (other !== undefined) throw invalid(`${other} and ${name} both use port ${address.port}`);
    byPort.set(address.port, name);
  }

  const logLevelText = raw("log-level") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelText)) {
    throw invalid(`${source("log-level")} must be one of ${LOG_LEVELS.join(", ")}, not "${logLevelText}"`);
  }
  const optionalInteger = (name: OptionName, min: number, max: number): number | undefined => {
    const text = raw(name);
    return text === undefined ? undefined : parseInteger(text, min, max, source(name));
  };

  const { tls, peerTls } = parseTls(raw, source, nodeId);
  const insecureText = (raw("insecure") ?? "false").toLowerCase();
  if (!["true", "false", "1", "0", "yes", "no"].includes(insecureText)) {
    throw invalid(`${source("insecure")} must be true or false, not "${insecureText}"`);
  }
  const insecure = ["true", "1", "yes"].includes(insecureText);
  if (insecure && (tls !== undefined || peerTls !== undefined)) {
    throw invalid(`${source("insecure")} contradicts the TLS flags given; drop one or the other`);
  }
  const auth = parseAuth(raw, source, env, insecure);

  return {
    nodeId,
    zone,
    clusterId,
    dataDir: resolve(raw("data") ?? `./data/node-${nodeId}`),
    grpcListen,
    peerListen,
    httpListen,
    metricsListen,
    peers,
    logLevel: logLevelText as LogLevel,
    tickIntervalMs: optionalInteger("tick-interval-ms", 1, 10_000),
    electionTicks: optionalInteger("election-ticks", 2, 1_000),
    heartbeatTicks: optionalInteger("heartbeat-ticks", 1, 1_000),
    clockOffsetMs: parseSignedInteger(
      raw("clock-offset-ms") ?? "0",
      CLOCK_OFFSET_MS_MAX,
      source("clock-offset-ms"),
    ),
    retentionSweepIntervalMs: optionalInteger(
      "retention-sweep-interval-ms",
      RETENTION_SWEEP_INTERVAL_MS_MIN,
      RETENTION_SWEEP_INTERVAL_MS_MAX,
    ),
    tls,
    peerTls,
    insecure,
    auth,
    kmsKeyFile: raw("kms-key-file") === undefined ? undefined : resolve(raw("kms-key-file") as string),
  };
}

const { INSECURE_WARNING_INTERVAL_MS } = authConstants;

/** The smallest and largest SLUICE_INSECURE_WARNING_INTERVAL_MS (tests shorten the minute). */
export const INSECURE_WARNING_INTERVAL_MS_MIN = 10;
export const INSECURE_WARNING_INTERVAL_MS_MAX = 24 * 3_600_000;

function parseAuth(
  raw: (name: OptionName) => string | undefined,
  source: (name: OptionName) => string,
  env: NodeJS.ProcessEnv,
  insecure: boolean,
): AuthConfig {
  const keysFileText = raw("auth-keys");
  const keysText = env.SLUICE_ACCESS_KEYS?.trim() === "" ? undefined : env.SLUICE_ACCESS_KEYS;
  const policyText = raw("auth-policy");
  const auditText = raw("audit-log");
  const withKeys = keysFileText !== undefined || keysText !== undefined;
  if (keysFileText !== undefined && keysText !== undefined) {
    throw invalid(`${source("auth-keys")} and SLUICE_ACCESS_KEYS both give access keys; use one`);
  }
  if (withKeys && insecure) {
    throw invalid(`${source("insecure")} contradicts the access keys given (auth on); drop one or the other`);
  }
  if (withKeys && policyText === undefined) {
    throw invalid(
      "access keys need a policy: pass --auth-policy FILE (sluice auth init writes an admin policy), or everything is denied",
    );
  }
  if (!withKeys && policyText !== undefined) {
    throw invalid(`${source("auth-policy")} has no effect without access keys; pass --auth-keys FILE too`);
  }
  const intervalText = env.SLUICE_INSECURE_WARNING_INTERVAL_MS?.trim();
  const insecureWarningIntervalMs =
    intervalText === undefined || intervalText === ""
      ? INSECURE_WARNING_INTERVAL_MS
      : parseInteger(
          intervalText,
          INSECURE_WARNING_INTERVAL_MS_MIN,
          INSECURE_WARNING_INTERVAL_MS_MAX,
          "SLUICE_INSECURE_WARNING_INTERVAL_MS",
        );
  return {
    keysFile: keysFileText === undefined ? undefined : resolve(keysFileText),
    keysText,
    policyFile: policyText === undefined ? undefined : resolve(policyText),
    auditLogFile: auditText === undefined ? undefined : resolve(auditText),
    insecureWarningIntervalMs,
  };
}

/**
 * The TLS files: `--tls-dir` names all of them by convention; each explicit flag overrides its
 * part. Public TLS needs a certificate and a key; peer mTLS needs those (its own or the public
 * ones) and a CA. A half-given pair is an error, never a silent plaintext port.
 */
function parseTls(
  raw: (name: OptionName) => string | undefined,
  source: (name: OptionName) => string,
  nodeId: number,
): { tls: TlsFiles | undefined; peerTls: PeerTlsFiles | undefined } {
  const dirText = raw("tls-dir");
  const dir = dirText === undefined ? undefined : resolve(dirText);
  const path = (name: OptionName, conventional: string): string | undefined => {
    const text = raw(name);
    if (text !== undefined) return resolve(text);
    return dir === undefined ? undefined : join(dir, conventional);
  };
  const certFile = path("tls-cert", `node-${nodeId}.crt`);
  const keyFile = path("tls-key", `node-${nodeId}.key`);
  const caFile = path("tls-ca", "ca.crt");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw invalid(
      `${certFile === undefined ? source("tls-key") : source("tls-cert")} is given without its pair; give both --tls-cert and --tls-key (or --tls-dir)`,
    );
  }
  const tls = certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile, caFile };
  const peerCert = raw("peer-tls-cert");
  const peerKey = raw("peer-tls-key");
  const peerCa = raw("peer-tls-ca");
  if ((peerCert === undefined) !== (peerKey === undefined)) {
    throw invalid("--peer-tls-cert and --peer-tls-key go together; give both or neither");
  }
  const peerCertFile = peerCert === undefined ? certFile : resolve(peerCert);
  const peerKeyFile = peerKey === undefined ? keyFile : resolve(peerKey);
  const peerCaFile = peerCa === undefined ? caFile : resolve(peerCa);
  if (peerCertFile === undefined || peerKeyFile === undefined) {
    if (peerCa !== undefined)
      throw invalid(
        "--peer-tls-ca needs a node certificate: --peer-tls-cert/--peer-tls-key or --tls-cert/--tls-key",
      );
    return { tls, peerTls: undefined };
  }
  if (peerCaFile === undefined) {
    throw invalid(
      "TLS on the peer port needs the cluster CA: give --tls-ca or --peer-tls-ca (or --tls-dir with ca.crt)",
    );
  }
  return { tls, peerTls: { certFile: peerCertFile, keyFile: peerKeyFile, caFile: peerCaFile } };
}

/** Parses "1=host:port,2=host:port"; every id and every address must appear once. */
export function parsePeers(text: string, source: string): Map<number, HostPort> {
  const peers = new Map<number, HostPort>();
  const byAddress = new Map<string, number>();
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) throw invalidPeers(`${source} is empty`);
  if (entries.length > CLUSTER_NODES_MAX) {
    throw invalidPeers(`${source} names ${entries.length} nodes; at most ${CLUSTER_NODES_MAX} are supported`);
  }
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0) throw invalidPeers(`${source}: "${entry}" is not of the form id=host:port`);
    const idText = entry.slice(0, equals).trim();
    if (!/^\d+$/.test(idText) || Number(idText) < 1 || Number(idText) > NODE_ID_MAX) {
      throw invalidPeers(`${source}: "${idText}" in "${entry}" is not a node id (a positive integer)`);
    }
    const id = Number(idText);
    const address = parseHostPort(
      entry.slice(equals + 1).trim(),
      `${source} entry ${id}`,
      StartupErrorCode.InvalidPeers,
    );
    if (peers.has(id)) throw invalidPeers(`${source} names node id ${id} twice`);
    const key = `${address.host}:${address.port}`;
    const owner = byAddress.get(key);
    if (owner !== undefined)
      throw invalidPeers(`${source} gives nodes ${owner} and ${id} the same address ${key}`);
    peers.set(id, address);
    byAddress.set(key, id);
  }
  return peers;
}

/** Parses "host:port" or "[v6]:port"; the host is a name or an IP, the port 1…65535. */
export function parseHostPort(
  text: string,
  source: string,
  code: StartupErrorCode = StartupErrorCode.InvalidConfig,
): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new StartupError(
      code,
      `${source}: "${text}" is not an address of the form host:port (port 1-65535)`,
    );
  }
  if (match[1] !== undefined && isIP(host) !== 6) {
    throw new StartupError(code, `${source}: "${text}" has an invalid IPv6 address`);
  }
  return { host, port };
}

/** "host:port", with brackets around an IPv6 host, as grpc-js and net expect. */
export function formatHostPort(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function parseInteger(text: string, min: number, max: number, source: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalid(`${source} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return Number(text);
}

/** An integer from -limit to +limit, with an optional sign. */
function parseSignedInteger(text: string, limit: number, source: string): number {
  if (!/^[-+]?\d+$/.test(text) || Math.abs(Number(text)) > limit) {
    throw invalid(`${source} must be an integer from -${limit} to ${limit}, not "${text}"`);
  }
  return Number(text);
}

function checkName(value: string, lengthMax: number, source: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.length > lengthMax) {
    throw invalid(
      `${source} must be letters, digits, ".", "_" or "-" (at most ${lengthMax}), not "${value}"`,
    );
  }
}

function invalid(message: string): StartupError {
  return new StartupError(StartupErrorCode.InvalidConfig, message);
}

function invalidPeers(message: string): StartupError {
  return new StartupError(StartupErrorCode.InvalidPeers, message);
}
