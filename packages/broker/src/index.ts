/**
 * @sluice/broker — The multi-Raft host: replicas, the persist/send/apply loop, the peer transport, the shard state machine.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/broker";

// The peer transport: the contract, an in-memory hub for tests, and (later) gRPC.
export * as transportConstants from "./transport/constants.js";
export type {
  InMemoryFilter,
  InMemoryTransport,
  InMemoryTransportHubOptions,
} from "./transport/memory-transport.js";
export { InMemoryTransportHub } from "./transport/memory-transport.js";
export type { PeerMetrics, TransportMetrics } from "./transport/metrics.js";
export type { GroupId, GroupMessage, PeerTransport } from "./transport/transport.js";
export { PeerState } from "./transport/transport.js";
