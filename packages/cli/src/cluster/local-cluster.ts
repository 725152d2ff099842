/**
 * `sluice cluster up|down|status`: a local three-node cluster on loopback (zones a, b, c), each
 * node a detached `sluice node` process with its data under DIR/node-N, its log in
 * DIR/node-N.log and its pid in DIR/node-N.pid. `up` returns once all three serve (gRPC health)
 * and is a no-op for nodes already running; `down` sends SIGTERM, waits, and SIGKILLs a node
 * that misses the deadline; `status` shows each node's process, health and leaderships.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChannelCredentials, credentials, Metadata } from "@grpc/grpc-js";
import { admin, health } from "@sluice/proto";
import { CERT_VALID_DAYS_DEFAULT, initCertificates } from "../commands/certs.js";
import {
  CLUSTER_DOWN_DEADLINE_MS,
  CLUSTER_ID_DEFAULT,
  CLUSTER_POLL_INTERVAL_MS,
  CLUSTER_UP_DEADLINE_MS,
  GRPC_PORT_BASE_DEFAULT,
  HEALTH_PROBE_DEADLINE_MS,
  HTTP_PORT_BASE_DEFAULT,
  LISTEN_HOST_DEFAULT,
  LOCAL_CLUSTER_ZONES,
  METRICS_PORT_BASE_DEFAULT,
  PEER_PORT_BASE_DEFAULT,
  STREAMS_SERVICE_NAME,
} from "../constants.js";

export interface LocalNode {
  readonly nodeId: number;
  readonly zone: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly peerPort: number;
}

export interface LocalClusterOptions {
  /** The folder holding node-N/, node-N.log and node-N.pid. */
  readonly dataDir: string;
  /**
   * Moves every port for tests: gRPC base+0..2, HTTP base+10..12, metrics base+20..22, peer
   * base+30..32. Undefined keeps the documented defaults (50051, 4567, 9464, 7401 for node 1).
   */
  readonly basePort?: number | undefined;
  readonly out?: (line: string) => void;
  /** Where failures go. @default stderr */
  readonly err?: (line: string) => void;
  /**
   * `up` issues certificates into DIR/certs (`sluice certs init`, once) and starts the nodes with
   * TLS everywhere. A data folder that holds DIR/certs/ca.crt is a TLS cluster from then on: `up`
   * and `status` use TLS for it with or without this flag. @default false
   */
  readonly tls?: boolean | undefined;
}

/** The certificates of a TLS local cluster, or undefined for a plaintext one. */
function certsDirOf(options: LocalClusterOptions): string | undefined {
  const dir = join(resolve(options.dataDir), "certs");
  return existsSync(join(dir, "ca.crt")) ? dir : undefined;
}

function credentialsOf(options: LocalClusterOptions): ChannelCredentials {
  const certs = certsDirOf(options);
  return certs === undefined
    ? credentials.createInsecure()
    : credentials.createSsl(readFileSync(join(certs, "ca.crt")));
}

export function localNodes(options: LocalClusterOptions): LocalNode[] {
  const dir = resolve(options.dataDir);
  return LOCAL_CLUSTER_ZONES.map((zone, position) => {
    const nodeId = position + 1;
    const base = options.basePort;
    return {
      nodeId,
      zone,
      dataDir: join(dir, `node-${nodeId}`),
      logFile: join(dir, `node-${nodeId}.log`),
      pidFile: join(dir, `node-${nodeId}.pid`),
      grpcPort: base === undefined ? GRPC_PORT_BASE_DEFAULT + nodeId : base + position,
      httpPort: base === undefined ? HTTP_PORT_BASE_DEFAULT + nodeId : base + 10 + position,
      metricsPort: base === undefined ? METRICS_PORT_BASE_DEFAULT + nodeId : base + 20 + position,
      peerPort: base === undefined ? PEER_PORT_BASE_DEFAULT + nodeId : base + 30 + position,
    };
  });
}

/** The `sluice node` arguments of one local node. */
export function nodeArguments(node: LocalNode, nodes: readonly LocalNode[], tlsDir?: string): string[] {
  const host = LISTEN_HOST_DEFAULT;
  return [
    "node",
    `--node-id=${node.nodeId}`,
    `--zone=${node.zone}`,
    `--cluster-id=${CLUSTER_ID_DEFAULT}`,
    `--data=${node.dataDir}`,
    `--grpc-listen=${host}:${node.grpcPort}`,
    `--peer-listen=${host}:${node.peerPort}`,
    `--http-listen=${host}:${node.httpPort}`,
    `--metrics-listen=${host}:${node.metricsPort}`,
    `--peers=${nodes.map((peer) => `${peer.nodeId}=${host}:${peer.peerPort}`).join(",")}`,
    ...(tlsDir === undefined ? [] : [`--tls-dir=${tlsDir}`]),
  ];
}

const MAIN_SCRIPT = fileURLToPath(new URL("../main.js", import.meta.url));

/** Starts the nodes that are not running and waits until all serve; returns the exit status. */
export async function clusterUp(options: LocalClusterOptions): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const nodes = localNodes(options);
  const stillRunning = (): string => {
    const running = nodes.filter((node) => runningPid(node) !== undefined).map((node) => node.nodeId);
    return running.length === 0
      ? ""
      : `; node ${running.join(", ")} still running (sluice cluster down${options.dataDir === "./data" ? "" : ` --data ${options.dataDir}`} stops them)`;
  };
  mkdirSync(resolve(options.dataDir), { recursive: true });
  if (options.tls === true) {
    initCertificates({
      outDir: join(resolve(options.dataDir), "certs"),
      nodeIds: nodes.map((node) => node.nodeId),
      clusterId: CLUSTER_ID_DEFAULT,
      extraHosts: [],
      validDays: CERT_VALID_DAYS_DEFAULT,
      force: false,
    });
  }
  const tlsDir = certsDirOf(options);
  const channelCredentials = credentialsOf(options);
  const started: LocalNode[] = [];
  for (const node of nodes) {
    if (runningPid(node) !== undefined) continue;
    const logFd = openSync(node.logFile, "a");
    try {
      const child = spawn(process.execPath, [MAIN_SCRIPT, ...nodeArguments(node, nodes, tlsDir)], {
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
      if (child.pid === undefined) throw new Error(`could not start node ${node.nodeId}`);
      writeFileSync(node.pidFile, `${child.pid}\n`);
      child.unref();
    } finally {
      closeSync(logFd);
    }
    started.push(node);
  }
  const deadline = Date.now() + CLUSTER_UP_DEADLINE_MS;
  const pending = new Set(nodes);
  while (pending.size > 0) {
    for (const node of [...pending]) {
      if (runningPid(node) === undefined) {
        err(
          `node ${node.nodeId} exited while starting: ${lastLogLine(node.logFile)} (log: ${node.logFile})${stillRunning()}`,
        );
        return 1;
      }
      if ((await probeHealth(node.grpcPort, channelCredentials)) === "SERVING") pending.delete(node);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      for (const node of pending) {
        out(
          `node ${node.nodeId} is not serving after ${CLUSTER_UP_DEADLINE_MS / 1000} s; see ${node.logFile}`,
        );
      }
      return 1;
    }
    await delay(CLUSTER_POLL_INTERVAL_MS);
  }
  out(
    started.length === 0
      ? `the cluster is already up (data under ${resolve(options.dataDir)})`
      : `the cluster is up (data under ${resolve(options.dataDir)}; started node ${started.map((n) => n.nodeId).join(", ")})`,
  );
  const certs = certsDirOf(options);
  out(endpointsTable(nodes, certs !== undefined));
  if (certs !== undefined) {
    out(
      `TLS: clients trust ${join(certs, "ca.crt")} (sluice --tls-ca FILE, aws --ca-bundle FILE, NODE_EXTRA_CA_CERTS=FILE)`,
    );
  }
  return 0;
}

/** Stops every running node: SIGTERM, then SIGKILL after the deadline. */
export async function clusterDown(options: LocalClusterOptions): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const nodes = localNodes(options);
  const running = nodes.flatMap((node) => {
    const pid = runningPid(node);
    return pid === undefined ? [] : [{ node, pid }];
  });
  for (const { pid } of running) signal(pid, "SIGTERM");
  const deadline = Date.now() + CLUSTER_DOWN_DEADLINE_MS;
  let killed = 0;
  for (const { node, pid } of running) {
    while (isAlive(pid) && Date.now() < deadline) await delay(CLUSTER_POLL_INTERVAL_MS);
    if (isAlive(pid)) {
      signal(pid, "SIGKILL");
      killed += 1;
      out(
        `node ${node.nodeId} (pid ${pid}) missed the ${CLUSTER_DOWN_DEADLINE_MS / 1000} s deadline: killed`,
      );
      while (isAlive(pid)) await delay(CLUSTER_POLL_INTERVAL_MS);
    }
  }
  for (const node of nodes) rmSync(node.pidFile, { force: true });
  out(
    running.length === 0
      ? "the cluster is not running"
      : `stopped node ${running.map(({ node }) => node.nodeId).join(", ")}${killed > 0 ? ` (${killed} killed)` : ""}`,
  );
  return 0;
}

/** Prints each node's process, health and groups; exits 0 when all three serve. */
export async function clusterStatus(options: LocalClusterOptions): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const nodes = localNodes(options);
  const channelCredentials = credentialsOf(options);
  const rows = await Promise.all(
    nodes.map(async (node) => {
      const pid = runningPid(node);
      const healthState = pid === undefined ? "-" : await probeHealth(node.grpcPort, channelCredentials);
      const status =
        healthState === "SERVING" ? await probeNodeStatus(node.grpcPort, channelCredentials) : undefined;
      return {
        node: String(node.nodeId),
        zone: node.zone,
        pid: pid === undefined ? "not running" : String(pid),
        health: healthState,
        groups: status === undefined ? "-" : String(status.groupIds.length),
        led: status === undefined ? "-" : String(status.ledGroupIds.length),
        grpc: `${LISTEN_HOST_DEFAULT}:${node.grpcPort}`,
        log: node.logFile,
      };
    }),
  );
  out(table(rows));
  return rows.every((row) => row.health === "SERVING") ? 0 : 1;
}

/** `tls`: the gRPC, Kinesis and metrics ports speak TLS. */
function endpointsTable(nodes: readonly LocalNode[], tls: boolean): string {
  const host = LISTEN_HOST_DEFAULT;
  return table(
    nodes.map((node) => ({
      node: String(node.nodeId),
      zone: node.zone,
      grpc: `${host}:${node.grpcPort}`,
      "kinesis http": `${tls ? "https" : "http"}://${host}:${node.httpPort}`,
      metrics: `${tls ? "https" : "http"}://${host}:${node.metricsPort}/metrics`,
      peer: `${host}:${node.peerPort}`,
      log: node.logFile,
    })),
  );
}

function table(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (first === undefined) return "";
  const columns = Object.keys(first);
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, position) => cell.padEnd(widths[position] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(columns), ...rows.map((row) => line(columns.map((column) => row[column] ?? "")))].join("\n");
}

/** The pid in the node's pid file when that process is alive and is a sluice node. */
export function runningPid(node: LocalNode): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(node.pidFile, "utf8").trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A stale pid file may name a pid the system gave to another program since.
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline)) {
    const args = readFileSync(cmdline, "utf8").split("\0");
    if (!args.includes(`--node-id=${node.nodeId}`) || !args.includes(`--data=${node.dataDir}`))
      return undefined;
  }
  return pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie (exited, not yet reaped by its parent) is not alive for us.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function lastLogLine(path: string): string {
  try {
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch {
    return "(no log)";
  }
}

/**
 * The public API's health: "SERVING" (storage open and the metadata service has a quorum),
 * "NOT_SERVING", … or "unreachable".
 */
export function probeHealth(
  port: number,
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): Promise<string> {
  const client = new health.HealthClient(`${LISTEN_HOST_DEFAULT}:${port}`, channelCredentials);
  return new Promise<string>((done) => {
    client.check(
      { service: STREAMS_SERVICE_NAME },
      new Metadata(),
      { deadline: Date.now() + HEALTH_PROBE_DEADLINE_MS },
      (error, response) => {
        client.close();
        done(
          error === null ? health.healthCheckResponse_ServingStatusToJSON(response.status) : "unreachable",
        );
      },
    );
  });
}

function probeNodeStatus(
  port: number,
  channelCredentials: ChannelCredentials,
): Promise<admin.NodeStatusResponse | undefined> {
  const client = new admin.AdminServiceClient(`${LISTEN_HOST_DEFAULT}:${port}`, channelCredentials);
  return new Promise((done) => {
    client.nodeStatus(
      {},
      new Metadata(),
      { deadline: Date.now() + HEALTH_PROBE_DEADLINE_MS },
      (error, response) => {
        client.close();
        done(error === null ? response : undefined);
      },
    );
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
