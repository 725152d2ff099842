/**
 * Extra `X-Amz-Target` services on the Kinesis HTTP port (Firehose_20150804 for delivery
 * streams), registered by the process that runs them, so the gateway does not depend on them.
 * The handler gives a registered service the operation name and the parsed JSON document, and
 * answers with the document it returns, or `{"__type", "message"}` for an error that carries
 * `errorName` (400, or 503 when it is `retriable`).
 *
 * The registry is per process: a node registers its services once, at start.
 */
import type { ActionNamespace } from "../auth/actions.js";

/** One request for a registered service: the operation (after the dot) and the parsed body. */
export interface TargetRequest {
  readonly operation: string;
  readonly document: unknown;
  /**
   * Checks that the caller may also run `operation` of `namespace` on `stream` (for a request
   * that acts on more than the resource it names, such as a delivery stream reading a Kinesis
   * stream); throws AccessDeniedError when the policy does not allow it. Allows everything when
   * authentication is off.
   */
  readonly authorize: (namespace: ActionNamespace, operation: string, stream: string) => void;
}

/** Answers one operation with its response document; throws an error with `errorName` to refuse. */
export type TargetHandler = (request: TargetRequest) => Promise<Readonly<Record<string, unknown>>>;

const handlers = new Map<string, TargetHandler>();

/**
 * Serves `X-Amz-Target: <service>.<Operation>` with `handler`. Returns the function that
 * removes it. Throws when the service is served already.
 */
export function registerTargetHandler(service: string, handler: TargetHandler): () => void {
  if (handlers.has(service)) throw new Error(`X-Amz-Target service ${service} is registered already`);
  handlers.set(service, handler);
  return () => {
    if (handlers.get(service) === handler) handlers.delete(service);
  };
}

/** The registered handler and operation of `target`, or undefined when its service is not registered. */
export function registeredTarget(
  target: string | undefined,
): { readonly handler: TargetHandler; readonly operation: string } | undefined {
  if (target === undefined || handlers.size === 0) return undefined;
  const dot = target.indexOf(".");
  if (dot < 0) return undefined;
  const handler = handlers.get(target.slice(0, dot));
  return handler === undefined ? undefined : { handler, operation: target.slice(dot + 1) };
}

/** The `__type`, HTTP status and message of an error a registered handler threw with an `errorName`. */
export function describeTargetError(
  error: unknown,
): { name: string; status: number; message: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const { errorName, retriable } = error as Error & { errorName?: unknown; retriable?: unknown };
  if (typeof errorName !== "string" || !errorName.endsWith("Exception")) return undefined;
  return { name: errorName, status: retriable === true ? 503 : 400, message: error.message };
}
