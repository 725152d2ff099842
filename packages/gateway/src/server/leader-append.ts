/**
 * The answer of a shard's leader to a group of records, the same whether the records came from
 * this node's gateway or over ForwardPutRecords (so put-records.ts and peer-forwarder.ts share it
 * without importing each other).
 */
/** What the leader answers for a group of records (locally or over ForwardPutRecords). */
export interface LeaderAppendReply {
  /**
   * Records [0, accepted) are in the entry at `index`, at offsets firstOffset … firstOffset +
   * accepted - 1.
   */
  readonly accepted: number;
  readonly index: number;
  /**
   * 0 for a fresh append; for an idempotent producer's retried duplicate, where its first record
   * sits in the original entry.
   */
  readonly firstOffset: number;
  /** Why the rest failed (an error-table code), when accepted < the records sent. */
  readonly errorCode: string;
  readonly errorMessage: string;
  /** With NOT_LEADER: the leader this node knows of (0 when none). */
  readonly leaderHint: number;
}
