/**
 * Summaries of V8 CPU profiles (the `.cpuprofile` files `node --cpu-prof` writes on exit), for
 * benchmarks that say what limits a figure: self time by function and by package, over all the
 * profiles of a folder (one per node process), idle time left out.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface CpuProfileEntry {
  readonly name: string;
  /** Share of the busy (non-idle) samples, in percent. */
  readonly percent: number;
  readonly selfMs: number;
}

export interface CpuProfileSummary {
  readonly files: number;
  /** Sampled time when the main thread was not idle, summed over the profiles. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byFunction: readonly CpuProfileEntry[];
  /** By workspace package (`packages/<name>`), dependency (`node_modules/<name>`), Node internals module, or V8 pseudo-frame. */
  readonly byPackage: readonly CpuProfileEntry[];
}

/** Reads every `.cpuprofile` under `directory` and sums their self time; `top` rows of each table. */
export function summarizeCpuProfiles(directory: string, top = 20): CpuProfileSummary {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  const files = readdirSync(directory, { recursive: true, encoding: "utf8" }).filter((name) =>
    name.endsWith(".cpuprofile"),
  );
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(directory, file), "utf8")) as Profile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((sample, position) => {
      const delta = profile.timeDeltas[position] ?? 0;
      const frame = nodes.get(sample)?.callFrame;
      if (frame === undefined) return;
      if (frame.functionName === "(idle)") {
        idle += delta;
        return;
      }
      busy += delta;
      const fileName = frame.url.split("/").pop() ?? "";
      const functionKey = `${frame.functionName || "(anonymous)"} ${fileName}:${frame.lineNumber + 1}`;
      byFunction.set(functionKey, (byFunction.get(functionKey) ?? 0) + delta);
      const packageKey = packageOf(frame.url, frame.functionName);
      byPackage.set(packageKey, (byPackage.get(packageKey) ?? 0) + delta);
    });
  }
  const rank = (table: Map<string, number>): CpuProfileEntry[] =>
    [...table]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({
        name,
        percent: busy === 0 ? 0 : Number(((100 * micros) / busy).toFixed(1)),
        selfMs: Math.round(micros / 1_000),
      }));
  return {
    files: files.length,
    busyMs: Math.round(busy / 1_000),
    idleMs: Math.round(idle / 1_000),
    byFunction: rank(byFunction),
    byPackage: rank(byPackage),
  };
}

function packageOf(url: string, functionName: string): string {
  const workspace = /\/packages\/([^/]+)\//.exec(url);
  if (workspace !== null) return `@sluice/${workspace[1]}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(
    url.replace(/.*node_modules\/\.pnpm\/[^/]+\//, ""),
  );
  if (dependency !== null) return dependency[1] ?? url;
  if (url.startsWith("node:")) return url;
  return url === "" ? functionName : url;
}
