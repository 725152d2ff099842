/**
 * Opens the multi-Raft host of @sluice/broker for the node process: the gRPC peer transport on
 * --peer-listen and the Broker over the data directory. (Placeholder until the broker lands.)
 */
import type { NodeConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { NodeHost } from "./node.js";

export async function openBrokerHost(_config: NodeConfig, _log: Logger): Promise<NodeHost> {
  throw new Error("the broker is not built yet");
}
