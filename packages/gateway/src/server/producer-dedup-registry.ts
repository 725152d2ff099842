/**
 * The dedup tables (producer-dedup.ts) of the shards this node leads, each valid for ONE Raft
 * term of its group. The table is part of the replicated shard state in the sense that matters:
 * it is a function of the shard log, whose producer batches carry (producer id, first sequence,
 * record count) in their trailer, so any replica that becomes leader rebuilds the same table
 * before it accepts an idempotent write:
 *
 * 1. a read barrier (the leader has committed an entry of its term, so every entry of earlier
 *    terms in its log is committed and persisted);
 * 2. a scan of the newest PRODUCER_REBUILD_ENTRIES_MAX entries / PRODUCER_REBUILD_BYTES_MAX bytes
 *    of its log, newest first (Broker.forEachProducerBatch).
 *
 * While the term stays the same, only this node appends to the log, through PutPath.appendAsLeader,
 * which keeps the table current (`begin` before proposing, `commit` after). A new term (a leader
 * change, even back to this node) or an append whose outcome is unknown (leadership lost, append
 * timeout) drops the table; the next idempotent write rebuilds it. A write that arrives while the
 * table cannot be built (the barrier fails: no quorum, leadership moving) is refused with
 * PRODUCER_STATE_LOADING, which the put path retries like NOT_LEADER — never appended unchecked.
 */
import type { Broker } from "@sluice/broker";
import {
  PRODUCER_BATCHES_KEPT,
  PRODUCER_REBUILD_BYTES_MAX,
  PRODUCER_REBUILD_ENTRIES_MAX,
  PRODUCERS_PER_SHARD_MAX,
} from "./constants.js";
import { ProducerDedupTable } from "./producer-dedup.js";

/** The reply code of an idempotent write that came before its shard's table was rebuilt: retry. */
export const PRODUCER_STATE_LOADING_CODE = "PRODUCER_STATE_LOADING";
/** The reply code of a gap or a too old sequence: not retriable as is. */
export const OUT_OF_ORDER_SEQUENCE_CODE = "OUT_OF_ORDER_SEQUENCE";

/** The part of Broker the registry uses (an interface, so tests can drive a table without a node). */
export type DedupBroker = Pick<Broker, "groupStatus" | "readBarrier" | "forEachProducerBatch" | "onApplied">;

interface GroupTable {
  readonly term: number;
  readonly table: ProducerDedupTable;
  /** Set while the table is rebuilt from the log; undefined once ready. */
  loading: Promise<void> | undefined;
}

/** Thrown by `tableFor` when the table cannot be rebuilt now; the put path retries. */
export class ProducerStateLoadingError extends Error {
  override readonly name = "ProducerStateLoadingError";
  readonly code = PRODUCER_STATE_LOADING_CODE;
  readonly retriable = true;
}

export class ProducerDedupRegistry {
  readonly #broker: DedupBroker;
  readonly #groups = new Map<number, GroupTable>();

  constructor(broker: DedupBroker) {
    this.#broker = broker;
  }

  /**
   * The table of `groupId` for the current term, rebuilt from the log first when this node has
   * none for it. Returns undefined when this node does not lead the group (the append then meets
   * NotLeaderError as any other); rejects with ProducerStateLoadingError when the rebuild fails.
   */
  async tableFor(groupId: number): Promise<{ table: ProducerDedupTable; term: number } | undefined> {
    for (;;) {
      const status = this.#broker.groupStatus(groupId);
      if (status.role !== "leader") return undefined;
      let group = this.#groups.get(groupId);
      if (group !== undefined && group.term !== status.term) {
        group.table.releaseAll();
        this.#groups.delete(groupId);
        group = undefined;
      }
      if (group === undefined) {
        group = {
          term: status.term,
          table: new ProducerDedupTable({
            producersMax: PRODUCERS_PER_SHARD_MAX,
            batchesKept: PRODUCER_BATCHES_KEPT,
          }),
          loading: undefined,
        };
        group.loading = this.#rebuild(groupId, group);
        this.#groups.set(groupId, group);
      }
      if (group.loading !== undefined) {
        await group.loading;
        continue; // the term may have moved on meanwhile
      }
      return { table: group.table, term: group.term };
    }
  }

  /** Drops a group's table (an append's outcome is unknown); the next write rebuilds it. */
  invalidate(groupId: number): void {
    const group = this.#groups.get(groupId);
    if (group === undefined) return;
    group.table.releaseAll();
    this.#groups.delete(groupId);
  }

  /**
   * Resolves once `index` is applied here while `term` is still the group's term (the entry at
   * `index` is then the one the table knows, committed); false when the term moved on or
   * `timeoutMs` passed first (the caller retries the write).
   */
  async waitApplied(groupId: number, index: number, term: number, timeoutMs: number): Promise<boolean> {
    const ready = (): boolean | undefined => {
      const status = this.#broker.groupStatus(groupId);
      if (status.term !== term) return false;
      return status.appliedIndex >= index ? true : undefined;
    };
    const now = ready();
    if (now !== undefined) return now;
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(result);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const unsubscribe = this.#broker.onApplied((applied) => {
        if (applied !== groupId) return;
        try {
          const result = ready();
          if (result !== undefined) finish(result);
        } catch {
          finish(false);
        }
      });
    });
  }

  async #rebuild(groupId: number, group: GroupTable): Promise<void> {
    try {
      await this.#broker.readBarrier(groupId);
      this.#broker.forEachProducerBatch(
        groupId,
        { maxEntries: PRODUCER_REBUILD_ENTRIES_MAX, maxBytes: PRODUCER_REBUILD_BYTES_MAX },
        (index, producer, recordCount) => {
          group.table.noteFromLog(
            producer.producerId.toString("latin1"),
            producer.firstSequence,
            recordCount,
            index,
          );
          return true;
        },
      );
      group.table.finishRebuild();
      group.loading = undefined;
    } catch (error) {
      if (this.#groups.get(groupId) === group) this.#groups.delete(groupId);
      throw new ProducerStateLoadingError(
        `the idempotent producers of group ${groupId} are being loaded by its new leader (${
          error instanceof Error ? error.message : String(error)
        }); retry`,
        { cause: error },
      );
    }
  }
}
