/**
 * The outbox of one persist-loop turn: every message of every group, grouped by destination node,
 * so each peer gets one `transport.send` per turn whatever the number of groups (coalescing: a
 * thousand groups' heartbeats to a peer are one frame). Order is kept per peer, hence per group.
 */
import type { Message, NodeId } from "raft-ts";
import type { GroupId, GroupMessage, PeerTransport } from "../transport/transport.js";

export class Outbox {
  private readonly byPeer = new Map<NodeId, GroupMessage[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(groupId: GroupId, messages: readonly Message[]): void {
    for (const message of messages) {
      let list = this.byPeer.get(message.to);
      if (list === undefined) {
        list = [];
        this.byPeer.set(message.to, list);
      }
      list.push({ groupId, message });
      this.count++;
    }
  }

  /**
   * Sends everything queued, one call per peer, and empties the outbox. `refused` is called with
   * the batches the transport dropped (queue full, peer unknown): Raft retries by itself, the host
   * only tells the leaders concerned that the peer is unreachable.
   */
  flush(
    transport: PeerTransport,
    refused: (peer: NodeId, messages: readonly GroupMessage[]) => void,
  ): { messages: number; batches: number; refused: number } {
    let batches = 0;
    let refusedMessages = 0;
    const messages = this.count;
    for (const [peer, list] of this.byPeer) {
      batches++;
      if (!transport.send(peer, list)) {
        refusedMessages += list.length;
        refused(peer, list);
      }
    }
    this.byPeer.clear();
    this.count = 0;
    return { messages, batches, refused: refusedMessages };
  }
}
