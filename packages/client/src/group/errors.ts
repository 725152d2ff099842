/**
 * Typed errors of the consumer-group worker: the code the cluster put in the status metadata
 * (`sluice-error-code`), whether a retry can succeed, and a message that says what to do.
 */
import type { ServiceError } from "@grpc/grpc-js";

export const GroupErrorCode = {
  /** The member no longer holds the shard's lease at that epoch: the shard stops here. */
  LeaseLost: "LEASE_LOST",
  /** The member expired or left: the worker joins again. */
  MemberNotFound: "GROUP_MEMBER_NOT_FOUND",
  GroupNotFound: "CONSUMER_GROUP_NOT_FOUND",
  /** Any other failure of a call; `retriable` says whether to try again. */
  CallFailed: "CALL_FAILED",
  /** Options given to ConsumerGroup are invalid. */
  InvalidOptions: "INVALID_OPTIONS",
} as const;
export type GroupErrorCode = (typeof GroupErrorCode)[keyof typeof GroupErrorCode];

export class GroupError extends Error {
  override readonly name: string = "GroupError";
  constructor(
    readonly code: GroupErrorCode | string,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class LeaseLostError extends GroupError {
  override readonly name = "LeaseLostError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(GroupErrorCode.LeaseLost, message, false, options);
  }
}

export class InvalidGroupOptionsError extends GroupError {
  override readonly name = "InvalidGroupOptionsError";
  constructor(message: string) {
    super(GroupErrorCode.InvalidOptions, message, false);
  }
}

/** The typed error for a failed gRPC call (the cluster's code when it sent one). */
export function groupErrorOf(error: unknown): GroupError {
  if (error instanceof GroupError) return error;
  const service = error as Partial<ServiceError>;
  const code = service.metadata?.get("sluice-error-code")[0]?.toString();
  const retriableFlag = service.metadata?.get("sluice-error-retriable")[0]?.toString();
  const message = service.details ?? service.message ?? String(error);
  if (code === GroupErrorCode.LeaseLost) return new LeaseLostError(message, { cause: error });
  // Without the cluster's word (a connection failure, a deadline), a retry may succeed.
  const retriable = retriableFlag === undefined ? code === undefined : retriableFlag === "true";
  return new GroupError(code ?? GroupErrorCode.CallFailed, message, retriable, { cause: error });
}
