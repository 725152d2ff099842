/**
 * How the gateway's gRPC services finish a call: the outcome is counted (operation, "ok" or the
 * Kinesis error name, start time) and a failure leaves through the one error table
 * (status-details.ts). Shared by StreamsService and ConsumerGroupService.
 */
import type { handleUnaryCall, ServerUnaryCall, ServiceError, sendUnaryData } from "@grpc/grpc-js";
import { toServiceError } from "../status-details.js";

/** Counts a finished call: its operation, "ok" or the Kinesis error name, and its start (ms). */
export type CallObserver = (operation: string, outcome: string, startedAtMs: number) => void;

/** Counts a call that ended; for a failure, returns the status to answer with. */
export function finishCall(
  observe: CallObserver | undefined,
  operation: string,
  startedAtMs: number,
  error?: unknown,
): ServiceError | undefined {
  if (error === undefined) {
    observe?.(operation, "ok", startedAtMs);
    return undefined;
  }
  const status = toServiceError(error);
  observe?.(operation, status.metadata?.get("sluice-error-name")[0]?.toString() ?? "error", startedAtMs);
  return status;
}

/** What a front end knows about a call beyond its request. */
export interface CallContext {
  /**
   * When the caller stops waiting (wall-clock ms), when its transport says so (a gRPC deadline);
   * a put gives up retrying by then instead of at PUT_DEADLINE_MS after arrival.
   */
  readonly deadlineAtMs?: number | undefined;
}

/** The call's gRPC deadline in wall-clock ms, or undefined when the caller set none. */
export function deadlineAtMsOf(
  call: Pick<ServerUnaryCall<unknown, unknown>, "getDeadline">,
): number | undefined {
  const deadline = call.getDeadline();
  const atMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(atMs) ? atMs : undefined;
}

/**
 * A unary handler over `run`: a throw or a rejection becomes the error table's status. `run`
 * also gets the caller's deadline, when the call carries one.
 */
export function unaryCall<Req, Res>(
  operation: string,
  run: (request: Req, context: CallContext) => Promise<Res>,
  clock: () => number,
  observe: CallObserver | undefined,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const startedAtMs = clock();
    let result: Promise<Res>;
    try {
      result = run(call.request, { deadlineAtMs: deadlineAtMsOf(call) });
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (response) => {
        finishCall(observe, operation, startedAtMs);
        callback(null, response);
      },
      (error: unknown) => callback(finishCall(observe, operation, startedAtMs, error) ?? null),
    );
  };
}
