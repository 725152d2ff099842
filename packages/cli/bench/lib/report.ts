/**
 * What `scripts/bench` prints and writes: the figures of each (target, workload) as the median
 * over the rounds, a plain-text table for the terminal, the side-by-side Markdown table of
 * docs/benchmarks.md, and a self-contained SVG chart of the latency percentiles.
 */
import type { BenchReport, TargetInfo } from "./run.ts";
import type { WorkloadResult } from "./workloads.ts";

/** One (target, workload): the medians over the rounds that produced figures. */
export interface Figures {
  readonly target: string;
  readonly workload: string;
  readonly rounds: number;
  readonly skipped?: string;
  readonly recordsPerSecond: number;
  readonly mibPerSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly failedRecords: number;
  readonly serverCpuPercentOfOneCore: number;
  readonly serverRssPeakMiBMax: number;
  readonly lastError?: string;
}

function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function summarize(report: BenchReport): Figures[] {
  const groups = new Map<string, WorkloadResult[]>();
  for (const result of report.results) {
    const key = `${result.target}\u0000${result.workload}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((all) => {
    const first = all[0] as WorkloadResult;
    const ran = all.filter((result) => result.skipped === undefined);
    const of = (pick: (result: WorkloadResult) => number) => median(ran.map(pick));
    const lastError = [...all].reverse().find((result) => result.lastError !== undefined)?.lastError;
    return {
      target: first.target,
      workload: first.workload,
      rounds: ran.length,
      ...(ran.length === 0 ? { skipped: first.skipped ?? "no figures" } : {}),
      recordsPerSecond: Math.round(of((result) => result.recordsPerSecond)),
      mibPerSecond: of((result) => result.mibPerSecond),
      p50: of((result) => result.latencyMs.p50),
      p90: of((result) => result.latencyMs.p90),
      p99: of((result) => result.latencyMs.p99),
      p999: of((result) => result.latencyMs.p999),
      failedRecords: ran.reduce((sum, result) => sum + result.failedRecords, 0),
      serverCpuPercentOfOneCore: of((result) => result.resources?.serverCpuPercentOfOneCore ?? Number.NaN),
      serverRssPeakMiBMax: of((result) => result.resources?.serverRssPeakMiBMax ?? Number.NaN),
      ...(lastError === undefined ? {} : { lastError }),
    };
  });
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
}

/** The terminal table: one line per (target, workload). */
export function formatText(report: BenchReport): string {
  const rows = [
    [
      "target",
      "workload",
      "records/s",
      "MiB/s",
      "p50 ms",
      "p99 ms",
      "p999 ms",
      "failed",
      "srv CPU %",
      "srv RSS MiB",
      "note",
    ],
    ...summarize(report).map((figures) => [
      figures.target,
      figures.workload,
      figures.skipped === undefined ? count(figures.recordsPerSecond) : "–",
      Number.isFinite(figures.mibPerSecond) ? figures.mibPerSecond.toFixed(1) : "–",
      ms(figures.p50),
      ms(figures.p99),
      ms(figures.p999),
      String(figures.failedRecords),
      Number.isFinite(figures.serverCpuPercentOfOneCore) ? figures.serverCpuPercentOfOneCore.toFixed(0) : "–",
      Number.isFinite(figures.serverRssPeakMiBMax) ? figures.serverRssPeakMiBMax.toFixed(0) : "–",
      figures.skipped ?? figures.lastError ?? "",
    ]),
  ];
  const widths = (rows[0] as string[]).map((_, column) =>
    column === 10 ? 0 : Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function cell(figures: Figures | undefined, withRate: boolean): string {
  if (figures === undefined) return "–";
  if (figures.skipped !== undefined) return /offers no/.test(figures.skipped) ? "n/a" : "failed";
  const latency = `${ms(figures.p50)} / ${ms(figures.p99)}`;
  return withRate ? `${count(figures.recordsPerSecond)}; ${latency}` : latency;
}

/** The side-by-side Markdown table of docs/benchmarks.md, then one line per target on what it is. */
export function formatMarkdown(report: BenchReport): string {
  const figures = summarize(report);
  const find = (target: string, workload: string) =>
    figures.find((entry) => entry.target === target && entry.workload === workload);
  const callers = report.settings.callers;
  const header = [
    "target",
    `PutRecords ${report.settings.producers} × ${report.settings.batchRecords}: rec/s; p50 / p99 ms`,
    ...callers.map((n) => `PutRecord, ${n} caller${n === 1 ? "" : "s"}: rec/s; p50 / p99 ms`),
    `put→receive, polling: p50 / p99 ms`,
    `put→receive, subscribed: p50 / p99 ms`,
    "servers during PutRecords: CPU % of a core; peak RSS MiB (largest process)",
    "durability",
  ];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const info of report.targets) {
    const batched = find(info.name, "put-records");
    lines.push(
      `| ${[
        `**${info.name}**`,
        cell(batched, true),
        ...callers.map((n) => cell(find(info.name, `put-record-${n}`), true)),
        cell(find(info.name, "delivery-poll"), false),
        cell(find(info.name, "delivery-subscribe"), false),
        batched === undefined || batched.skipped !== undefined
          ? "–"
          : `${Number.isFinite(batched.serverCpuPercentOfOneCore) ? batched.serverCpuPercentOfOneCore.toFixed(0) : "–"}; ${Number.isFinite(batched.serverRssPeakMiBMax) ? batched.serverRssPeakMiBMax.toFixed(0) : "–"}`,
        info.durability,
      ].join(" | ")} |`,
    );
  }
  lines.push("");
  for (const info of report.targets) lines.push(`- **${info.name}**: ${info.description}.`);
  const failures = figures.filter((entry) => entry.skipped !== undefined && !/offers no/.test(entry.skipped));
  for (const entry of failures) lines.push(`- ${entry.target} ${entry.workload}: ${entry.skipped}`);
  return lines.join("\n");
}

const PERCENTILES = [
  { key: "p50", label: "p50" },
  { key: "p90", label: "p90" },
  { key: "p99", label: "p99" },
  { key: "p999", label: "p99.9" },
] as const;
const COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];
const WORKLOAD_TITLES: Record<string, string> = {
  "put-records": "PutRecords call latency",
  "delivery-poll": "put → receive, polling GetRecords",
  "delivery-subscribe": "put → receive, subscribed",
};

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A self-contained SVG: one panel per workload, one row per target, its p50, p90, p99 and p99.9
 * as marks joined by a line on a shared logarithmic axis of milliseconds.
 */
export function latencyChartSvg(
  report: BenchReport,
  targets: readonly TargetInfo[] = report.targets,
): string {
  const figures = summarize(report).filter(
    (entry) => entry.skipped === undefined && Number.isFinite(entry.p50) && entry.p50 > 0,
  );
  const workloads = [...new Set(figures.map((entry) => entry.workload))];
  const all = figures.flatMap((entry) => PERCENTILES.map(({ key }) => entry[key])).filter((v) => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...all, 10)));
  const width = 960;
  const left = 130;
  /** The right column holds each row's p50 / p99 / p99.9 in figures. */
  const right = 190;
  const rowHeight = 22;
  const x = (value: number) =>
    left +
    ((Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (width - left - right);
  const parts: string[] = [];
  let y = 50;
  parts.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">Sluice benchmarks: latency percentiles (ms, log scale), ${escapeXml(report.startedAt.slice(0, 16).replace("T", " "))} UTC, ${report.machine.cpus} cores</text>`,
  );
  const legend = PERCENTILES.map(
    ({ label }, position) =>
      `<g transform="translate(${left + position * 70},38)">${mark(0, 0, position, "#333")}<text x="8" y="4" font-size="11">${label}</text></g>`,
  );
  parts.push(
    ...legend,
    `<text x="${width - right + 14}" y="42" font-size="10" fill="#555">p50 / p99 / p99.9</text>`,
  );
  for (const workload of workloads) {
    const rows = targets
      .map((info) => figures.find((entry) => entry.target === info.name && entry.workload === workload))
      .filter((entry): entry is Figures => entry !== undefined);
    const title =
      WORKLOAD_TITLES[workload] ?? workload.replace(/^put-record-(\d+)$/, "PutRecord latency, $1 caller(s)");
    y += 18;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
    y += 8;
    const top = y;
    for (const [index, entry] of rows.entries()) {
      const rowY = y + rowHeight / 2 + 4;
      const color = COLORS[targets.findIndex((info) => info.name === entry.target) % COLORS.length] ?? "#333";
      parts.push(`<text x="10" y="${rowY + 4}" font-size="12">${escapeXml(entry.target)}</text>`);
      const points = PERCENTILES.map(({ key }) => entry[key]).filter((value) => value > 0);
      parts.push(
        `<line x1="${x(Math.min(...points)).toFixed(1)}" x2="${x(Math.max(...points)).toFixed(1)}" y1="${rowY}" y2="${rowY}" stroke="${color}" stroke-width="2"/>`,
      );
      for (const [position, { key }] of PERCENTILES.entries()) {
        if (entry[key] > 0) parts.push(mark(x(entry[key]), rowY, position, color));
      }
      parts.push(
        `<text x="${width - right + 14}" y="${rowY + 4}" font-size="10" fill="#555">${ms(entry.p50)} / ${ms(entry.p99)} / ${ms(entry.p999)} ms</text>`,
      );
      y += rowHeight;
      if (index === rows.length - 1) y += 4;
    }
    for (let tick = low; tick <= high; tick *= 10) {
      parts.push(
        `<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${top}" y2="${y}" stroke="#ddd"/>`,
        `<text x="${x(tick).toFixed(1)}" y="${y + 12}" font-size="10" text-anchor="middle" fill="#555">${tick >= 1 ? tick : tick.toFixed(Math.round(-Math.log10(tick)))}</text>`,
      );
    }
    y += 18;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/** p50 a filled circle, p90 a hollow circle, p99 a square, p99.9 a triangle. */
function mark(cx: number, cy: number, position: number, color: string): string {
  const at = (value: number) => value.toFixed(1);
  switch (position) {
    case 0:
      return `<circle cx="${at(cx)}" cy="${at(cy)}" r="4.5" fill="${color}"/>`;
    case 1:
      return `<circle cx="${at(cx)}" cy="${at(cy)}" r="4" fill="white" stroke="${color}" stroke-width="2"/>`;
    case 2:
      return `<rect x="${at(cx - 4)}" y="${at(cy - 4)}" width="8" height="8" fill="${color}"/>`;
    default:
      return `<path d="M${at(cx)},${at(cy - 5)} L${at(cx + 5)},${at(cy + 4)} L${at(cx - 5)},${at(cy + 4)} Z" fill="${color}"/>`;
  }
}
