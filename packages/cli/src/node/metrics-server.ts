/**
 * The Prometheus endpoint of the node (`GET /metrics` on --metrics-listen). The node serves its
 * prom-client registry (metrics/node-metrics.ts) here; `flattenMetrics` and `renderPrometheus`
 * remain for hosts without a registry (every numeric counter flattened to `sluice_<path>`) and for
 * the admin service's figures. Anything else answers 404. With the node's TLS on, the endpoint
 * serves HTTPS only, with the public certificate (reloaded with it): Prometheus scrapes it with
 * `scheme: https` and the cluster CA.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { HostPort } from "./config.js";
import type { TlsMaterial } from "./tls-files.js";

/** The node's public TLS files, as the metrics endpoint needs them (TlsFiles fits). */
export interface MetricsTls {
  current(): TlsMaterial;
  onChange(listener: (material: TlsMaterial) => void): void;
}

/** Flattens nested numeric fields into snake_case names: { persist: { syncs: 3 } } → persist_syncs. */
export function flattenMetrics(
  value: unknown,
  prefix = "",
  out: Record<string, number> = {},
): Record<string, number> {
  if (typeof value === "number" && Number.isFinite(value)) {
    out[prefix] = value;
  } else if (typeof value === "bigint") {
    out[prefix] = Number(value);
  } else if (typeof value === "boolean") {
    out[prefix] = value ? 1 : 0;
  } else if (value instanceof Map) {
    for (const [key, inner] of value) flattenMetrics(inner, join(prefix, String(key)), out);
  } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flattenMetrics(inner, join(prefix, key), out);
  }
  return out;
}

function join(prefix: string, key: string): string {
  const name = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9_]/g, "_")
    .toLowerCase();
  return prefix === "" ? name : `${prefix}_${name}`;
}

export function renderPrometheus(
  metrics: Readonly<Record<string, number>>,
  labels: Readonly<Record<string, string>>,
): string {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value.replace(/["\\\n]/g, "_")}"`)
    .join(",");
  return Object.entries(metrics)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `sluice_${name}{${labelText}} ${value}`)
    .join("\n")
    .concat("\n");
}

/** The text exposition format's content type when the renderer names none. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Serves `render()` (sync or async) at GET /metrics with `contentType`; a renderer that throws or
 * rejects answers 500 with its message.
 */
export async function startMetricsServer(
  address: HostPort,
  render: () => string | Promise<string>,
  contentType: string = PROMETHEUS_TEXT_CONTENT_TYPE,
  tls?: MetricsTls,
): Promise<Server> {
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === "GET" && (request.url === "/metrics" || request.url?.startsWith("/metrics?"))) {
      let body: Promise<string>;
      try {
        body = Promise.resolve(render());
      } catch (error) {
        body = Promise.reject(error);
      }
      body.then(
        (text) => response.writeHead(200, { "content-type": contentType }).end(text),
        (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(String(error)),
      );
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
  };
  let server: Server;
  if (tls === undefined) server = createServer(handle);
  else {
    const { cert, key } = tls.current();
    const secure = createHttpsServer({ cert, key }, handle);
    tls.onChange((material) => secure.setSecureContext({ cert: material.cert, key: material.key }));
    server = secure;
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
