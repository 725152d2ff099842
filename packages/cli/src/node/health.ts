/**
 * The standard gRPC health service (grpc.health.v1) of the public port. The whole server ("")
 * and each named service start NOT_SERVING; the node sets SERVING once the broker has opened
 * (readiness), and NOT_SERVING again when it starts shutting down, so probes and load balancers
 * stop sending before the port closes.
 */
import type { handleServerStreamingCall, handleUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { health } from "@sluice/proto";

const { HealthCheckResponse_ServingStatus: ServingStatus } = health;
type ServingStatus = health.HealthCheckResponse_ServingStatus;

export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<{
    service: string;
    call: ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>;
  }>();

  /** @param services the named services besides the whole server (""). */
  constructor(services: readonly string[]) {
    for (const service of ["", ...services]) this.#statuses.set(service, ServingStatus.NOT_SERVING);
  }

  /** Sets every service's status and tells the watchers. */
  setAll(serving: boolean): void {
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of this.#statuses.keys()) this.#statuses.set(service, status);
    for (const watcher of this.#watchers) {
      watcher.call.write({ status: this.#statuses.get(watcher.service) ?? ServingStatus.SERVICE_UNKNOWN });
    }
  }

  /** Sets one service's status (it must be one named at construction) and tells its watchers. */
  set(service: string, serving: boolean): void {
    if (!this.#statuses.has(service)) throw new Error(`health: unknown service "${service}"`);
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    this.#statuses.set(service, status);
    for (const watcher of this.#watchers) {
      if (watcher.service === service) watcher.call.write({ status });
    }
  }

  /** Ends every Watch stream, so the server can shut down without waiting for them. */
  closeWatchers(): void {
    for (const watcher of this.#watchers) watcher.call.end();
    this.#watchers.clear();
  }

  readonly implementation: health.HealthServer = {
    check: ((call, callback) => {
      const status = this.#statuses.get(call.request.service);
      if (status === undefined) {
        callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        return;
      }
      callback(null, { status });
    }) satisfies handleUnaryCall<health.HealthCheckRequest, health.HealthCheckResponse>,
    watch: ((call) => {
      const service = call.request.service;
      const watcher = { service, call };
      call.write({ status: this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
      this.#watchers.add(watcher);
      call.on("cancelled", () => this.#watchers.delete(watcher));
    }) satisfies handleServerStreamingCall<health.HealthCheckRequest, health.HealthCheckResponse>,
  };
}
