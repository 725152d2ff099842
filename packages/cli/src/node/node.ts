/**
 * The node process: checks its environment (data directory, identity, ports), opens the
 * multi-Raft host, serves gRPC health and the admin service on the public port and metrics over
 * HTTP, and shuts down gracefully: stop answering ready, stop accepting calls, let the host hand
 * its leaderships away and flush, close the servers.
 *
 * Order matters: every check that can fail on a misconfiguration runs before the storage is
 * opened, so a bad start leaves nothing half-done; health reports NOT_SERVING while the host
 * recovers its log and SERVING only once it is open.
 */
import type { Server as HttpServer } from "node:http";
import {
  experimental,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  type ActionNamespace,
  authConstants,
  guardGrpcService,
  KinesisHttpServer,
  type StreamsOperations,
} from "@sluice/gateway";
import { health } from "@sluice/proto";
import { GRPC_MESSAGE_BYTES_MAX, SHUTDOWN_DEADLINE_MS, STREAMS_SERVICE_NAME } from "../constants.js";
import { type AdminBackend, adminServiceDefinition, createAdminService } from "./admin-service.js";
import { openAccessControl, warnWhileInsecure, watchAuthFiles } from "./auth.js";
import { formatHostPort, type NodeConfig } from "./config.js";
import { prepareDataDir } from "./data-dir.js";
import { StartupError, StartupErrorCode } from "./errors.js";
import { HealthService } from "./health.js";
import type { Logger } from "./logger.js";
import { renderPrometheus, startMetricsServer } from "./metrics-server.js";
import { checkPortsFree } from "./ports.js";
import { TlsFiles } from "./tls-files.js";

/** The multi-Raft host as the node process sees it. */
export interface NodeHost {
  readonly backend: AdminBackend;
  /** Flattened numeric counters. */
  metrics(): Readonly<Record<string, number>>;
  /** The node's Prometheus registry, served at /metrics; without one, `metrics()` is flattened there. */
  readonly prometheus?: { render(): Promise<string>; readonly contentType: string };
  /** Peer node id → "up" / "down". */
  peerStates(): ReadonlyMap<number, string>;
  /** Hands leaderships away, flushes and closes storage and transport. */
  shutdown(): Promise<void>;
  /** Services the host serves on the public port (added once it is open), such as StreamsService. */
  readonly publicServices?: readonly {
    readonly definition: ServiceDefinition;
    readonly implementation: UntypedServiceImplementation;
    /** Puts the service behind the node's access control, its methods being actions of this namespace. */
    readonly authNamespace?: ActionNamespace;
  }[];
  /**
   * The gateway's operations for the Kinesis HTTP API on --http-listen, or undefined until the
   * gateway exists (the API answers 503 ServiceUnavailable meanwhile).
   */
  readonly kinesisOperations?: () => StreamsOperations | undefined;
  /** Adds server reflection for the public services (through `server.addService`). */
  readonly addReflection?: (server: Pick<Server, "addService">) => void;
  /**
   * Counts a finished public call (operation, "ok" or the Kinesis error name, start in ms) in the
   * request metrics: the node feeds it the calls its access control refuses before the gateway
   * sees them, and the Kinesis HTTP API's calls.
   */
  readonly observeCall?: (operation: string, outcome: string, startedAtMs: number) => void;
  /**
   * Resolves once the public services can answer (the metadata service has a quorum); until
   * then their health is NOT_SERVING while the node itself (and its admin service) serves.
   */
  readonly publicReady?: Promise<void>;
}

export type OpenHost = (config: NodeConfig, log: Logger) => Promise<NodeHost>;

export interface RunningNode {
  /** Resolves when the node has stopped; never rejects. */
  readonly stopped: Promise<{ clean: boolean }>;
  /** Starts the graceful shutdown (idempotent). */
  stop(reason: string): Promise<{ clean: boolean }>;
}

export const ADMIN_SERVICE_NAME = "sluice.admin.v1.AdminService";

export async function startNode(config: NodeConfig, log: Logger, openHost: OpenHost): Promise<RunningNode> {
  const startedAtMs = Date.now();
  // Debug only: a node that refuses to start prints exactly one line, its reason.
  log.debug("starting", {
    pid: process.pid,
    clusterId: config.clusterId,
    dataDir: config.dataDir,
    peers: Object.fromEntries([...config.peers].map(([id, address]) => [id, formatHostPort(address)])),
  });
  prepareDataDir(config.dataDir, config.nodeId, config.clusterId, startedAtMs);
  await checkPortsFree([
    { flag: "--grpc-listen", address: config.grpcListen },
    { flag: "--peer-listen", address: config.peerListen },
    { flag: "--http-listen", address: config.httpListen },
    { flag: "--metrics-listen", address: config.metricsListen },
  ]);
  // Access keys, policy and audit log: loaded (and checked) before anything binds.
  const access = openAccessControl(config.auth, log, Date.now);
  const guarded = access.enabled || config.auth.auditLogFile !== undefined;
  const observeCall = (operation: string, outcome: string, startedAtMs: number): void =>
    host?.observeCall?.(operation, outcome, startedAtMs);

  // TLS files are read (and checked) before anything binds; they are polled for changes after.
  const publicTls = config.tls === undefined ? undefined : new TlsFiles(config.tls, log);
  // The public port comes up first, answering NOT_SERVING, so probes can tell "recovering" from
  // "dead" while a large log is read back.
  const healthService = new HealthService([ADMIN_SERVICE_NAME, STREAMS_SERVICE_NAME]);
  let host: NodeHost | undefined;
  let accepting = false;
  const server = new Server({
    "grpc.max_receive_message_length": GRPC_MESSAGE_BYTES_MAX,
    "grpc.max_send_message_length": GRPC_MESSAGE_BYTES_MAX,
    // Channelz (grpc-js's introspection service, not served here) costs every call some
    // bookkeeping: about 3.5% of a leader's CPU under single PutRecords.
    "grpc.enable_channelz": 0,
  });
  const adminService = createAdminService(
    () => (accepting ? host?.backend : undefined),
    {
      nodeId: config.nodeId,
      zone: config.zone,
      clusterId: config.clusterId,
      startedAtMs,
      now: Date.now,
      metrics: () => host?.metrics() ?? {},
      peerStates: () => host?.peerStates() ?? new Map(),
    },
    log,
  );
  // Health stays open (load balancers and probes ask it without keys). With authentication on,
  // every admin method (raw appends, leader transfer, status) is the action sluice:Admin on no
  // stream, so only a statement with the resource "*" grants it; refusals count as "Admin".
  server.addService(health.HealthService, healthService.implementation);
  server.addService(
    adminServiceDefinition,
    access.enabled
      ? guardGrpcService(adminServiceDefinition, adminService, {
          access,
          namespace: "sluice",
          authorization: { operation: authConstants.ADMIN_OPERATION },
          observe: observeCall,
        })
      : adminService,
  );
  try {
    await bindGrpc(server, config, publicGrpcCredentials(publicTls));
  } catch (error) {
    publicTls?.close();
    throw error;
  }
  // The Kinesis HTTP API listens from the start too, answering 503 ServiceUnavailable (retriable)
  // until the host's gateway is ready, and again once shutdown begins.
  const kinesisHttp = new KinesisHttpServer({
    operations: () => (accepting ? host?.kinesisOperations?.() : undefined),
    accessControl: access,
    observe: observeCall,
    ...(publicTls === undefined ? {} : { tls: publicTls.current() }),
  });
  publicTls?.onChange((material) => kinesisHttp.setTls(material));
  try {
    await kinesisHttp.listen(config.httpListen.port, config.httpListen.host);
  } catch (error) {
    server.forceShutdown();
    publicTls?.close();
    const where = formatHostPort(config.httpListen);
    const code = (error as NodeJS.ErrnoException).code;
    throw new StartupError(
      StartupErrorCode.PortUnavailable,
      code === "EADDRINUSE"
        ? `--http-listen ${where}: the port is already in use by another process; stop it or choose another port`
        : `--http-listen ${where}: cannot listen (${code ?? String(error)})`,
      { cause: error, retriable: true },
    );
  }

  try {
    host = await openHost(config, log);
  } catch (error) {
    server.forceShutdown();
    publicTls?.close();
    await kinesisHttp.close(0);
    throw mapOpenError(error, config);
  }
  let metricsServer: HttpServer;
  try {
    const prometheus = host.prometheus;
    metricsServer =
      prometheus === undefined
        ? await startMetricsServer(
            config.metricsListen,
            () => renderPrometheus(host?.metrics() ?? {}, { node: String(config.nodeId), zone: config.zone }),
            undefined,
            publicTls,
          )
        : await startMetricsServer(
            config.metricsListen,
            () => prometheus.render(),
            prometheus.contentType,
            publicTls,
          );
  } catch (error) {
    server.forceShutdown();
    publicTls?.close();
    await kinesisHttp.close(0);
    await host.shutdown().catch(() => {});
    throw new StartupError(
      StartupErrorCode.PortUnavailable,
      `--metrics-listen ${formatHostPort(config.metricsListen)}: cannot listen (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { cause: error },
    );
  }
  for (const service of host.publicServices ?? []) {
    const namespace = service.authNamespace;
    server.addService(
      service.definition,
      namespace === undefined || !guarded
        ? service.implementation
        : guardGrpcService(service.definition, service.implementation, {
            access,
            namespace,
            observe: observeCall,
          }),
    );
  }
  // Reflection describes the public API; with authentication on, only to an authenticated caller.
  host.addReflection?.(
    access.enabled
      ? {
          addService: (definition, implementation) =>
            server.addService(
              definition,
              guardGrpcService(definition, implementation, {
                access,
                namespace: "sluice",
                authorization: "authenticated",
              }),
            ),
        }
      : server,
  );
  accepting = true;
  healthService.setAll(true);
  if (host.publicReady !== undefined) {
    healthService.set(STREAMS_SERVICE_NAME, false);
    host.publicReady.then(
      () => {
        if (accepting) healthService.set(STREAMS_SERVICE_NAME, true);
      },
      () => {},
    );
  }
  log.info("serving", {
    pid: process.pid,
    clusterId: config.clusterId,
    grpc: formatHostPort(config.grpcListen),
    peer: formatHostPort(config.peerListen),
    metrics: formatHostPort(config.metricsListen),
    kinesisHttp: formatHostPort(config.httpListen),
    tls: config.tls !== undefined,
    peerTls: config.peerTls !== undefined,
    dataDir: config.dataDir,
    peers: Object.fromEntries([...config.peers].map(([id, address]) => [id, formatHostPort(address)])),
    groups: host.backend.groupIds().length,
    startupMs: Date.now() - startedAtMs,
  });

  // Without access keys anyone can do anything: say so now and every interval while it runs.
  const stopInsecureWarning = access.enabled
    ? () => {}
    : warnWhileInsecure(log, config.auth.insecureWarningIntervalMs, config.insecure);
  // Key and policy files are polled: a new key works, a removed one stops working, no restart.
  const stopAuthReload = access.enabled ? watchAuthFiles(config.auth, access, log) : () => {};

  let stopping: Promise<{ clean: boolean }> | undefined;
  let resolveStopped: (value: { clean: boolean }) => void = () => {};
  const stopped = new Promise<{ clean: boolean }>((resolve) => {
    resolveStopped = resolve;
  });
  const openHostRef = host;
  const stop = (reason: string): Promise<{ clean: boolean }> => {
    stopping ??= (async () => {
      log.info("shutting down", { reason });
      stopInsecureWarning();
      stopAuthReload();
      const begunAtMs = Date.now();
      healthService.setAll(false);
      accepting = false;
      let clean = true;
      const deadline = new Promise<"timeout">((resolve) =>
        setTimeout(resolve, SHUTDOWN_DEADLINE_MS, "timeout").unref(),
      );
      const work = (async () => {
        // New calls get UNAVAILABLE from here on; calls in flight finish or fail with the host.
        const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        // New HTTP calls get 503 (accepting is false); calls in flight get a grace period.
        const httpClosed = kinesisHttp.close();
        healthService.closeWatchers();
        publicTls?.close();
        try {
          await openHostRef.shutdown();
        } catch (error) {
          clean = false;
          log.error("host shutdown failed", { error });
        }
        await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
        server.forceShutdown();
        await httpClosed;
        // Calls are over: the audit log's last lines reach the file.
        await access.close();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      })();
      if ((await Promise.race([work, deadline])) === "timeout") {
        log.error("shutdown missed its deadline", { deadlineMs: SHUTDOWN_DEADLINE_MS });
        clean = false;
      }
      log.info("stopped", { clean, shutdownMs: Date.now() - begunAtMs });
      resolveStopped({ clean });
      return { clean };
    })();
    return stopping;
  };
  return { stopped, stop };
}

/**
 * The public port's credentials: TLS from the watched files (a new certificate is used for
 * handshakes from then on; with a CA, clients may present a certificate, none is required), or
 * plaintext.
 */
function publicGrpcCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  // grpc-js passes its first argument on as the identity provider and the second as the CA one.
  return experimental.createCertificateProviderServerCredentials(
    tls,
    tls.current().ca === undefined ? null : tls,
    false,
  );
}

async function bindGrpc(server: Server, config: NodeConfig, credentials: ServerCredentials): Promise<void> {
  const where = formatHostPort(config.grpcListen);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(where, credentials, (error) => {
      if (error === null) {
        resolve();
        return;
      }
      const inUse = /EADDRINUSE|address already in use/i.test(error.message);
      reject(
        new StartupError(
          StartupErrorCode.PortUnavailable,
          inUse
            ? `--grpc-listen ${where}: the port is already in use by another process; stop it or choose another port`
            : `--grpc-listen ${where}: cannot listen (${error.message})`,
          { cause: error, retriable: true },
        ),
      );
    });
  });
}

/** Finds a typed error with the given `name` or `code` anywhere in a cause chain. */
function findInChain(
  error: unknown,
  match: (candidate: { name?: unknown; code?: unknown }) => boolean,
): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth += 1) {
    if (match(current as { name?: unknown; code?: unknown })) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function mapOpenError(error: unknown, config: NodeConfig): unknown {
  if (error instanceof StartupError) return error;
  if (findInChain(error, (e) => e.name === "StorageLockedError" || e.code === "LOCKED") !== undefined) {
    return new StartupError(
      StartupErrorCode.DataDirLocked,
      `data directory ${config.dataDir} is in use by another running node; stop it or choose another --data`,
      { cause: error, retriable: true },
    );
  }
  const addressInUse = findInChain(
    error,
    (e) =>
      e.code === "EADDRINUSE" || (e instanceof Error && /EADDRINUSE|address already in use/i.test(e.message)),
  );
  if (addressInUse !== undefined) {
    return new StartupError(
      StartupErrorCode.PortUnavailable,
      `--peer-listen ${formatHostPort(config.peerListen)}: the port is already in use by another process; stop it or choose another port`,
      { cause: error, retriable: true },
    );
  }
  const permission = findInChain(
    error,
    (e) => e.code === "EACCES" || e.code === "EPERM" || e.code === "EROFS",
  );
  if (permission !== undefined) {
    return new StartupError(
      StartupErrorCode.DataDirNotWritable,
      `data directory ${config.dataDir} is not writable (${String((permission as { code?: unknown }).code)}); fix its permissions or choose another with --data`,
      { cause: error },
    );
  }
  return error;
}
