/**
 * Opens everything a node runs behind its ports: the peer gRPC server (Raft transport and the
 * internal ForwardService, its ForwardStream included) on --peer-listen, the Broker over the data directory with the
 * metadata state machine on group 0, the metadata service (which waits for group 0 to have a
 * leader and registers this node), and the gateway whose StreamsService the node then serves on
 * the public port, with server reflection so grpcurl works.
 *
 * Order matters. The broker opens first, so a locked data directory is reported before any
 * traffic. The peer server is bound next with the ForwardService already on it: other nodes'
 * forwarded metadata commands are refused (retriably) until this node's metadata service
 * exists, and answered from then on — a leader that is still starting must not stall the
 * others' start. Shutdown runs the other way: the gateway closes, the broker hands leadership
 * away and closes, and the peer server goes last (the handover needs it).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import {
  Broker,
  GrpcPeerTransport,
  nodeIdOfCertificate,
  PeerHttp2Server,
  type PeerTlsOptions,
} from "@sluice/broker";
import {
  ConsumerGroupGateway,
  createForwardService,
  createForwardStreamHandler,
  FORWARD_STREAM_PATH,
  type ForwardTargets,
  Gateway,
  GrpcPeerForwarder,
  KeyFileError,
  loadKeyFile,
  MasterKeys,
  rejectMalformedRequests,
  streamsServiceDefinition,
} from "@sluice/gateway";
import { MetadataService, MetadataStateMachine } from "@sluice/metadata";
import { forward, groups, streams } from "@sluice/proto";
import type { SyncKind } from "@sluice/storage";
import { Counter } from "prom-client";
import { openAnalyticsHost } from "./analytics-host.js";
import { formatHostPort, type NodeConfig } from "./config.js";
import { openDeliveryHost } from "./delivery-host.js";
import { StartupError, StartupErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";
import { NodeMetrics } from "./metrics/node-metrics.js";
import { flattenMetrics } from "./metrics-server.js";
import type { NodeHost } from "./node.js";
import { TlsFiles } from "./tls-files.js";

/** The metadata service's Raft group. */
const METADATA_GROUP_ID = 0;
/** Pause between attempts to start the metadata service (it waits for a quorum each time). */
const METADATA_START_RETRY_MS = 500;

export async function openStreamsHost(config: NodeConfig, log: Logger): Promise<NodeHost> {
  const peerAddresses = new Map<number, string>();
  for (const [nodeId, address] of config.peers) peerAddresses.set(nodeId, formatHostPort(address));
  const otherPeers = new Map([...peerAddresses].filter(([nodeId]) => nodeId !== config.nodeId));
  // The key file is read once, now: a bad file stops the start before anything opens.
  const masterKeys = config.kmsKeyFile === undefined ? undefined : openMasterKeys(config.kmsKeyFile);
  if (masterKeys !== undefined) {
    log.info("encryption at rest: master keys loaded", {
      keyFile: config.kmsKeyFile,
      keyIds: masterKeys.keyIds,
    });
  }

  // Mutual TLS on the peer port: the files are read now (a bad file stops the start here) and
  // polled; new connections, both ways, use what they hold at the time.
  const peerTlsFiles = config.peerTls === undefined ? undefined : new TlsFiles(config.peerTls, log);
  let countRejection: (reason: string) => void = () => {};
  const peerTls: PeerTlsOptions | undefined =
    peerTlsFiles === undefined
      ? undefined
      : {
          material: () => {
            const { cert, key, ca } = peerTlsFiles.current();
            return { cert, key, ca: ca as Buffer };
          },
          onRejected: (reason, remoteAddress) => {
            countRejection(reason);
            log.warn("refused a peer connection", { component: "transport", reason, remoteAddress });
          },
        };
  // node:http2 speaking gRPC (Raft streams without grpc-js's copy of every frame; ForwardService
  // as unary gRPC for the peers' grpc-js clients).
  const peerServer = new PeerHttp2Server(
    peerTls === undefined
      ? {}
      : { tls: { ...peerTls, clusterId: config.clusterId, members: new Set(config.peers.keys()) } },
  );
  peerTlsFiles?.onChange(() => peerServer.reloadTls());
  const transport = new GrpcPeerTransport({
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    server: peerServer,
    ...(peerTls === undefined ? {} : { tls: peerTls }),
    peers: otherPeers,
    logger: {
      info: (msg, fields) => log.info(msg, { component: "transport", ...fields }),
      warn: (msg, fields) => log.warn(msg, { component: "transport", ...fields }),
    },
  });
  const stateMachine = new MetadataStateMachine();
  // One shifted wall clock for the broker (arrival timestamps) and the gateway (iterator expiry,
  // retention), so a test can move a node through time; Date.now itself when the offset is 0.
  const offsetMs = config.clockOffsetMs;
  const clock = offsetMs === 0 ? Date.now : () => Date.now() + offsetMs;
  // The storage reports synced-write latency from its first flush; the registry exists later.
  let observeSync: (kind: SyncKind, durationMs: number) => void = () => {};
  const broker = await Broker.open({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    transport,
    stateMachineFor: (groupId) => (groupId === METADATA_GROUP_ID ? stateMachine : undefined),
    storage: { onSync: (kind, durationMs) => observeSync(kind, durationMs) },
    ...(config.tickIntervalMs === undefined ? {} : { tickIntervalMs: config.tickIntervalMs }),
    ...(config.electionTicks === undefined ? {} : { electionTicks: config.electionTicks }),
    ...(config.heartbeatTicks === undefined ? {} : { heartbeatTicks: config.heartbeatTicks }),
    clock,
  });
  const nodeMetrics = new NodeMetrics({
    nodeId: config.nodeId,
    zone: config.zone,
    host: {
      metrics: () => broker.metrics(),
      groupIds: () => broker.groupIds(),
      groupStatus: (groupId) => broker.groupStatus(groupId),
      transportMetrics: () => transport.metrics(),
      peerStates: () => new Map([...transport.peerStates()].map(([peer, state]) => [peer, String(state)])),
    },
    clusterNodes: () => stateMachine.view().nodes.values(),
  });
  observeSync = nodeMetrics.observeSync;
  const rejected = new Counter({
    name: "sluice_peer_tls_rejected_total",
    help: "Connections to the peer port refused by mutual TLS: reason=handshake (no certificate, another CA, plaintext) or identity (not a member of this cluster).",
    labelNames: ["reason"],
    registers: [nodeMetrics.registry],
  });
  countRejection = (reason) => rejected.inc({ reason });
  broker.onFatalError((error) => {
    // The storage refused a write or a sync: nothing this process holds can be trusted to reach
    // the disk any more. Exit at once; a restart recovers from what is durable.
    log.error("fatal storage error: exiting", { error });
    process.exit(1);
  });

  let gateway: Gateway | undefined;
  let metadata: MetadataService | undefined;
  // Consumer groups (sluice.v1.ConsumerGroupService), over the same metadata service.
  let groupGateway: ConsumerGroupGateway | undefined;
  // Batches travel on a ForwardStream per peer (node:http2, mutual TLS as the Raft streams);
  // metadata commands as unary calls on grpc-js channels.
  const forwarder = new GrpcPeerForwarder({
    addresses: peerAddresses,
    ...(peerTlsFiles === undefined || peerTls === undefined
      ? {}
      : {
          credentialsFor: (nodeId: number) => forwardCredentials(peerTlsFiles, config.clusterId, nodeId),
          streamTls: { material: peerTls.material, clusterId: config.clusterId },
        }),
  });
  // The metadata service answers forwarded commands as soon as it exists, before the gateway.
  const forwardTargets = (): ForwardTargets => {
    if (gateway !== undefined) return gateway.forwardTargets();
    const live = metadata;
    return live === undefined ? {} : { metadataCommand: (command) => live.handleForwarded(command) };
  };
  peerServer.addUnaryService(forward.ForwardServiceService, createForwardService(forwardTargets));
  peerServer.handleStream(FORWARD_STREAM_PATH, createForwardStreamHandler(forwardTargets));
  let closing = false;
  let metadataStarting: Promise<void> = Promise.resolve();
  // Delivery streams (Firehose API on the HTTP port, the delivery runner once the API is ready).
  const delivery = openDeliveryHost(config, log);
  // Stream analytics (the analytics runner once the API is ready).
  const analytics = openAnalyticsHost(config, log);
  const closeAll = async () => {
    closing = true;
    await delivery?.stop().catch((error) => log.warn("delivery stop failed", { error: String(error) }));
    await analytics?.stop().catch((error) => log.warn("analytics stop failed", { error: String(error) }));
    gateway?.close();
    groupGateway?.close();
    await metadata?.stop();
    try {
      await broker.shutdown();
    } finally {
      await transport.close();
      await peerServer.close();
      peerTlsFiles?.close();
      // A start still waiting for a quorum gives up at its next check; do not wait for it longer.
      await Promise.race([
        metadataStarting.catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, METADATA_START_RETRY_MS).unref()),
      ]);
      await metadata?.stop();
    }
  };
  try {
    await peerServer.listen(formatHostPort(config.peerListen));
    await transport.start();
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
  transport.onPeerState((peer, state) => log.info("peer state", { peer, state }));

  // The metadata service needs a quorum of group 0, which may take the other nodes' start: the
  // node serves (health, admin) meanwhile, and the public API from the moment it is ready.
  const startMetadata = async (): Promise<void> => {
    for (let attempt = 1; !closing; attempt++) {
      try {
        const started = await MetadataService.start({
          broker,
          stateMachine,
          nodeId: config.nodeId,
          self: {
            nodeId: config.nodeId,
            zone: config.zone,
            peerAddress: formatHostPort(config.peerListen),
            gatewayAddress: formatHostPort(config.grpcListen),
            httpAddress: formatHostPort(config.httpListen),
          },
          members: [...peerAddresses.keys()].sort((a, b) => a - b),
          forwarder: {
            propose: (leader, command, deadlineMs) => forwarder.metadataCommand(leader, command, deadlineMs),
          },
          clock,
          logger: {
            info: (msg, fields) => log.info(msg, { component: "metadata", ...fields }),
            warn: (msg, fields) => log.warn(msg, { component: "metadata", ...fields }),
          },
        });
        if (closing) {
          await started.stop();
          return;
        }
        metadata = started;
        gateway = new Gateway({
          nodeId: config.nodeId,
          broker,
          metadata: started,
          // Wakes puts re-routed by a reshard as soon as the new shard map is applied here.
          metadataChanges: stateMachine,
          forwarder,
          clock,
          observe: nodeMetrics.observe,
          shardMetrics: nodeMetrics.shardMetrics,
          masterKeys,
          ...(config.retentionSweepIntervalMs === undefined
            ? {}
            : { retentionSweepIntervalMs: config.retentionSweepIntervalMs }),
        });
        gateway.start();
        groupGateway = new ConsumerGroupGateway({
          metadata: started,
          broker,
          clock,
          observe: nodeMetrics.observe,
        });
        groupGateway.start();
        log.info("public API ready", { attempt });
        delivery?.start();
        analytics?.start();
        return;
      } catch (error) {
        if (closing) return;
        log.warn("metadata service not ready yet; retrying", { attempt, error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, METADATA_START_RETRY_MS));
      }
    }
  };
  metadataStarting = startMetadata();
  return {
    backend: broker,
    publicServices: [
      {
        // PutRecords and PutRecord decoded without copying records; undecodable ones answered ValidationException.
        definition: streamsServiceDefinition,
        authNamespace: "kinesis",
        implementation: rejectMalformedRequests(
          lazyService<streams.StreamsServiceServer>(
            streams.StreamsServiceService,
            () => gateway?.streamsService,
          ),
        ),
      },
      {
        definition: groups.ConsumerGroupServiceService,
        authNamespace: "sluice",
        implementation: lazyService<groups.ConsumerGroupServiceServer>(
          groups.ConsumerGroupServiceService,
          () => groupGateway?.service,
        ),
      },
    ],
    kinesisOperations: () => gateway?.operations,
    addReflection: (server) => addReflection(server, log),
    observeCall: nodeMetrics.observe,
    publicReady: metadataStarting.then(() => {
      if (gateway === undefined) throw new Error("the node stopped before its public API was ready");
    }),
    prometheus: {
      render: async () =>
        `${await nodeMetrics.render()}${delivery?.prometheusText() ?? ""}${analytics?.prometheusText() ?? ""}`,
      contentType: nodeMetrics.contentType,
    },
    metrics: () => ({
      ...delivery?.metrics(),
      ...analytics?.metrics(),
      ...flattenMetrics(broker.metrics()),
      gateway_subscriptions: gateway?.subscriptionCount ?? 0,
    }),
    peerStates: () => new Map([...transport.peerStates()].map(([peer, state]) => [peer, String(state)])),
    shutdown: closeAll,
  };
}

/**
 * Channel credentials of the ForwardService client to node `nodeId`: this node's certificate, the
 * cluster CA, and the server must be `nodeId` by its certificate's identity (not its host name).
 * Taken when that node's client is created: a reloaded certificate reaches it at the next start.
 */
function forwardCredentials(files: TlsFiles, clusterId: string, nodeId: number): grpc.ChannelCredentials {
  const { cert, key, ca } = files.current();
  return grpc.credentials.createSsl(ca ?? null, key, cert, {
    checkServerIdentity: (_host, certificate) =>
      nodeIdOfCertificate(certificate, clusterId) === nodeId
        ? undefined
        : new Error(`the peer presented a certificate that does not name node ${nodeId} of ${clusterId}`),
  });
}

/**
 * A public service before its implementation exists (the metadata service has no quorum yet):
 * every call fails with UNAVAILABLE (retriable) and a message saying why; afterwards every call
 * goes to the real handlers.
 */
function lazyService<Service>(definition: grpc.ServiceDefinition, live: () => Service | undefined): Service {
  const notReady = {
    code: grpc.status.UNAVAILABLE,
    details:
      "this node's metadata service has no quorum yet (its peers are starting or unreachable); retry shortly or use another node",
  };
  const implementation: Record<string, grpc.UntypedHandleCall> = {};
  for (const [name, method] of Object.entries(definition)) {
    implementation[name] = method.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const service = live() as
            | Record<string, grpc.handleServerStreamingCall<unknown, unknown>>
            | undefined;
          if (service === undefined) call.emit("error", notReady);
          else service[name]?.call(service, call);
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const service = live() as Record<string, grpc.handleUnaryCall<unknown, unknown>> | undefined;
          if (service === undefined) callback(notReady);
          else service[name]?.call(service, call, callback);
        };
  }
  return implementation as Service;
}

/** Where the .proto files are: the checkout's proto/ folder, found by walking up from here. */
function findProtoDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    const candidate = join(dir, "proto");
    if (existsSync(join(candidate, "sluice/v1/streams.proto"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** Server reflection (grpcurl, grpcui) for the public API and health, when the .proto files are at hand. */
function addReflection(server: Pick<grpc.Server, "addService">, log: Logger): void {
  const protoDir = findProtoDir();
  if (protoDir === undefined) {
    log.warn("server reflection is off: the proto/ folder was not found next to the installation");
    return;
  }
  const definition = loadSync(
    ["sluice/v1/streams.proto", "sluice/v1/errors.proto", "grpc/health/v1/health.proto"],
    {
      includeDirs: [protoDir],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    },
  );
  new ReflectionService(definition).addToServer(server);
}

/** The master keys of the key file (--kms-key-file); a bad file is the configuration's fault (exit 2). */
function openMasterKeys(path: string): MasterKeys {
  try {
    return new MasterKeys(loadKeyFile(path));
  } catch (error) {
    if (error instanceof KeyFileError) {
      throw new StartupError(StartupErrorCode.InvalidConfig, `--kms-key-file: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}
