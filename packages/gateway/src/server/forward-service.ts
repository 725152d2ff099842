/**
 * The server side of the internal ForwardService, on the peer port: appends the shard batches
 * another node's gateway forwards to shards this node leads, and proposes metadata commands
 * forwarded to group 0's leader. Failures are answers, not gRPC errors, so the sender can tell
 * "not the leader (try node N)" from "throttled" from "unreachable" — per batch: the batches of
 * one call are appended concurrently and answered together, one result each, in order.
 */
import type { handleUnaryCall, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { NotLeaderError } from "@sluice/broker";
import type { forward } from "@sluice/proto";
import type { PutPath } from "./put-records.js";
import { errorCode } from "./put-records.js";

/**
 * What the service calls, each part present once it can answer: the metadata service starts
 * (and may answer forwarded commands) before the gateway exists, and both go away on shutdown.
 * An absent part is answered "not ready" (retriable).
 */
export interface ForwardTargets {
  readonly put?: PutPath;
  /** The metadata service's handler for a forwarded command: resolves with the encoded result. */
  readonly metadataCommand?: (command: Buffer) => Promise<Buffer>;
}

function shardResult(response: Partial<forward.ForwardShardResult>): forward.ForwardShardResult {
  return {
    acceptedCount: 0,
    index: 0,
    errorCode: "",
    errorMessage: "",
    leaderHint: 0,
    firstOffset: 0,
    ...response,
  };
}

/** Appends one forwarded batch (the request's decoded copy, handed over to the broker). */
async function appendBatch(
  put: PutPath,
  batch: forward.ForwardShardBatch,
): Promise<forward.ForwardShardResult> {
  try {
    const reply = await put.appendAsLeader(batch.streamId, batch.groupId, batch.records);
    return {
      acceptedCount: reply.accepted,
      index: reply.index,
      errorCode: reply.errorCode,
      errorMessage: reply.errorMessage,
      leaderHint: reply.leaderHint,
      firstOffset: reply.firstOffset,
    };
  } catch (error) {
    return shardResult({
      errorCode: errorCode(error) || "INTERNAL",
      errorMessage: error instanceof Error ? error.message : String(error),
      leaderHint: error instanceof NotLeaderError ? error.leaderHint : 0,
    });
  }
}

export function createForwardService(targets: () => ForwardTargets): forward.ForwardServiceServer {
  const forwardPutRecords: handleUnaryCall<
    forward.ForwardPutRecordsRequest,
    forward.ForwardPutRecordsResponse
  > = (
    call: ServerUnaryCall<forward.ForwardPutRecordsRequest, forward.ForwardPutRecordsResponse>,
    callback: sendUnaryData<forward.ForwardPutRecordsResponse>,
  ) => {
    const { batches } = call.request;
    const put = targets().put;
    if (put === undefined) {
      const closed = shardResult({
        errorCode: "BROKER_CLOSED",
        errorMessage: "this node is starting or stopping",
      });
      callback(null, { results: batches.map(() => closed) });
      return;
    }
    const appends = new Array<Promise<forward.ForwardShardResult>>(batches.length);
    for (let i = 0; i < batches.length; i++) {
      appends[i] = appendBatch(put, batches[i] as forward.ForwardShardBatch);
    }
    Promise.all(appends).then((results) => callback(null, { results }));
  };

  const forwardMetadataCommand: handleUnaryCall<
    forward.ForwardMetadataCommandRequest,
    forward.ForwardMetadataCommandResponse
  > = (call, callback) => {
    const metadataCommand = targets().metadataCommand;
    const answer = (response: Partial<forward.ForwardMetadataCommandResponse>) =>
      callback(null, {
        result: Buffer.alloc(0),
        errorCode: "",
        errorMessage: "",
        leaderHint: 0,
        ...response,
      });
    if (metadataCommand === undefined) {
      answer({
        errorCode: "METADATA_UNAVAILABLE",
        errorMessage: "this node's metadata service is starting or stopping",
      });
      return;
    }
    metadataCommand(call.request.command).then(
      (result) => answer({ result }),
      (error: unknown) =>
        answer({
          errorCode: errorCode(error) || "INTERNAL",
          errorMessage: error instanceof Error ? error.message : String(error),
          leaderHint: error instanceof NotLeaderError ? error.leaderHint : 0,
        }),
    );
  };

  return { forwardPutRecords, forwardMetadataCommand };
}
