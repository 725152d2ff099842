// Proves the put path's retry rule: refusals before any append are retried freely, an outcome
// that may have written the records is re-sent at most AMBIGUOUS_RESENDS_MAX times for a plain
// put (then the records fail with their outcome unknown), and without limit for an idempotent put,
// which the leader deduplicates; codes outside both kinds are never retried.
import { BrokerErrorCode } from "@sluice/broker";
import { describe, expect, it } from "vitest";
import { AMBIGUOUS_RESENDS_MAX } from "../src/server/constants.js";
import { isRetriableCode, ShardRetryBudget } from "../src/server/put-retry.js";

const AMBIGUOUS = [
  BrokerErrorCode.LeadershipLost,
  BrokerErrorCode.AppendTimeout,
  BrokerErrorCode.BrokerClosed,
  "PEER_UNAVAILABLE",
];
const NOT_WRITTEN = [
  BrokerErrorCode.NotLeader,
  BrokerErrorCode.Busy,
  BrokerErrorCode.GroupNotFound,
  BrokerErrorCode.DiskFull,
  "PRODUCER_STATE_LOADING",
  "STREAM_NOT_FOUND",
];

describe("ShardRetryBudget", () => {
  it("retries a refusal before any append as often as the deadline allows, outcome known", () => {
    const budget = new ShardRetryBudget(false);
    for (let i = 0; i < 100; i++) {
      for (const code of NOT_WRITTEN) expect(budget.verdict(code), code).toBe("retry");
    }
    expect(budget.outcomeUnknown).toBe(false);
  });

  it("re-sends a plain put after ambiguous outcomes AMBIGUOUS_RESENDS_MAX times in all, then fails", () => {
    for (const code of AMBIGUOUS) {
      const budget = new ShardRetryBudget(false);
      for (let i = 0; i < AMBIGUOUS_RESENDS_MAX; i++) expect(budget.verdict(code), code).toBe("retry");
      // Refusals in between do not spend the budget, nor restore it.
      expect(budget.verdict(BrokerErrorCode.NotLeader)).toBe("retry");
      expect(budget.verdict(code), code).toBe("fail");
      expect(budget.outcomeUnknown).toBe(true);
    }
  });

  it("counts ambiguous outcomes of different kinds together", () => {
    const budget = new ShardRetryBudget(false);
    const verdicts = AMBIGUOUS.map((code) => budget.verdict(code));
    expect(verdicts.filter((v) => v === "retry")).toHaveLength(AMBIGUOUS_RESENDS_MAX);
    expect(verdicts.at(-1)).toBe("fail");
  });

  it("retries an idempotent put after any number of ambiguous outcomes", () => {
    const budget = new ShardRetryBudget(true);
    for (let i = 0; i < 50; i++) {
      for (const code of AMBIGUOUS) expect(budget.verdict(code), code).toBe("retry");
    }
  });

  it("never retries a code of neither kind", () => {
    for (const idempotent of [false, true]) {
      const budget = new ShardRetryBudget(idempotent);
      for (const code of ["CORRUPT_BATCH", "KMS_KEY_UNAVAILABLE", "SHARD_SEALED", ""]) {
        expect(budget.verdict(code), code).toBe("fail");
        expect(isRetriableCode(code), code).toBe(false);
      }
    }
    for (const code of [...AMBIGUOUS, ...NOT_WRITTEN]) expect(isRetriableCode(code), code).toBe(true);
  });
});
