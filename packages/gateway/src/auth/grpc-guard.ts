/**
 * Puts AccessControl in front of a gRPC service implementation (StreamsService or
 * ConsumerGroupService): every method, unary or server-streaming, authenticates the call
 * (bearer metadata or client certificate), authorizes its IAM action on the stream its request
 * names, and — for control-plane operations — writes the audit line once the handler answered.
 * A refused call is answered with the error table's status (UNAUTHENTICATED, PERMISSION_DENIED)
 * and counted like any other failed call; the handler never sees it.
 */
import type {
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  ServiceError,
  sendUnaryData,
  UntypedHandleCall,
} from "@grpc/grpc-js";
import { type CallObserver, finishCall } from "../server/grpc-calls.js";
import { ERROR_NAME_KEY } from "../status-details.js";
import type { AccessControl } from "./access-control.js";
import { type ActionNamespace, operationNameOf } from "./actions.js";

export interface GrpcGuardOptions {
  readonly access: AccessControl;
  /** "kinesis" for StreamsService, "sluice" for ConsumerGroupService. */
  readonly namespace: ActionNamespace;
  /** Counts refused calls like the handlers count theirs. @default none */
  readonly observe?: CallObserver;
  /** Wall clock in ms for the observer. @default Date.now */
  readonly clock?: () => number;
}

/** `implementation` with every method of `definition` behind the access check. */
export function guardGrpcService<Service>(
  definition: ServiceDefinition,
  implementation: Service,
  options: GrpcGuardOptions,
): Service {
  const { access, namespace, observe } = options;
  const clock = options.clock ?? Date.now;
  const inner = implementation as unknown as Record<string, UntypedHandleCall>;
  const guarded: Record<string, UntypedHandleCall> = {};
  for (const [method, spec] of Object.entries(definition)) {
    const operation = operationNameOf(method);
    const handler = inner[method];
    if (handler === undefined) continue;
    if (spec.responseStream) {
      guarded[method] = (call: ServerWritableStream<unknown, unknown>) => {
        const startedAtMs = clock();
        try {
          const principal = access.authenticateGrpc(call);
          access.authorize(principal, namespace, operation, call.request)();
        } catch (error) {
          call.emit("error", finishCall(observe, operation, startedAtMs, error));
          return;
        }
        (handler as (call: ServerWritableStream<unknown, unknown>) => void).call(inner, call);
      };
    } else {
      guarded[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const startedAtMs = clock();
        let finish: (errorName?: string) => void;
        try {
          const principal = access.authenticateGrpc(call);
          finish = access.authorize(principal, namespace, operation, call.request);
        } catch (error) {
          callback(finishCall(observe, operation, startedAtMs, error) ?? null);
          return;
        }
        const answer: sendUnaryData<unknown> = (error, value) => {
          finish(error === null || error === undefined ? undefined : errorNameOf(error));
          callback(error, value);
        };
        (handler as (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void).call(
          inner,
          call,
          answer,
        );
      };
    }
  }
  return { ...(implementation as object), ...guarded } as Service;
}

function errorNameOf(error: Partial<ServiceError>): string {
  return error.metadata?.get(ERROR_NAME_KEY)[0]?.toString() ?? "InternalFailure";
}
