// Proves that raft-ts keeps every safety property under the deterministic simulation: SIM_SEEDS
// seeds (default 2,000, half on 3-node and half on 5-node clusters) × 500 steps of drops,
// duplicates, delays, reorders, partitions, crashes that lose unpersisted state, restarts,
// transfers, membership changes and compactions, with the checkers run after every step.
import { describe, expect, it } from "vitest";
import { formatViolation, runSeeds, runSimulation, type SeedRangeSummary } from "../src/testing/index.js";

const TOTAL_SEEDS = Number(process.env.SIM_SEEDS ?? 2000);
const STEPS = 500;
/** Generous: the 2,000 default seeds take seconds; SIM_SEEDS=100000 takes minutes. */
const TIMEOUT_MS = Math.max(600_000, TOTAL_SEEDS * 100);

function expectNoViolation(summary: SeedRangeSummary): void {
  const report = summary.violations.map((violation) => formatViolation(violation)).join("\n\n");
  expect(summary.violations.length, report).toBe(0);
}

describe("deterministic simulation", () => {
  for (const nodes of [3, 5]) {
    const seeds = Math.ceil(TOTAL_SEEDS / 2);
    it(
      `${seeds} seeds × ${STEPS} steps on ${nodes} nodes break no property`,
      () => {
        const summary = runSeeds({ firstSeed: 1, seeds, steps: STEPS, nodes });
        expectNoViolation(summary);
        expect(summary.runs).toBe(seeds);
        // The runs are not vacuous: every kind of fault happened, and work got done.
        const t = summary.totals;
        if (seeds >= 200) {
          for (const [name, value] of Object.entries({
            elections: t.elections,
            acknowledged: t.acknowledged,
            crashes: t.crashes,
            tornPersists: t.tornPersists,
            restarts: t.restarts,
            partitions: t.partitions,
            transfers: t.transfers,
            confChangesApplied: t.confChangesApplied,
            snapshotsTaken: t.snapshotsTaken,
            snapshotsInstalled: t.snapshotsInstalled,
            messagesDropped: t.messagesDropped,
            messagesDuplicated: t.messagesDuplicated,
          })) {
            expect(value, name).toBeGreaterThan(0);
          }
        }
      },
      TIMEOUT_MS,
    );
  }

  it("replays a seed exactly, traced or not", () => {
    for (const seed of [7, 8, 1234]) {
      const first = runSimulation({ seed });
      const second = runSimulation({ seed });
      const lines: string[] = [];
      const traced = runSimulation({ seed, traceSink: (line) => lines.push(line) });
      expect(second.stats).toEqual(first.stats);
      expect(traced.stats).toEqual(first.stats);
      expect(lines.length).toBeGreaterThan(STEPS);
      expect(lines.at(-1)).toMatch(/settled: leader \d+ term \d+ commit \d+/);
    }
  });

  it("draws the cluster size and fault mix from the seed", () => {
    expect(runSimulation({ seed: 2 }).nodes).toBe(3);
    expect(runSimulation({ seed: 3 }).nodes).toBe(5);
    expect(runSimulation({ seed: 3, nodes: 3 }).nodes).toBe(3);
    expect(runSimulation({ seed: 10 }).stats).not.toEqual(runSimulation({ seed: 12 }).stats);
  });
});
