// Shared helpers of the transport tests: message builders and a deadline-bound waitFor.
import { type Entry, EntryType, type Message, type MessageType, type NodeId } from "raft-ts";
import { testMessage } from "raft-ts/testing";
import type { GroupMessage } from "../src/transport/transport.js";

export function message(fields: Partial<Message> & { type: MessageType; from: NodeId; to: NodeId }): Message {
  return testMessage(fields);
}

export function entry(index: number, term: number, data: Uint8Array): Entry {
  return { index, term, type: EntryType.Normal, data };
}

export function groupMessage(groupId: number, m: Message): GroupMessage {
  return { groupId, message: m };
}

/** Polls `condition` every few milliseconds; rejects with `what` once `timeoutMs` has passed. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
