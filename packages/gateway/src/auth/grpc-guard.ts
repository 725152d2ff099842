/**
 * Puts AccessControl in front of a gRPC service implementation (StreamsService,
 * ConsumerGroupService, the admin service, server reflection): every method — unary,
 * server-streaming, client-streaming or bidirectional — authenticates the call (bearer metadata
 * or client certificate), authorizes it (see `GuardAuthorization`), and — for control-plane
 * operations — writes the audit line once the handler answered. A refused call is answered with
 * the error table's status (UNAUTHENTICATED, PERMISSION_DENIED) and counted through `observe`
 * with its Kinesis error name as outcome, like any other failed call; the handler never sees it.
 */
import type {
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  ServiceError,
  sendUnaryData,
  UntypedHandleCall,
} from "@grpc/grpc-js";
import { type CallObserver, finishCall } from "../server/grpc-calls.js";
import { ERROR_NAME_KEY } from "../status-details.js";
import type { AccessControl, CallFinisher } from "./access-control.js";
import { type ActionNamespace, operationNameOf } from "./actions.js";

/**
 * How the guard authorizes a method once its caller is authenticated:
 * - "operation": as the IAM action `<namespace>:<Method>` on the stream its request names
 *   (StreamsService, ConsumerGroupService);
 * - `{ operation }`: every method as the one action `<namespace>:<operation>` naming no stream,
 *   which only statements with the resource "*" grant (the admin service: sluice:Admin);
 * - "authenticated": any authenticated principal may call (server reflection: the API's schema).
 */
export type GuardAuthorization = "operation" | "authenticated" | { readonly operation: string };

export interface GrpcGuardOptions {
  readonly access: AccessControl;
  /** "kinesis" for StreamsService, "sluice" for ConsumerGroupService and the admin service. */
  readonly namespace: ActionNamespace;
  /** @default "operation" */
  readonly authorization?: GuardAuthorization;
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
  const authorization = options.authorization ?? "operation";
  const clock = options.clock ?? Date.now;
  const inner = implementation as unknown as Record<string, UntypedHandleCall>;
  const guarded: Record<string, UntypedHandleCall> = {};
  for (const [method, spec] of Object.entries(definition)) {
    // Counted as the method's operation, or as the one operation all methods are authorized as.
    const operation = typeof authorization === "object" ? authorization.operation : operationNameOf(method);
    const handler = inner[method];
    if (handler === undefined) continue;
    /** Authenticates and authorizes a call (request undefined for request streams); throws when refused. */
    const check = (
      call: Parameters<AccessControl["authenticateGrpc"]>[0],
      request: unknown,
    ): CallFinisher => {
      const principal = access.authenticateGrpc(call);
      if (authorization === "authenticated") return () => {};
      if (authorization === "operation") return access.authorize(principal, namespace, operation, request);
      return access.authorize(principal, namespace, operation, undefined);
    };
    if (spec.requestStream) {
      // Client-streaming and bidirectional calls: refused before the handler reads a message.
      guarded[method] = spec.responseStream
        ? (call: ServerDuplexStream<unknown, unknown>) => {
            const startedAtMs = clock();
            try {
              check(call, undefined)();
            } catch (error) {
              call.emit("error", finishCall(observe, operation, startedAtMs, error));
              return;
            }
            (handler as (call: ServerDuplexStream<unknown, unknown>) => void).call(inner, call);
          }
        : (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
            const startedAtMs = clock();
            try {
              check(call, undefined)();
            } catch (error) {
              callback(finishCall(observe, operation, startedAtMs, error) ?? null);
              return;
            }
            (
              handler as (
                call: ServerReadableStream<unknown, unknown>,
                callback: sendUnaryData<unknown>,
              ) => void
            ).call(inner, call, callback);
          };
    } else if (spec.responseStream) {
      guarded[method] = (call: ServerWritableStream<unknown, unknown>) => {
        const startedAtMs = clock();
        try {
          check(call, call.request)();
        } catch (error) {
          call.emit("error", finishCall(observe, operation, startedAtMs, error));
          return;
        }
        (handler as (call: ServerWritableStream<unknown, unknown>) => void).call(inner, call);
      };
    } else {
      guarded[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const startedAtMs = clock();
        let finish: CallFinisher;
        try {
          finish = check(call, call.request);
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
