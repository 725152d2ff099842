/**
 * The server side of the internal ForwardService, on the peer port: appends the shard batches
 * another node's gateway forwards to shards this node leads, and proposes metadata commands
 * forwarded to group 0's leader. Failures are answers, not gRPC errors, so the sender can tell
 * "not the leader (try node N)" from "throttled" from "unreachable" — per batch: the batches of
 * one request are appended concurrently and answered together, one result each, in order.
 *
 * Batches arrive two ways, appended alike: the unary ForwardPutRecords (createForwardService,
 * served by the peer server's unary dispatch; nodes of the previous version call it), and
 * requests on a long-lived ForwardStream (createForwardStreamHandler), each answered as soon as
 * its appends finish, out of order, under the id the request carried.
 */
import {
  status as GrpcStatus,
  type handleUnaryCall,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { NotLeaderError, type PeerServerCall } from "@sluice/broker";
import type { forward } from "@sluice/proto";
import { FORWARD_STREAM_REQUESTS_SERVED_MAX } from "./constants.js";
import {
  decodeForwardStreamRequest,
  encodeForwardStreamResponse,
  type ForwardStreamRequestFields,
} from "./forward-stream-codec.js";
import type { PutPath } from "./put-records.js";
import { errorCode } from "./put-records.js";

/**
 * What the service calls, each part present once it can answer: the metadata service starts
 * (and may answer forwarded commands) before the gateway exists, and both go away on shutdown.
 * An absent part is answered "not ready" (retriable).
 */
export interface ForwardTargets {
  readonly put?: Pick<PutPath, "appendAsLeader">;
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
  put: Pick<PutPath, "appendAsLeader">,
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

/** Appends every batch concurrently; resolves with one result each, in order (never rejects). */
function appendBatches(
  put: Pick<PutPath, "appendAsLeader"> | undefined,
  batches: readonly forward.ForwardShardBatch[],
): Promise<forward.ForwardShardResult[]> {
  if (put === undefined) {
    const closed = shardResult({
      errorCode: "BROKER_CLOSED",
      errorMessage: "this node is starting or stopping",
    });
    return Promise.resolve(batches.map(() => closed));
  }
  const appends = new Array<Promise<forward.ForwardShardResult>>(batches.length);
  for (let i = 0; i < batches.length; i++) {
    appends[i] = appendBatch(put, batches[i] as forward.ForwardShardBatch);
  }
  return Promise.all(appends);
}

/**
 * Serves one ForwardStream (register with PeerHttp2Server.handleStream at FORWARD_STREAM_PATH):
 * each request's batches are appended as ForwardPutRecords' are, and answered on the stream
 * under the request's id as soon as they are done. At most FORWARD_STREAM_REQUESTS_SERVED_MAX
 * requests of one stream are appended at once: a sender past it is cut off (RESOURCE_EXHAUSTED);
 * an undecodable request ends the stream (INVALID_ARGUMENT). When the sender half-closes, the
 * stream ends (OK) once the answers still owed are written; when it goes away, appends in
 * progress finish and their answers are dropped. The request's deadline is the sender's: it
 * stops waiting then, and this side does not second-guess it with its own clock.
 */
export function createForwardStreamHandler(targets: () => ForwardTargets): (call: PeerServerCall) => void {
  return (call) => {
    let serving = 0;
    let ended = false;
    const answer = (requestId: number, results: forward.ForwardShardResult[]) => {
      serving -= 1;
      if (call.isFinished) return;
      call.write(encodeForwardStreamResponse(requestId, results));
      if (ended && serving === 0) call.finish({ code: GrpcStatus.OK, details: "" });
    };
    call.onMessage((message) => {
      let request: ForwardStreamRequestFields;
      try {
        request = decodeForwardStreamRequest(message);
      } catch (error) {
        call.finish({ code: GrpcStatus.INVALID_ARGUMENT, details: (error as Error).message });
        return;
      }
      if (serving >= FORWARD_STREAM_REQUESTS_SERVED_MAX) {
        call.finish({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: `more than ${FORWARD_STREAM_REQUESTS_SERVED_MAX} forwarded requests at once on one stream`,
        });
        return;
      }
      serving += 1;
      const { requestId } = request;
      appendBatches(targets().put, request.batches).then((results) => answer(requestId, results));
    });
    call.onEnd(() => {
      ended = true;
      if (serving === 0) call.finish({ code: GrpcStatus.OK, details: "" });
    });
  };
}

/** The unary ForwardService (ForwardStream is served by createForwardStreamHandler). */
export function createForwardService(
  targets: () => ForwardTargets,
): Omit<forward.ForwardServiceServer, "forwardStream"> {
  const forwardPutRecords: handleUnaryCall<
    forward.ForwardPutRecordsRequest,
    forward.ForwardPutRecordsResponse
  > = (
    call: ServerUnaryCall<forward.ForwardPutRecordsRequest, forward.ForwardPutRecordsResponse>,
    callback: sendUnaryData<forward.ForwardPutRecordsResponse>,
  ) => {
    appendBatches(targets().put, call.request.batches).then((results) => callback(null, { results }));
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
