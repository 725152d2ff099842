/**
 * Opens the multi-Raft host of @sluice/broker for the node process: the gRPC peer transport
 * bound on --peer-listen, and the Broker over the data directory. The node owns both: the broker
 * opens (and recovers its log) first, so that a locked data directory is reported before any peer
 * traffic or log line; the transport starts next, and closes only after the broker has shut down
 * (so leadership can still be handed over during the shutdown).
 */
import { Broker, GrpcPeerTransport } from "@sluice/broker";
import { formatHostPort, type NodeConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { flattenMetrics } from "./metrics-server.js";
import type { NodeHost } from "./node.js";

export async function openBrokerHost(config: NodeConfig, log: Logger): Promise<NodeHost> {
  const peers = new Map<number, string>();
  for (const [nodeId, address] of config.peers) {
    if (nodeId !== config.nodeId) peers.set(nodeId, formatHostPort(address));
  }
  const transport = new GrpcPeerTransport({
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    listenAddress: formatHostPort(config.peerListen),
    peers,
    logger: {
      info: (msg, fields) => log.info(msg, { component: "transport", ...fields }),
      warn: (msg, fields) => log.warn(msg, { component: "transport", ...fields }),
    },
  });
  const broker = await Broker.open({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    transport,
    ...(config.tickIntervalMs === undefined ? {} : { tickIntervalMs: config.tickIntervalMs }),
    ...(config.electionTicks === undefined ? {} : { electionTicks: config.electionTicks }),
    ...(config.heartbeatTicks === undefined ? {} : { heartbeatTicks: config.heartbeatTicks }),
  });
  try {
    await transport.start();
  } catch (error) {
    await broker.close().catch(() => {});
    await transport.close().catch(() => {});
    throw error;
  }
  transport.onPeerState((peer, state) => log.info("peer state", { peer, state }));
  broker.onFatalError((error) => {
    // The storage refused a write or a sync: nothing this process holds can be trusted to reach
    // the disk any more. Exit at once; a restart recovers from what is durable.
    log.error("fatal storage error: exiting", { error });
    process.exit(1);
  });
  return {
    backend: broker,
    metrics: () => flattenMetrics(broker.metrics()),
    peerStates: () => new Map([...transport.peerStates()].map(([peer, state]) => [peer, String(state)])),
    shutdown: async () => {
      try {
        await broker.shutdown();
      } finally {
        await transport.close();
      }
    },
  };
}
