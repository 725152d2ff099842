import { readFileSync } from "node:fs";

/**
 * Prints the top frames by self time of a V8 CPU profile (`node --cpu-prof`), the summary the
 * benchmark notes quote:  node dist/testing/bench/cpu-profile-top.js FILE.cpuprofile [N]
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function main(): void {
  const [file, count] = process.argv.slice(2);
  if (file === undefined) throw new Error("usage: cpu-profile-top FILE.cpuprofile [N]");
  const top = Number(count ?? 20);
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfMicros = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const delta = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    const frame = node.callFrame;
    const where =
      frame.url === ""
        ? ""
        : ` ${frame.url.replace(/^.*\/(src|dist|node_modules)\//, "$1/")}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || "(anonymous)"}${where}`;
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + delta);
    total += delta;
  }
  const rows = [...selfMicros.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(
    `self time, top ${rows.length} of ${selfMicros.size} frames (${(total / 1000).toFixed(0)} ms sampled):`,
  );
  for (const [key, micros] of rows) {
    console.log(
      `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(1).padStart(8)} ms  ${key}`,
    );
  }
}

main();
