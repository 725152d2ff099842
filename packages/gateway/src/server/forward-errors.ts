/**
 * The errors of forwarding to a peer (peer-forwarder.ts, forward-stream.ts): both retriable, the
 * caller picks the next leader and retries within its own deadline.
 */

/** A peer could not be reached or did not answer in time; retry, perhaps on another node. */
export class PeerUnavailableError extends Error {
  override readonly name = "PeerUnavailableError";
  readonly code = "PEER_UNAVAILABLE";
  readonly retriable = true;
  readonly nodeId: number;
  /**
   * False when the request certainly never reached the peer (no connection could be made, no
   * address, this node stopping before sending): nothing was written. True when it may have
   * reached it (cut mid-call, deadline passed): the outcome is unknown.
   */
  readonly sent: boolean;

  constructor(nodeId: number, message: string, options?: { cause?: unknown; sent?: boolean }) {
    super(
      `node ${nodeId} is unreachable (${message}); retry, the cluster elects another leader if it is down`,
      options,
    );
    this.nodeId = nodeId;
    this.sent = options?.sent ?? true;
  }
}

/** A forwarded metadata command the leader refused (not leader, not ready, …). */
export class ForwardRefusedError extends Error {
  override readonly name = "ForwardRefusedError";
  readonly code: string;
  readonly retriable = true;
  readonly leaderHint: number;

  constructor(code: string, message: string, leaderHint: number) {
    super(message);
    this.code = code;
    this.leaderHint = leaderHint;
  }
}
