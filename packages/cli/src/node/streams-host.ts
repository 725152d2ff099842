/**
 * Opens everything a node runs behind its ports: the peer gRPC server (Raft transport and the
 * internal ForwardService) on --peer-listen, the Broker over the data directory with the
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
import { Broker, GrpcPeerTransport, peerServerChannelOptions, transportConstants } from "@sluice/broker";
import { Gateway, GrpcPeerForwarder } from "@sluice/gateway";
import { MetadataService, MetadataStateMachine } from "@sluice/metadata";
import { forward, streams } from "@sluice/proto";
import { formatHostPort, type NodeConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { flattenMetrics } from "./metrics-server.js";
import type { NodeHost } from "./node.js";

/** The metadata service's Raft group. */
const METADATA_GROUP_ID = 0;

export async function openStreamsHost(config: NodeConfig, log: Logger): Promise<NodeHost> {
  const peerAddresses = new Map<number, string>();
  for (const [nodeId, address] of config.peers) peerAddresses.set(nodeId, formatHostPort(address));
  const otherPeers = new Map([...peerAddresses].filter(([nodeId]) => nodeId !== config.nodeId));

  const peerServer = new grpc.Server({
    ...peerServerChannelOptions(transportConstants.PEER_FRAME_BYTES_MAX),
    "grpc.keepalive_time_ms": transportConstants.GRPC_KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": transportConstants.GRPC_KEEPALIVE_TIMEOUT_MS,
  });
  const transport = new GrpcPeerTransport({
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    server: peerServer,
    peers: otherPeers,
    logger: {
      info: (msg, fields) => log.info(msg, { component: "transport", ...fields }),
      warn: (msg, fields) => log.warn(msg, { component: "transport", ...fields }),
    },
  });
  const stateMachine = new MetadataStateMachine();
  const broker = await Broker.open({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    transport,
    stateMachineFor: (groupId) => (groupId === METADATA_GROUP_ID ? stateMachine : undefined),
    ...(config.tickIntervalMs === undefined ? {} : { tickIntervalMs: config.tickIntervalMs }),
    ...(config.electionTicks === undefined ? {} : { electionTicks: config.electionTicks }),
    ...(config.heartbeatTicks === undefined ? {} : { heartbeatTicks: config.heartbeatTicks }),
  });
  broker.onFatalError((error) => {
    // The storage refused a write or a sync: nothing this process holds can be trusted to reach
    // the disk any more. Exit at once; a restart recovers from what is durable.
    log.error("fatal storage error: exiting", { error });
    process.exit(1);
  });

  let gateway: Gateway | undefined;
  let metadata: MetadataService | undefined;
  const forwarder = new GrpcPeerForwarder(peerAddresses);
  peerServer.addService(
    forward.ForwardServiceService,
    lazyForwardService(
      () => gateway?.forwardService,
      () => metadata,
    ),
  );
  const closeAll = async () => {
    gateway?.close();
    await metadata?.stop();
    try {
      await broker.shutdown();
    } finally {
      await transport.close();
      await new Promise<void>((resolve) => peerServer.tryShutdown(() => resolve()));
    }
  };
  try {
    await bindServer(peerServer, formatHostPort(config.peerListen));
    await transport.start();
    transport.onPeerState((peer, state) => log.info("peer state", { peer, state }));
    metadata = await MetadataService.start({
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
      logger: {
        info: (msg, fields) => log.info(msg, { component: "metadata", ...fields }),
        warn: (msg, fields) => log.warn(msg, { component: "metadata", ...fields }),
      },
    });
    gateway = new Gateway({ nodeId: config.nodeId, broker, metadata, forwarder });
    gateway.start();
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
  const live = gateway;
  return {
    backend: broker,
    publicServices: [{ definition: streams.StreamsServiceService, implementation: live.streamsService }],
    addReflection: (server) => addReflection(server, log),
    metrics: () => ({ ...flattenMetrics(broker.metrics()), gateway_subscriptions: live.subscriptionCount }),
    peerStates: () => new Map([...transport.peerStates()].map(([peer, state]) => [peer, String(state)])),
    shutdown: closeAll,
  };
}

/** The ForwardService, answering "not ready" until the gateway and metadata service exist. */
function lazyForwardService(
  gateway: () => forward.ForwardServiceServer | undefined,
  metadata: () => MetadataService | undefined,
): forward.ForwardServiceServer {
  return {
    forwardPutRecords: (call, callback) => {
      const service = gateway();
      if (service === undefined) {
        callback(null, {
          acceptedCount: 0,
          index: 0,
          errorCode: "BROKER_CLOSED",
          errorMessage: "this node is starting or stopping",
          leaderHint: 0,
        });
        return;
      }
      service.forwardPutRecords(call, callback);
    },
    forwardMetadataCommand: (call, callback) => {
      const service = metadata();
      if (service === undefined) {
        callback(null, {
          result: Buffer.alloc(0),
          errorCode: "METADATA_UNAVAILABLE",
          errorMessage: "this node's metadata service is starting or stopping",
          leaderHint: 0,
        });
        return;
      }
      service.handleForwarded(call.request.command).then(
        (result) => callback(null, { result, errorCode: "", errorMessage: "", leaderHint: 0 }),
        (error: unknown) =>
          callback(null, {
            result: Buffer.alloc(0),
            errorCode: (error as { code?: string }).code ?? "INTERNAL",
            errorMessage: error instanceof Error ? error.message : String(error),
            leaderHint: (error as { leaderHint?: number }).leaderHint ?? 0,
          }),
      );
    },
  };
}

function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error === null) resolve(port);
      else reject(error);
    });
  });
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
function addReflection(server: grpc.Server, log: Logger): void {
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
