/**
 * Forwarding a proposal from a follower to group 0's leader. The node's internal gRPC service
 * carries the bytes; this package defines what they hold. The request is the encoded command
 * itself; the reply is JSON: either the command's result and the log index it was applied at
 * on the leader (the proposer then waits until its own replica has applied that index), or
 * "retry" with the leader the answering node knows of (it does not lead, or is busy).
 */
import type { CommandResult } from "./commands.js";
import { isMetadataErrorCode } from "./errors.js";

/** Sends proposals to another node's `MetadataService.handleForwarded` (wired by the node over gRPC). */
export interface MetadataForwarder {
  /**
   * Delivers `command` to node `leaderNodeId`'s `handleForwarded` and resolves with its reply.
   * `deadlineMs` is absolute, in the service clock's ms (epoch ms with the default clock): give
   * up by then. Rejects when the node cannot be reached or the deadline passes.
   */
  propose(leaderNodeId: number, command: Buffer, deadlineMs: number): Promise<Buffer>;
}

export type ForwardedReply =
  | { readonly kind: "applied"; readonly index: number; readonly result: CommandResult }
  | { readonly kind: "retry"; readonly leaderHint: number; readonly reason: string };

export function encodeForwardedReply(reply: ForwardedReply): Buffer {
  return Buffer.from(JSON.stringify(reply), "utf8");
}

/** Parses a reply; throws a plain Error for bytes that are not one (a wiring bug). */
export function decodeForwardedReply(data: Uint8Array): ForwardedReply {
  const reply = JSON.parse(
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"),
  ) as Partial<Record<string, unknown>> | null;
  if (reply?.kind === "retry" && typeof reply.leaderHint === "number") {
    return { kind: "retry", leaderHint: reply.leaderHint, reason: String(reply.reason ?? "") };
  }
  if (reply?.kind === "applied" && typeof reply.index === "number") {
    const result = reply.result as Partial<Record<string, unknown>> | null;
    if (result?.ok === true) return { kind: "applied", index: reply.index, result: result as CommandResult };
    if (result?.ok === false && isMetadataErrorCode(result.code) && typeof result.message === "string") {
      return {
        kind: "applied",
        index: reply.index,
        result: { ok: false, code: result.code, message: result.message },
      };
    }
  }
  throw new Error("a forwarded metadata reply does not decode: is the forwarder wired to handleForwarded?");
}
