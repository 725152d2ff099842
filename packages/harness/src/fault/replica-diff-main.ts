/**
 * `node packages/harness/dist/fault/replica-diff-main.js --data DIR [--base-port P] [--groups a,b]`:
 * restarts the three nodes of a campaign's kept data folder (`--keep-data`; copy it first, the
 * nodes write to it) with direct peer links, compares every shard group's replicas by their
 * committed records (see replica-diff.ts), prints one line per group and stops the nodes. Exits 1
 * when a group diverged or a replica is short of records another holds.
 */
import { parseArgs } from "node:util";
import { startCluster } from "../cluster.js";
import { FAULT_CONVERGE_TIMEOUT_MS } from "./constants.js";
import { diffReplicas, formatGroupDiff } from "./replica-diff.js";

const USAGE = `usage: node packages/harness/dist/fault/replica-diff-main.js --data DIR [--base-port P] [--groups a,b]
  --data DIR       a campaign's kept data folder (node-1, node-2, node-3); the nodes write to it
  --base-port P    first of the 12 node ports (default 20500)
  --groups a,b     only these shard groups (default: all)`;

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      data: { type: "string" },
      "base-port": { type: "string" },
      groups: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true || values.data === undefined) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }
  const cluster = await startCluster({
    basePort: Number(values["base-port"] ?? 20_500),
    dataDir: values.data,
    keepData: true,
  });
  try {
    const diffs = await diffReplicas(cluster, {
      convergeTimeoutMs: FAULT_CONVERGE_TIMEOUT_MS,
      ...(values.groups === undefined ? {} : { groupIds: values.groups.split(",").map(Number) }),
    });
    for (const diff of diffs) console.log(formatGroupDiff(diff));
    const bad = diffs.filter((d) => d.verdict === "diverged" || d.verdict === "short");
    console.log(
      `${diffs.length} groups: ${diffs.filter((d) => d.verdict === "identical").length} identical, ${diffs.filter((d) => d.verdict === "starts-later").length} start later on some replica (same records), ${bad.length} diverged or short`,
    );
    return bad.length === 0 ? 0 : 1;
  } finally {
    await cluster.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(2);
  },
);
