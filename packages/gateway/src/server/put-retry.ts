/**
 * Whether the put path may send a shard's records again after an attempt failed, and whether
 * doing so can write them twice. The codes fall in two kinds:
 *
 * - **not written**: the leader refused before appending (not the leader, no such group, busy,
 *   disk full, the producer table still loading, the stream not known here yet). Sending again
 *   cannot duplicate anything; the path retries until the request's deadline.
 * - **ambiguous**: the records may be in the log (leadership lost after the append, the append
 *   timed out, the broker closed under it, the peer did not answer a call it may have received).
 *   Sending again can write them twice. A plain Kinesis put allows that (a producer's retry can
 *   too), but a gateway that keeps re-sending until its own deadline, after the caller has given
 *   up, can write one batch dozens of times (docs/fault-injection.md, finding 3). So a plain put
 *   sends again after an ambiguous outcome at most AMBIGUOUS_RESENDS_MAX times, then fails the
 *   records with InternalFailure: their outcome is unknown, and the caller decides. An
 *   idempotent put (producer id and sequence) is deduplicated by the leader, so it retries
 *   ambiguous outcomes like the others.
 */
import { BrokerErrorCode } from "@sluice/broker";
import { AMBIGUOUS_RESENDS_MAX } from "./constants.js";
import { PRODUCER_STATE_LOADING_CODE } from "./producer-dedup-registry.js";

/**
 * The code the put path gives a forward that never reached the peer (PeerUnavailableError with
 * `sent` false: no connection could be made): nothing was written, unlike PEER_UNAVAILABLE.
 */
export const PEER_NOT_REACHED_CODE = "PEER_NOT_REACHED";

/** Refusals before any append: safe to send again. */
const NOT_WRITTEN_CODES: ReadonlySet<string> = new Set<string>([
  PRODUCER_STATE_LOADING_CODE,
  BrokerErrorCode.NotLeader,
  BrokerErrorCode.Busy,
  BrokerErrorCode.GroupNotFound,
  BrokerErrorCode.DiskFull,
  "STREAM_NOT_FOUND",
  PEER_NOT_REACHED_CODE,
]);

/** Failures after which the records may or may not be in the log. */
const AMBIGUOUS_CODES: ReadonlySet<string> = new Set<string>([
  BrokerErrorCode.LeadershipLost,
  BrokerErrorCode.AppendTimeout,
  BrokerErrorCode.BrokerClosed,
  "PEER_UNAVAILABLE",
]);

/** Whether another attempt on the same or a new leader may succeed (either kind). */
export function isRetriableCode(code: string): boolean {
  return NOT_WRITTEN_CODES.has(code) || AMBIGUOUS_CODES.has(code);
}

export type RetryVerdict =
  /** Send again. */
  | "retry"
  /** Stop: the code is not retriable, or the ambiguous re-sends are spent. */
  | "fail";

/**
 * The attempts of one shard's records within one request: counts the ambiguous outcomes and says
 * whether to send again after each failure.
 */
export class ShardRetryBudget {
  private ambiguousOutcomes = 0;

  constructor(private readonly idempotent: boolean) {}

  /** After an attempt failed with `code`. */
  verdict(code: string): RetryVerdict {
    if (NOT_WRITTEN_CODES.has(code)) return "retry";
    if (!AMBIGUOUS_CODES.has(code)) return "fail";
    if (this.idempotent) return "retry";
    this.ambiguousOutcomes += 1;
    return this.ambiguousOutcomes <= AMBIGUOUS_RESENDS_MAX ? "retry" : "fail";
  }

  /** Whether a failure now leaves the records' outcome unknown (an ambiguous outcome happened). */
  get outcomeUnknown(): boolean {
    return this.ambiguousOutcomes > 0;
  }
}
