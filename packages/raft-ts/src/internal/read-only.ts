import type { NodeId } from "../types.js";
import { majority } from "./quorum.js";

/** One ReadIndex request waiting for its heartbeat round. */
interface ReadRequest {
  readonly index: number;
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex requests of a leader in the Safe mode, in arrival order (etcd's readOnly). A request
 * is confirmed when a majority of voters answered a heartbeat carrying its context; that also
 * confirms every earlier request. Requests are keyed by their context bytes.
 */
export class ReadOnlyQueue {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Adds a request; returns false when one with the same context is already waiting. */
  add(index: number, from: NodeId, context: Uint8Array): boolean {
    const key = contextKey(context);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { index, from, context, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records `from`'s heartbeat acknowledgement of `context`; returns the number of acks. */
  recordAck(from: NodeId, context: Uint8Array): number {
    const request = this.pending.get(contextKey(context));
    if (request === undefined) return 0;
    request.acks.add(from);
    return request.acks.size;
  }

  /** Whether the voters among the acks of `context` form a majority. */
  confirmed(context: Uint8Array, voters: readonly NodeId[]): boolean {
    const request = this.pending.get(contextKey(context));
    if (request === undefined) return false;
    let count = 0;
    for (const id of voters) if (request.acks.has(id)) count++;
    return count >= majority(voters.length);
  }

  /** Removes and returns the requests up to and including `context`. */
  release(context: Uint8Array): { index: number; from: NodeId; context: Uint8Array }[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const released = this.queue.slice(0, position + 1).map((k) => {
      const request = this.pending.get(k) as ReadRequest;
      this.pending.delete(k);
      return request;
    });
    this.queue = this.queue.slice(position + 1);
    return released;
  }

  /** The context of the newest request, to put on a heartbeat round. */
  lastContext(): Uint8Array | null {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? null : (this.pending.get(key) as ReadRequest).context;
  }

  clear(): void {
    this.pending.clear();
    this.queue = [];
  }
}

function contextKey(context: Uint8Array): string {
  let key = "";
  for (let i = 0; i < context.length; i++) key += String.fromCharCode(context[i] as number);
  return key;
}
