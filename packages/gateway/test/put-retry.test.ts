// Proves the put path's retry rule: refusals before any append are retried freely, an outcome
// that may have written the records is re-sent at most AMBIGUOUS_RESENDS_MAX times for a plain
// put (then the records fail with their outcome unknown), and without limit for an idempotent put,
// which the leader deduplicates; codes outside both kinds are never retried.

import { createServer } from "node:net";
import { BrokerErrorCode } from "@sluice/broker";
import { describe, expect, it } from "vitest";
import { AMBIGUOUS_RESENDS_MAX } from "../src/server/constants.js";
import { PeerUnavailableError } from "../src/server/forward-errors.js";
import { GrpcPeerForwarder } from "../src/server/peer-forwarder.js";
import { isRetriableCode, PEER_NOT_REACHED_CODE, ShardRetryBudget } from "../src/server/put-retry.js";

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
  PEER_NOT_REACHED_CODE,
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

describe("a forward that never reached its peer", () => {
  it("is a PeerUnavailableError with sent false, which the put path retries as not written", async () => {
    // A port nothing listens on: the connection is refused before any byte of the call leaves.
    const probe = createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, "127.0.0.1", () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    // On the ForwardStream (the default) and as a unary call (a peer of the previous version).
    for (const useStreams of [true, false]) {
      const forwarder = new GrpcPeerForwarder({ addresses: new Map([[2, `127.0.0.1:${port}`]]), useStreams });
      try {
        const error = await forwarder.putRecords(2, 1, 1, Buffer.alloc(16), Date.now() + 5_000).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `useStreams ${useStreams}`).toBeInstanceOf(PeerUnavailableError);
        expect((error as PeerUnavailableError).sent, `useStreams ${useStreams}`).toBe(false);
        const unknownPeer = await forwarder
          .putRecords(9, 1, 1, Buffer.alloc(16), Date.now() + 5_000)
          .catch((e) => e);
        expect((unknownPeer as PeerUnavailableError).sent).toBe(false);
      } finally {
        forwarder.close();
      }
    }
  });
});
