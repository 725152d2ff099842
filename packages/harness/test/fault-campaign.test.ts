// Proves invariants 1-4 under faults on a real three-node cluster whose peer links run through
// runner-controlled proxies: two short campaigns (a fixed seed, then a random one) of kills,
// pauses, partitions (isolated node, leader cut off, one-way links, a bridge), slow links and
// reshards under a live workload end with no acknowledged record lost, no phantom or conflicting
// record, no key out of acknowledgement order, nothing a reader saw taken back, identical replica
// logs and no node crash. A failure message carries the seed and the command that replays it.
import { afterAll, describe, expect, it } from "vitest";
import { CAMPAIGN_PORTS, type CampaignResult, runCampaign } from "../src/fault/campaign.js";
import { randomSeed } from "../src/fault/random.js";

// This file uses ports 20400-20437 (two campaigns of CAMPAIGN_PORTS = 18 ports each).
const BASE_PORT = 20_400;
const FIXED_SEED = 20_261_127;
/** Seconds of faults per campaign; two campaigns make the CI run's ~5 minutes of faults. */
const SECONDS = Number(process.env.SLUICE_FAULT_SECONDS ?? 150);
const RANDOM_SEED =
  process.env.SLUICE_FAULT_SEED === undefined ? randomSeed() : Number(process.env.SLUICE_FAULT_SEED);

const results: CampaignResult[] = [];
afterAll(() => {
  for (const result of results) console.log(result.report);
});

function verdict(result: CampaignResult): string {
  return `seed ${result.seed}; replay with ./scripts/fault-campaign --seed ${result.seed} --duration ${SECONDS}s\n${result.report}`;
}

async function campaign(seed: number, basePort: number): Promise<void> {
  const result = await runCampaign({
    seed,
    durationMs: SECONDS * 1_000,
    basePort,
    command: `./scripts/fault-campaign --seed ${seed} --duration ${SECONDS}s`,
    log: (line) => console.log(`[fault seed ${seed}] ${line}`),
  });
  results.push(result);
  const { check } = result;
  expect(check.acknowledged, verdict(result)).toBeGreaterThan(0);
  expect(check.faults.length, verdict(result)).toBeGreaterThan(0);
  expect(
    {
      lost: check.lost,
      phantoms: check.phantoms,
      conflicts: check.conflicts,
      reordered: check.reordered,
      takenBack: check.takenBack,
      divergentGroups: check.divergentGroups,
      crashes: check.crashes,
    },
    verdict(result),
  ).toEqual({
    lost: 0,
    phantoms: 0,
    conflicts: 0,
    reordered: 0,
    takenBack: 0,
    divergentGroups: 0,
    crashes: 0,
  });
  expect(check.ok, verdict(result)).toBe(true);
}

const timeoutMs = (SECONDS + 240) * 1_000;

describe("fault campaign", () => {
  it(
    `survives ${SECONDS} s of faults with the fixed seed ${FIXED_SEED}`,
    () => campaign(FIXED_SEED, BASE_PORT),
    timeoutMs,
  );

  it(
    `survives ${SECONDS} s of faults with a random seed (this run: ${RANDOM_SEED})`,
    () => campaign(RANDOM_SEED, BASE_PORT + CAMPAIGN_PORTS + 2),
    timeoutMs,
  );
});
