import type { Message, NodeId } from "raft-ts";

/**
 * The contract between the multi-Raft host and the inter-node transport. The host never sees
 * sockets; the transport never sees Raft state. gRPC (grpc-transport.ts) is one implementation;
 * tests may use an in-memory one.
 */

/** A Raft group's id on this cluster: 0 is the metadata group, shards use 1 and up (uint32). */
export type GroupId = number;

/** One Raft message addressed to one group; `message.to` names the receiving node. */
export interface GroupMessage {
  readonly groupId: GroupId;
  readonly message: Message;
}

export const PeerState = {
  /** A stream to the peer is open and its liveness pings are answered. */
  Up: "up",
  /** No answer within the liveness timeout; the host wakes quiesced groups led from there. */
  Down: "down",
} as const;
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

export interface PeerTransport {
  /**
   * Queues messages for one peer; the transport coalesces everything queued for a peer within
   * one turn of the event loop into one frame. Returns false, and drops the messages, when the
   * peer's bounded queue is full, the peer is unknown, or no stream to it is open (between a
   * failure and the reconnect): Raft treats that as a lost message and retries by itself, which
   * is the backpressure. Never throws for a down peer.
   * The messages' `entries` and `data` buffers are encoded before `send` returns.
   */
  send(to: NodeId, messages: readonly GroupMessage[]): boolean;
  /** Called with every batch that arrives, in order per peer. */
  onReceive(handler: (from: NodeId, messages: readonly GroupMessage[]) => void): void;
  /** Called when a peer becomes reachable or unreachable. */
  onPeerState(handler: (peer: NodeId, state: PeerState) => void): void;
  /** The peers' current states. */
  peerStates(): ReadonlyMap<NodeId, PeerState>;
  /** Connects to the peers (and keeps reconnecting with jittered backoff) once started. */
  start(): Promise<void>;
  /** Closes every stream; queued messages are dropped. */
  close(): Promise<void>;
}
