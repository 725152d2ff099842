import type { NodeId } from "raft-ts";

/**
 * Per-peer counters of a transport, read by `metrics()`. Counters only grow while the transport
 * lives; `queuedBytes` and `queuedMessages` are gauges of what waits to be written now.
 */
export interface PeerMetrics {
  /** Encoded bytes handed to the peer's stream (frame payloads, without gRPC framing). */
  bytesSent: number;
  messagesSent: number;
  framesSent: number;
  bytesReceived: number;
  messagesReceived: number;
  framesReceived: number;
  /** Acknowledgements the peer sent back on our stream (delayed: one covers many frames). */
  acknowledgementsReceived: number;
  /** Messages refused by `send` (queue full, no stream) or lost with a broken stream. */
  messagesDropped: number;
  /** Bytes queued for the peer and not yet written to its stream. */
  queuedBytes: number;
  queuedMessages: number;
  /** Outbound streams opened to the peer, the first one included. */
  connects: number;
}

export type TransportMetrics = ReadonlyMap<NodeId, Readonly<PeerMetrics>>;

export function emptyPeerMetrics(): PeerMetrics {
  return {
    bytesSent: 0,
    messagesSent: 0,
    framesSent: 0,
    bytesReceived: 0,
    messagesReceived: 0,
    framesReceived: 0,
    acknowledgementsReceived: 0,
    messagesDropped: 0,
    queuedBytes: 0,
    queuedMessages: 0,
    connects: 0,
  };
}
