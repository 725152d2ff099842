import type { SeededRandom } from "../../random.js";
import type { Message, NodeId } from "../../types.js";
import type { FaultProfile } from "./fault-profile.js";

/**
 * The simulated network: every message sent is held here until the scheduler delivers it, drops
 * it, or delivers it twice. Faults come from the run's FaultProfile and random stream:
 *   - drop on send, duplicate, delay by some steps, reorder (deliver a random message rather
 *     than the oldest);
 *   - partitions as a set of blocked directed links: a symmetric partition blocks both
 *     directions between two groups, an asymmetric one only some directions. A message crossing
 *     a blocked link when it is delivered is lost.
 * The queue is bounded (MAX_IN_FLIGHT_MESSAGES): when full, the oldest message is lost, as a
 * congested network would. Losses on send (random or overflow) go to `onLost`, so the cluster can
 * tell a snapshot's sender, as a real transport does (it learns the outcome of a snapshot send).
 */
export const MAX_IN_FLIGHT_MESSAGES = 4096;
/** Node ids in a simulation stay below this (links are keyed by from * MAX_SIM_NODE_ID + to). */
export const MAX_SIM_NODE_ID = 64;

export interface InFlightMessage {
  readonly message: Message;
  /** The sender's incarnation when it sent (a restarted sender must not get snapshot reports). */
  readonly senderIncarnation: number;
  /** Not deliverable before this step. */
  readonly deliverAtStep: number;
}

export type LostHandler = (lost: InFlightMessage) => void;

export class SimNetwork {
  private queue: InFlightMessage[] = [];
  private readonly blocked = new Set<number>();
  private readonly rng: SeededRandom;
  private profile: FaultProfile;
  private readonly onLost: LostHandler;
  /** Counters for the run summary. */
  sent = 0;
  dropped = 0;
  duplicated = 0;
  delivered = 0;

  constructor(rng: SeededRandom, profile: FaultProfile, onLost: LostHandler) {
    this.rng = rng;
    this.profile = profile;
    this.onLost = onLost;
  }

  /** Turns faults off (the final healing phase) or back on. */
  setProfile(profile: FaultProfile): void {
    this.profile = profile;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Sends one message at `step` (or loses it, per the profile). */
  send(message: Message, senderIncarnation: number, step: number): void {
    this.sent++;
    const profile = this.profile;
    if (profile.dropProbability > 0 && this.rng.nextFloat() < profile.dropProbability) {
      this.dropped++;
      this.onLost({ message, senderIncarnation, deliverAtStep: step });
      return;
    }
    // A transport encodes a message when it is sent; copying the entry array stands for that
    // (entries themselves are immutable).
    const copy: Message =
      message.entries.length > 0 ? { ...message, entries: message.entries.slice() } : message;
    this.enqueue(copy, senderIncarnation, step);
    if (profile.duplicateProbability > 0 && this.rng.nextFloat() < profile.duplicateProbability) {
      this.duplicated++;
      this.enqueue(copy, senderIncarnation, step);
    }
  }

  private enqueue(message: Message, senderIncarnation: number, step: number): void {
    const profile = this.profile;
    let deliverAtStep = step;
    if (profile.delayProbability > 0 && this.rng.nextFloat() < profile.delayProbability) {
      deliverAtStep += 1 + this.rng.nextInt(profile.maxDelaySteps);
    }
    this.queue.push({ message, senderIncarnation, deliverAtStep });
    if (this.queue.length > MAX_IN_FLIGHT_MESSAGES) {
      this.dropped++;
      const lost = this.queue.shift();
      if (lost !== undefined) this.onLost(lost);
    }
  }

  /** True when some message may be delivered at `step`. */
  hasDeliverable(step: number): boolean {
    const queue = this.queue;
    for (let i = 0; i < queue.length; i++) if (queue[i]!.deliverAtStep <= step) return true;
    return false;
  }

  /**
   * Removes and returns the next message to deliver at `step`: the oldest deliverable one, or
   * with the reorder probability a random deliverable one. The caller checks `isBlocked`.
   */
  take(step: number): InFlightMessage | null {
    const queue = this.queue;
    let index = -1;
    if (this.profile.reorderProbability > 0 && this.rng.nextFloat() < this.profile.reorderProbability) {
      let count = 0;
      for (let i = 0; i < queue.length; i++) if (queue[i]!.deliverAtStep <= step) count++;
      if (count > 0) {
        let target = this.rng.nextInt(count);
        for (let i = 0; i < queue.length; i++) {
          if (queue[i]!.deliverAtStep <= step && target-- === 0) {
            index = i;
            break;
          }
        }
      }
    } else {
      for (let i = 0; i < queue.length; i++) {
        if (queue[i]!.deliverAtStep <= step) {
          index = i;
          break;
        }
      }
    }
    if (index < 0) return null;
    const [taken] = this.queue.splice(index, 1);
    this.delivered++;
    return taken ?? null;
  }

  /** Removes and returns every message, oldest first (the healing phase delivers them all). */
  takeAll(): InFlightMessage[] {
    const all = this.queue;
    this.queue = [];
    this.delivered += all.length;
    return all;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(from * MAX_SIM_NODE_ID + to);
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  blockLink(from: NodeId, to: NodeId): void {
    this.blocked.add(from * MAX_SIM_NODE_ID + to);
  }

  /** Symmetric partition: no message crosses between `side` and `rest` in either direction. */
  partition(side: readonly NodeId[], rest: readonly NodeId[]): void {
    for (const a of side) {
      for (const b of rest) {
        this.blockLink(a, b);
        this.blockLink(b, a);
      }
    }
  }

  healAll(): void {
    this.blocked.clear();
  }

  /** The blocked links, for the trace. */
  describeBlocked(): string {
    return [...this.blocked]
      .map((key) => `${Math.floor(key / MAX_SIM_NODE_ID)}->${key % MAX_SIM_NODE_ID}`)
      .join(" ");
  }
}
