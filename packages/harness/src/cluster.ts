/**
 * A cluster of real node processes on loopback ports in a temporary directory, for integration
 * tests, fault injection and benchmarks (as nats.js's `nst`). Node N (1-based) listens on
 * basePort + 4(N-1) + {0: gRPC, 1: peer, 2: Kinesis HTTP, 3: metrics}; its data is under
 * DIR/node-N and its log in DIR/node-N.log. With `tls`, the certificates are in DIR/certs; with
 * `auth`, the access keys and policy in DIR/auth.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { admin } from "@sluice/proto";
import { AdminCallError, AdminClient, type AppendRecord } from "./admin-client.js";
import {
  ADMIN_CALL_TIMEOUT_MS_DEFAULT,
  NODE_START_TIMEOUT_MS_DEFAULT,
  NODE_STOP_TIMEOUT_MS_DEFAULT,
  PORTS_PER_NODE,
  STREAMS_SERVICE_NAME,
} from "./constants.js";
import { assertCliBuilt, CLI_MAIN_PATH, type ExitStatus, NodeProcess } from "./node-process.js";
import { StreamsClient } from "./streams-client.js";
import { waitFor } from "./wait-for.js";

export interface NodePorts {
  readonly grpc: number;
  readonly peer: number;
  readonly http: number;
  readonly metrics: number;
}

export function nodePorts(basePort: number, nodeId: number): NodePorts {
  const base = basePort + (nodeId - 1) * PORTS_PER_NODE;
  return { grpc: base, peer: base + 1, http: base + 2, metrics: base + 3 };
}

export interface ClusterOptions {
  /** First port of node 1; the cluster uses 4 ports per node from here. */
  readonly basePort: number;
  /** @default 3 */
  readonly nodes?: number;
  /** Parent folder of the node data; @default a new temporary folder, removed by `stop()` */
  readonly dataDir?: string;
  /** Keep the data folder after `stop()` (it is kept anyway when it was given). */
  readonly keepData?: boolean;
  /** @default "sluice-harness" */
  readonly clusterId?: string;
  /** Broker timing passed to every node; undefined keeps the node's defaults. */
  readonly tickIntervalMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Extra `sluice node` flags for every node. */
  readonly extraArgs?: readonly string[];
  /**
   * Extra flags for one node, after `extraArgs` (a repeated flag's last value wins), e.g. a
   * `--peers` list whose other nodes are the fault-injection suite's per-link proxies.
   */
  readonly nodeExtraArgs?: (nodeId: number) => readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Node.js and V8 flags for every node process, before its script (see NodeProcessOptions.execArgv). */
  readonly nodeExecArgv?: readonly string[];
  /** @default 30000 */
  readonly startTimeoutMs?: number;
  /**
   * TLS on every port but metrics (mutual TLS on the peer port): `sluice certs init` issues a CA
   * and node certificates into DIR/certs (a folder that already holds a CA is kept), every node
   * starts with `--tls-dir`, and the admin and streams clients trust that CA (`tlsCa`).
   * @default false
   */
  readonly tls?: boolean;
  /**
   * Client authentication: `sluice auth init` writes an admin access key and policy into DIR/auth
   * (kept if there), every node starts with `--auth-keys` and `--auth-policy`, and the admin and
   * streams clients send that key as a bearer token (`credentials`; the admin service needs
   * sluice:Admin, which the admin policy grants). Health needs no key.
   * @default false
   */
  readonly auth?: boolean;
}

/** An access key of a cluster started with `auth` (what `sluice auth init` wrote into client.env). */
export interface ClusterCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export class TestCluster {
  readonly dataDir: string;
  readonly nodeIds: readonly number[];
  /** The certificates folder (`ca.crt`, `node-N.crt/.key`, `client.crt/.key`) when started with `tls`. */
  readonly certsDir: string | undefined;
  /** The cluster CA (PEM) when started with `tls`: what a client must trust. */
  readonly tlsCa: Buffer | undefined;
  /** The folder of `access-keys`, `policy.json` and `client.env` when started with `auth`. */
  readonly authDir: string | undefined;
  /** The admin access key when started with `auth`. */
  readonly credentials: ClusterCredentials | undefined;
  readonly #options: ClusterOptions;
  readonly #processes = new Map<number, NodeProcess>();
  readonly #clients = new Map<number, AdminClient>();
  readonly #streamsClients = new Map<number, StreamsClient>();
  readonly #ownsDataDir: boolean;
  /** The last node known to lead each group, to send appends there first. */
  readonly #leaderCache = new Map<number, number>();

  constructor(options: ClusterOptions) {
    assertCliBuilt();
    this.#options = options;
    const count = options.nodes ?? 3;
    this.nodeIds = Array.from({ length: count }, (_, position) => position + 1);
    this.#ownsDataDir = options.dataDir === undefined;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sluice-harness-"));
    mkdirSync(this.dataDir, { recursive: true });
    const clusterId = options.clusterId ?? "sluice-harness";
    const security: string[] = [];
    if (options.tls === true) {
      this.certsDir = join(this.dataDir, "certs");
      runCli(["certs", "init", `--out=${this.certsDir}`, `--nodes=${count}`, `--cluster-id=${clusterId}`]);
      this.tlsCa = readFileSync(join(this.certsDir, "ca.crt"));
      security.push(`--tls-dir=${this.certsDir}`);
    }
    if (options.auth === true) {
      this.authDir = join(this.dataDir, "auth");
      runCli(["auth", "init", `--out=${this.authDir}`]);
      this.credentials = readClientEnv(join(this.authDir, "client.env"));
      security.push(
        `--auth-keys=${join(this.authDir, "access-keys")}`,
        `--auth-policy=${join(this.authDir, "policy.json")}`,
      );
    }
    const peers = this.nodeIds
      .map((id) => `${id}=127.0.0.1:${nodePorts(options.basePort, id).peer}`)
      .join(",");
    for (const nodeId of this.nodeIds) {
      const ports = nodePorts(options.basePort, nodeId);
      const args = [
        `--node-id=${nodeId}`,
        `--zone=${String.fromCharCode(96 + nodeId)}`,
        `--cluster-id=${clusterId}`,
        `--data=${this.nodeDataDir(nodeId)}`,
        `--grpc-listen=127.0.0.1:${ports.grpc}`,
        `--peer-listen=127.0.0.1:${ports.peer}`,
        `--http-listen=127.0.0.1:${ports.http}`,
        `--metrics-listen=127.0.0.1:${ports.metrics}`,
        `--peers=${peers}`,
        ...(options.tickIntervalMs === undefined ? [] : [`--tick-interval-ms=${options.tickIntervalMs}`]),
        ...(options.electionTicks === undefined ? [] : [`--election-ticks=${options.electionTicks}`]),
        ...(options.heartbeatTicks === undefined ? [] : [`--heartbeat-ticks=${options.heartbeatTicks}`]),
        ...security,
        ...(options.extraArgs ?? []),
        ...(options.nodeExtraArgs?.(nodeId) ?? []),
      ];
      this.#processes.set(
        nodeId,
        new NodeProcess({
          nodeId,
          args,
          logFile: join(this.dataDir, `node-${nodeId}.log`),
          ...(options.env === undefined ? {} : { env: options.env }),
          ...(options.nodeExecArgv === undefined ? {} : { execArgv: options.nodeExecArgv }),
        }),
      );
      this.#clients.set(
        nodeId,
        new AdminClient(`127.0.0.1:${ports.grpc}`, {
          ...(this.tlsCa === undefined ? {} : { tls: { ca: this.tlsCa } }),
          ...(this.credentials === undefined ? {} : { credentials: this.credentials }),
        }),
      );
    }
  }

  nodeDataDir(nodeId: number): string {
    return join(this.dataDir, `node-${nodeId}`);
  }

  ports(nodeId: number): NodePorts {
    return nodePorts(this.#options.basePort, nodeId);
  }

  process(nodeId: number): NodeProcess {
    const found = this.#processes.get(nodeId);
    if (found === undefined)
      throw new Error(`no node ${nodeId} in this cluster (nodes ${this.nodeIds.join(", ")})`);
    return found;
  }

  /** The admin client of one node; it reconnects by itself after a restart. */
  admin(nodeId: number): AdminClient {
    const found = this.#clients.get(nodeId);
    if (found === undefined)
      throw new Error(`no node ${nodeId} in this cluster (nodes ${this.nodeIds.join(", ")})`);
    return found;
  }

  /** A client of the node's public API (sluice.v1.StreamsService), opened on first use. */
  streams(nodeId: number): StreamsClient {
    let client = this.#streamsClients.get(nodeId);
    if (client === undefined) {
      client = new StreamsClient(`127.0.0.1:${this.ports(nodeId).grpc}`, {
        ...(this.tlsCa === undefined ? {} : { tls: { ca: this.tlsCa } }),
        ...(this.credentials === undefined ? {} : { credentials: this.credentials }),
      });
      this.#streamsClients.set(nodeId, client);
    }
    return client;
  }

  /** Node ids whose process is running. */
  runningNodeIds(): number[] {
    return this.nodeIds.filter((id) => this.process(id).running);
  }

  /** Starts every node and waits until all serve. */
  async start(): Promise<void> {
    for (const nodeId of this.nodeIds) this.process(nodeId).start();
    await Promise.all(this.nodeIds.map((nodeId) => this.waitServing(nodeId)));
  }

  /**
   * Waits until the node's public API answers SERVING on gRPC health (its storage is open and its
   * metadata service has a quorum); fails early, with its log, if it exits.
   */
  async waitServing(
    nodeId: number,
    timeoutMs = this.#options.startTimeoutMs ?? NODE_START_TIMEOUT_MS_DEFAULT,
  ): Promise<void> {
    const node = this.process(nodeId);
    await waitFor(
      async () => {
        if (!node.running) {
          throw new Error(
            `node ${nodeId} exited (${describeExit(node.lastExit)}) while starting. ${node.logTail()}`,
          );
        }
        return (await this.admin(nodeId).health(500, STREAMS_SERVICE_NAME)) === "SERVING";
      },
      { timeoutMs, what: `node ${nodeId} to serve the public API (gRPC health SERVING)`, intervalMs: 50 },
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${node.logTail()}`, {
        cause: error,
      });
    });
  }

  /** Sends a real signal to one node and waits for it to exit. */
  kill(nodeId: number, signal: NodeJS.Signals = "SIGKILL"): Promise<ExitStatus> {
    return this.process(nodeId).kill(signal, NODE_STOP_TIMEOUT_MS_DEFAULT);
  }

  /** Freezes a node with SIGSTOP (a long GC pause or a hung VM, seen from outside). */
  pause(nodeId: number): void {
    if (!this.process(nodeId).signal("SIGSTOP")) throw new Error(`node ${nodeId} is not running`);
  }

  /** Resumes a node frozen by `pause`. */
  resume(nodeId: number): void {
    if (!this.process(nodeId).signal("SIGCONT")) throw new Error(`node ${nodeId} is not running`);
  }

  /** Starts a stopped node again on the same data directory and waits until it serves. */
  async restart(nodeId: number, timeoutMs?: number): Promise<void> {
    const node = this.process(nodeId);
    if (node.running) await node.kill("SIGTERM", NODE_STOP_TIMEOUT_MS_DEFAULT);
    node.start();
    await this.waitServing(nodeId, timeoutMs);
  }

  /**
   * Stops a node (SIGTERM) and starts it again on the same data directory with `env` laid over
   * the cluster's environment for this run only, e.g. `{ SLUICE_CLOCK_OFFSET_MS: "360000" }` to
   * move its clock; waits until it serves. A later `restart` runs it with the cluster's env again.
   */
  async restartWithEnv(
    nodeId: number,
    env: NodeJS.ProcessEnv,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const node = this.process(nodeId);
    if (node.running) await node.kill("SIGTERM", NODE_STOP_TIMEOUT_MS_DEFAULT);
    node.start(env);
    await this.waitServing(nodeId, options.timeoutMs);
  }

  /** Creates a group on every voter's node (EnsureGroup is idempotent). */
  async ensureGroup(groupId: number, voters: readonly number[] = this.nodeIds): Promise<void> {
    await Promise.all(voters.map((nodeId) => this.admin(nodeId).ensureGroup(groupId, voters)));
  }

  /**
   * The node that leads the group: a running node that reports itself leader, with the highest
   * term among such reports. Waits until one exists.
   */
  async leaderOf(groupId: number, timeoutMs = 15_000): Promise<number> {
    return waitFor(
      async () => {
        const statuses = await Promise.all(
          this.runningNodeIds().map((nodeId) =>
            this.admin(nodeId)
              .groupStatus(groupId, 1_000)
              .then(
                (status) => ({ nodeId, status }),
                () => undefined,
              ),
          ),
        );
        let best: { nodeId: number; status: admin.GroupStatusResponse } | undefined;
        for (const entry of statuses) {
          if (entry?.status.role !== "leader") continue;
          if (best === undefined || entry.status.term > best.status.term) best = entry;
        }
        if (best !== undefined) this.#leaderCache.set(groupId, best.nodeId);
        return best?.nodeId;
      },
      { timeoutMs, what: `group ${groupId} to have a leader`, intervalMs: 50 },
    );
  }

  /**
   * The node that leads the metadata group (group 0), which runs the metadata controller: a
   * running node whose NodeStatus lists group 0 among the groups it leads (the admin GroupStatus
   * call does not serve group 0). Waits until one exists.
   */
  async metadataLeader(timeoutMs = 15_000): Promise<number> {
    return waitFor(
      async () => {
        for (const nodeId of this.runningNodeIds()) {
          const status = await this.admin(nodeId)
            .nodeStatus()
            .catch(() => undefined);
          if (status?.ledGroupIds.includes(0) === true) return nodeId;
        }
        return undefined;
      },
      { timeoutMs, what: "a node to lead the metadata group (group 0)", intervalMs: 50 },
    );
  }

  /**
   * Appends one batch through whichever node leads the group, following NOT_LEADER hints and
   * moving on from unreachable nodes until the deadline. Only errors that prove the batch was
   * not written (NOT_LEADER, a node that cannot be reached before sending) are retried; an
   * ambiguous failure (deadline passed while the call was in flight) is thrown, so a caller
   * counting acknowledged appends never counts one twice.
   */
  async append(
    groupId: number,
    records: readonly AppendRecord[],
    options: { timeoutMs?: number; callTimeoutMs?: number } = {},
  ): Promise<admin.AppendResponse & { nodeId: number }> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    let target = this.#leaderCache.get(groupId) ?? this.runningNodeIds()[0] ?? 1;
    let lastError: unknown;
    let rotation = 0;
    while (Date.now() < deadline) {
      try {
        const response = await this.admin(target).append(
          groupId,
          records,
          Math.min(
            options.callTimeoutMs ?? ADMIN_CALL_TIMEOUT_MS_DEFAULT,
            Math.max(1, deadline - Date.now()),
          ),
        );
        this.#leaderCache.set(groupId, target);
        return { ...response, nodeId: target };
      } catch (error) {
        lastError = error;
        if (!(error instanceof AdminCallError) || !isSafeToRetry(error)) throw error;
        const hint = error.code === "NOT_LEADER" ? error.leaderHint : 0;
        if (hint !== 0 && hint !== target && this.#processes.has(hint)) {
          target = hint;
        } else {
          rotation += 1;
          const candidates = this.nodeIds;
          target = candidates[(candidates.indexOf(target) + 1) % candidates.length] ?? target;
          // After a full round without a leader, give the election a moment before the next round.
          if (rotation % candidates.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
    throw new Error(`append to group ${groupId} found no leader before its deadline`, { cause: lastError });
  }

  /** Stops every running node with SIGTERM (SIGKILL after the deadline) and removes a temporary data folder. */
  async stop(): Promise<void> {
    // A paused node cannot handle SIGTERM until it is resumed.
    for (const nodeId of this.nodeIds) this.process(nodeId).signal("SIGCONT");
    const results = await Promise.allSettled(
      this.nodeIds.map((nodeId) => this.process(nodeId).kill("SIGTERM", NODE_STOP_TIMEOUT_MS_DEFAULT)),
    );
    for (const client of this.#clients.values()) client.close();
    for (const client of this.#streamsClients.values()) client.close();
    this.#streamsClients.clear();
    if (
      this.#ownsDataDir &&
      this.#options.keepData !== true &&
      process.env.SLUICE_HARNESS_KEEP_DATA !== "1"
    ) {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }
}

/** NOT_LEADER and a refused connection mean the batch was not written; anything else may have been. */
function isSafeToRetry(error: AdminCallError): boolean {
  if (error.code === "NOT_LEADER" || error.code === "NODE_NOT_READY") return true;
  // UNAVAILABLE without a node error code: the channel could not reach the node at all.
  return (
    error.code === "UNAVAILABLE" &&
    /ECONNREFUSED|No connection established|failed to connect/i.test(error.message)
  );
}

/** Runs a `sluice` command of the built CLI to completion; throws with its output when it fails. */
function runCli(args: readonly string[]): void {
  try {
    execFileSync(process.execPath, [CLI_MAIN_PATH, ...args], { stdio: "pipe" });
  } catch (error) {
    const output = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `sluice ${args.join(" ")} failed: ${String(output.stderr ?? "")}${String(output.stdout ?? "")}`,
      { cause: error },
    );
  }
}

/** The access key in a client.env that `sluice auth init` wrote. */
function readClientEnv(file: string): ClusterCredentials {
  const values = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const separator = line.indexOf("=");
    if (separator > 0) values.set(line.slice(0, separator), line.slice(separator + 1).trim());
  }
  const accessKeyId = values.get("SLUICE_ACCESS_KEY_ID");
  const secretAccessKey = values.get("SLUICE_SECRET_ACCESS_KEY");
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new Error(`${file} holds no SLUICE_ACCESS_KEY_ID / SLUICE_SECRET_ACCESS_KEY`);
  }
  return { accessKeyId, secretAccessKey };
}

function describeExit(exit: ExitStatus | undefined): string {
  if (exit === undefined) return "still running";
  return exit.signal === null ? `exit status ${exit.code}` : `signal ${exit.signal}`;
}

/** Creates and starts a cluster; stop it with `cluster.stop()`. */
export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const cluster = new TestCluster(options);
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw error;
  }
  return cluster;
}
