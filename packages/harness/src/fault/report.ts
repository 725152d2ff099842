/**
 * The campaign report: one Markdown table of totals (faults, operations, acknowledged, lost,
 * duplicated, reordered, unknown, …) and one of faults by kind with their longest write
 * unavailability, headed by the seed and the command that reproduces the schedule.
 */
import type { CheckResult } from "./checker.js";

export interface CampaignReportInput {
  readonly seed: number;
  readonly durationMs: number;
  readonly command: string;
  readonly check: CheckResult;
  /** Faults that could not be injected or healed, by kind. */
  readonly faultErrors: ReadonlyMap<string, number>;
}

export function formatReport(input: CampaignReportInput): string {
  const { check } = input;
  const byKind = new Map<string, { count: number; worstMs: number; sumMs: number; worst: string }>();
  for (const fault of check.faults) {
    const entry = byKind.get(fault.fault.kind) ?? { count: 0, worstMs: 0, sumMs: 0, worst: "" };
    entry.count += 1;
    entry.sumMs += fault.maxUnavailableMs;
    if (fault.maxUnavailableMs >= entry.worstMs) {
      entry.worstMs = fault.maxUnavailableMs;
      entry.worst = `${fault.fault.detail} (${fault.shardId || "no shard"})`;
    }
    byKind.set(fault.fault.kind, entry);
  }
  const lines = [
    `Fault campaign — seed ${input.seed}, ${Math.round(input.durationMs / 1_000)} s of faults: ${check.ok ? "PASS" : "FAIL"}`,
    "",
    `Reproduce the schedule: \`${input.command}\``,
    "",
    "| faults | operations | records sent | acknowledged | lost | duplicated | reordered | unknown (visible) | failed (visible) | phantoms | conflicts | taken back | divergent groups | crashes |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${check.faults.length} | ${check.operations} | ${check.recordsSent} | ${check.acknowledged} | ${check.lost} | ${check.duplicated} | ${check.reordered} | ${check.unknown} (${check.unknownVisible}) | ${check.failed} (${check.failedVisible}) | ${check.phantoms} | ${check.conflicts} | ${check.takenBack} | ${check.divergentGroups} of ${check.comparedGroups} | ${check.crashes} |`,
    "",
    "| fault | injected | max write unavailability (ms) | mean of per-fault max (ms) | worst case |",
    "| --- | ---: | ---: | ---: | --- |",
    ...[...byKind]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([kind, entry]) =>
          `| ${kind} | ${entry.count} | ${Math.round(entry.worstMs)} | ${Math.round(entry.sumMs / entry.count)} | ${entry.worst} |`,
      ),
  ];
  if (input.faultErrors.size > 0) {
    lines.push(
      "",
      `Faults not injected or not healed cleanly: ${[...input.faultErrors].map(([kind, n]) => `${kind} ×${n}`).join(", ")}`,
    );
  }
  if (check.problems.length > 0)
    lines.push("", "Problems:", ...check.problems.map((problem) => `- ${problem}`));
  if (check.duplicates.length > 0) {
    lines.push("", `Duplicates (the first ${check.duplicates.length} of ${check.duplicated}):`);
    for (const duplicate of check.duplicates) {
      const settled =
        duplicate.settledMs === undefined
          ? "never settled"
          : `${duplicate.outcome} at t=${duplicate.settledMs}`;
      lines.push(
        `- record ${duplicate.record} (key ${duplicate.key}): sent t=${duplicate.invokedMs}, ${settled}${duplicate.settledAs === "" ? "" : ` (${duplicate.settledAs.slice(0, 160)})`}`,
      );
      for (const copy of duplicate.copies) {
        lines.push(
          `  - copy at ${copy.shardId}@${copy.sequenceNumber} (entry ${copy.entry}), first read t=${copy.firstReadMs ?? "never"}`,
          ...copy.faultsBefore.map((fault) => `    - after ${fault}`),
        );
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
