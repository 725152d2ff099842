/**
 * The server side of the internal ForwardService, on the peer port: appends records forwarded by
 * another node's gateway to a shard this node leads, and proposes metadata commands forwarded to
 * group 0's leader. Failures are answers, not gRPC errors, so the sender can tell "not the leader
 * (try node N)" from "throttled" from "unreachable".
 */
import type { handleUnaryCall, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { type AppendRecord, NotLeaderError } from "@sluice/broker";
import type { forward } from "@sluice/proto";
import type { PutPath } from "./put-records.js";
import { errorCode } from "./put-records.js";

export interface ForwardTargets {
  readonly put: PutPath;
  /** The metadata service's handler for a forwarded command: resolves with the encoded result. */
  readonly metadataCommand: (command: Buffer) => Promise<Buffer>;
}

export function createForwardService(
  targets: () => ForwardTargets | undefined,
): forward.ForwardServiceServer {
  const forwardPutRecords: handleUnaryCall<
    forward.ForwardPutRecordsRequest,
    forward.ForwardPutRecordsResponse
  > = (
    call: ServerUnaryCall<forward.ForwardPutRecordsRequest, forward.ForwardPutRecordsResponse>,
    callback: sendUnaryData<forward.ForwardPutRecordsResponse>,
  ) => {
    const request = call.request;
    const live = targets();
    const answer = (response: Partial<forward.ForwardPutRecordsResponse>) =>
      callback(null, {
        acceptedCount: 0,
        index: 0,
        errorCode: "",
        errorMessage: "",
        leaderHint: 0,
        ...response,
      });
    if (live === undefined) {
      answer({ errorCode: "BROKER_CLOSED", errorMessage: "this node is starting or stopping" });
      return;
    }
    const records: AppendRecord[] = request.records.map((record) =>
      record.explicitHashKey === ""
        ? { partitionKey: record.partitionKey, data: record.data }
        : { partitionKey: record.partitionKey, data: record.data, explicitHashKey: record.explicitHashKey },
    );
    live.put.appendAsLeader(request.streamId, request.groupId, records).then(
      (reply) =>
        answer({
          acceptedCount: reply.accepted,
          index: reply.index,
          errorCode: reply.errorCode,
          errorMessage: reply.errorMessage,
          leaderHint: reply.leaderHint,
        }),
      (error: unknown) =>
        answer({
          errorCode: errorCode(error) || "INTERNAL",
          errorMessage: error instanceof Error ? error.message : String(error),
          leaderHint: error instanceof NotLeaderError ? error.leaderHint : 0,
        }),
    );
  };

  const forwardMetadataCommand: handleUnaryCall<
    forward.ForwardMetadataCommandRequest,
    forward.ForwardMetadataCommandResponse
  > = (call, callback) => {
    const live = targets();
    const answer = (response: Partial<forward.ForwardMetadataCommandResponse>) =>
      callback(null, {
        result: Buffer.alloc(0),
        errorCode: "",
        errorMessage: "",
        leaderHint: 0,
        ...response,
      });
    if (live === undefined) {
      answer({ errorCode: "METADATA_UNAVAILABLE", errorMessage: "this node is starting or stopping" });
      return;
    }
    live.metadataCommand(call.request.command).then(
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
