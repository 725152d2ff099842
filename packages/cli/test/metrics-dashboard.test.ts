// Proves the provisioned Grafana dashboard is well formed (unique panel ids, grid inside 24 columns, every target on the provisioned datasource) and that every sluice_* metric its queries name is one a node exports, and that the compose Prometheus scrapes the three nodes.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { NodeMetrics } from "../src/node/metrics/node-metrics.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const GRID_COLUMNS = 24;

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { refId: string; expr: string; datasource: { uid: string } }[];
}

function exportedNames(): Set<string> {
  const empty = { groups: 0, activeGroups: 0, leaderGroups: 0, storage: {} };
  const metrics = new NodeMetrics({
    nodeId: 1,
    zone: "a",
    host: {
      metrics: () => empty as never,
      groupIds: () => [],
      groupStatus: () => {
        throw new Error("no groups");
      },
      transportMetrics: () => new Map(),
      peerStates: () => new Map(),
    },
  });
  const names = new Set<string>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const name = (metric as unknown as { name: string }).name;
    names.add(name);
    for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

describe("deploy/grafana", () => {
  const dashboard = JSON.parse(
    readFileSync(resolve(ROOT, "deploy/grafana/dashboards/sluice.json"), "utf8"),
  ) as {
    uid: string;
    title: string;
    panels: Panel[];
  };
  const datasource = readFileSync(
    resolve(ROOT, "deploy/grafana/provisioning/datasources/prometheus.yml"),
    "utf8",
  );

  it("is a dashboard with unique panels laid out on the grid, all on the provisioned datasource", () => {
    expect(dashboard.uid).toBe("sluice-overview");
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    const uid = /uid:\s*(\S+)/.exec(datasource)?.[1];
    expect(uid).toBe("sluice-prometheus");
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(GRID_COLUMNS);
      expect(panel.gridPos.w * panel.gridPos.h, panel.title).toBeGreaterThan(0);
      expect(panel.datasource.uid, panel.title).toBe(uid);
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.datasource.uid, panel.title).toBe(uid);
    }
  });

  it("shows throughput, latency, throttling, iterator age, leaders per node and syncs", () => {
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)).join("\n");
    for (const needed of [
      "sluice_stream_incoming_records_total",
      "sluice_gateway_request_duration_seconds_bucket",
      "sluice_stream_write_throughput_exceeded_records_total",
      "sluice_stream_iterator_age_milliseconds",
      "sluice_raft_leader_groups",
      "sluice_persist_syncs_total",
    ]) {
      expect(exprs).toContain(needed);
    }
  });

  it("queries only metrics a node exports", () => {
    const names = exportedNames();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const name of target.expr.match(/\b(sluice|nodejs|process)_[a-z0-9_]+/g) ?? []) {
          expect(names.has(name), `${panel.title}: ${name}`).toBe(true);
        }
      }
    }
  });
});

describe("deploy/prometheus", () => {
  it("scrapes the three compose nodes on their metrics port", () => {
    const config = readFileSync(resolve(ROOT, "deploy/prometheus/prometheus.yml"), "utf8");
    for (const node of ["node1:9464", "node2:9464", "node3:9464"]) expect(config).toContain(node);
  });
});
