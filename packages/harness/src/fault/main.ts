/**
 * `scripts/fault-campaign`: runs a fault-injection campaign (and, with --fuzz-cases, the
 * bad-input campaign) from the command line, prints the report, and exits 1 when the checker
 * finds loss, divergence, misorder, phantoms, records taken back or a crash.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runCampaign } from "./campaign.js";
import { runBadInputCampaign } from "./fuzz.js";
import { FAULT_KINDS, type FaultKind } from "./nemesis.js";
import { randomSeed } from "./random.js";

const USAGE = `usage: scripts/fault-campaign [options]
  --duration 5m        how long faults are injected (s, m or h suffix; default 5m)
  --seed N             the schedule's seed (default: random, printed)
  --base-port P        first of 18 ports (default 20500; nodes, then per-link proxies)
  --producers N        producers of the workload (default 4)
  --keys N             partition keys (default 16)
  --rate N             records/s of all producers together (default 200)
  --kinds a,b          fault kinds (${FAULT_KINDS.join(", ")})
  --small-disk         node 3's data on a small tmpfs (root) and the disk-full fault on
  --history FILE       write the history as JSON lines
  --report FILE        write the report (Markdown) there too
  --keep-data          keep the data folder and node logs
  --fuzz-cases N       also run the bad-input campaign with N cases (0: skip; default 0)
  --idempotent         write through @sluice/client's idempotent Producer (a duplicate fails the run)`;

export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new Error(`--duration: "${text}" is not a duration like 90s, 5m or 1h`);
  const unit = match[2] ?? "s";
  const factor = unit === "ms" ? 1 : unit === "s" ? 1_000 : unit === "m" ? 60_000 : 3_600_000;
  return Math.round(Number(match[1]) * factor);
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      duration: { type: "string" },
      seed: { type: "string" },
      "base-port": { type: "string" },
      producers: { type: "string" },
      keys: { type: "string" },
      rate: { type: "string" },
      kinds: { type: "string" },
      "small-disk": { type: "boolean" },
      history: { type: "string" },
      report: { type: "string" },
      "keep-data": { type: "boolean" },
      "fuzz-cases": { type: "string" },
      idempotent: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed) >>> 0;
  const durationText = values.duration ?? "5m";
  const durationMs = parseDurationMs(durationText);
  const basePort = Number(values["base-port"] ?? 20_500);
  const kinds = values.kinds?.split(",").map((kind) => {
    if (!(FAULT_KINDS as readonly string[]).includes(kind))
      throw new Error(`--kinds: unknown fault kind ${kind}`);
    return kind as FaultKind;
  });
  const command = [
    "./scripts/fault-campaign",
    `--seed ${seed}`,
    `--duration ${durationText}`,
    ...(values.kinds === undefined ? [] : [`--kinds ${values.kinds}`]),
    ...(values["small-disk"] === true ? ["--small-disk"] : []),
    ...(values.producers === undefined ? [] : [`--producers ${values.producers}`]),
    ...(values.keys === undefined ? [] : [`--keys ${values.keys}`]),
    ...(values.rate === undefined ? [] : [`--rate ${values.rate}`]),
    ...(values.idempotent === true ? ["--idempotent"] : []),
  ].join(" ");
  console.log(`fault campaign: seed ${seed}, ${durationText} of faults (${command})`);
  const started = Date.now();
  const result = await runCampaign({
    seed,
    durationMs,
    basePort,
    command,
    ...(values.producers === undefined ? {} : { producers: Number(values.producers) }),
    ...(values.keys === undefined ? {} : { keys: Number(values.keys) }),
    ...(values.rate === undefined ? {} : { recordsPerSecond: Number(values.rate) }),
    ...(kinds === undefined ? {} : { kinds }),
    ...(values["small-disk"] === true ? { smallDisk: true } : {}),
    ...(values.history === undefined ? {} : { historyFile: values.history }),
    ...(values["keep-data"] === true ? { keepData: true } : {}),
    ...(values.idempotent === true ? { idempotent: true } : {}),
    log: (line) => console.log(`[${Math.round((Date.now() - started) / 1_000)}s] ${line}`),
  });
  let report = result.report;
  let ok = result.check.ok;
  const fuzzCases = Number(values["fuzz-cases"] ?? 0);
  if (fuzzCases > 0) {
    const fuzz = await runBadInputCampaign({ seed, cases: fuzzCases, basePort });
    report += `\n${fuzz.report}`;
    ok &&= fuzz.ok;
  }
  console.log(`\n${report}`);
  if (values["keep-data"] === true) console.log(`data and node logs kept in ${result.dataDir}`);
  if (values.report !== undefined) writeFileSync(values.report, report);
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(2);
  },
);
