/**
 * The Prometheus endpoint of the node (`GET /metrics` on --metrics-listen): every numeric counter
 * of the host, flattened to `sluice_<path>` with the node and zone as labels. Anything else
 * answers 404.
 */
import { createServer, type Server } from "node:http";
import type { HostPort } from "./config.js";

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

export async function startMetricsServer(address: HostPort, render: () => string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method === "GET" && (request.url === "/metrics" || request.url?.startsWith("/metrics?"))) {
      let body: string;
      try {
        body = render();
      } catch (error) {
        response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
        return;
      }
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
