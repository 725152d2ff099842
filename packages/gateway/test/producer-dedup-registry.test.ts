// Proves the dedup registry rebuilds a shard's table from the producer batches of the log after a
// read barrier, keeps it for one term only, answers ProducerStateLoadingError (retriable) when the
// barrier fails, and that waitApplied says false once the term moves on. The broker is a small
// stand-in for the four calls the registry makes (DedupBroker); the put path over real nodes is
// proved in packages/cli/test/idempotent-put.test.ts.
import type { GroupStatus } from "@sluice/broker";
import { describe, expect, it } from "vitest";
import {
  type DedupBroker,
  ProducerDedupRegistry,
  ProducerStateLoadingError,
} from "../src/server/producer-dedup-registry.js";

const GROUP_ID = 1_048_576;

/** A stand-in broker: one group whose role, term and applied index the test sets. */
class StandInBroker implements DedupBroker {
  role: GroupStatus["role"] = "leader";
  term = 1;
  appliedIndex = 0;
  barrierError: Error | undefined;
  barriers = 0;
  /** The log's producer batches, oldest first. */
  readonly batches: { index: number; producerId: Buffer; firstSequence: number; count: number }[] = [];
  readonly #listeners = new Set<(groupId: number, appliedIndex: number) => void>();

  groupStatus(groupId: number): GroupStatus {
    return {
      groupId,
      kind: "shard",
      role: this.role,
      leader: this.role === "leader" ? 1 : 2,
      term: this.term,
      commitIndex: this.appliedIndex,
      appliedIndex: this.appliedIndex,
      lastIndex: this.appliedIndex,
      firstIndex: 1,
      quiesced: false,
      voters: [1, 2, 3],
      preferredLeader: 1,
      pendingAppends: 0,
      sealedIndex: 0,
    };
  }

  async readBarrier(): Promise<void> {
    this.barriers += 1;
    if (this.barrierError !== undefined) throw this.barrierError;
  }

  forEachProducerBatch: DedupBroker["forEachProducerBatch"] = (_groupId, _limits, visit) => {
    for (const batch of [...this.batches].reverse()) {
      if (
        !visit(batch.index, { producerId: batch.producerId, firstSequence: batch.firstSequence }, batch.count)
      )
        return;
    }
  };

  onApplied(listener: (groupId: number, appliedIndex: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  apply(index: number): void {
    this.appliedIndex = index;
    for (const listener of this.#listeners) listener(GROUP_ID, index);
  }
}

const producerA = Buffer.from("aaaaaaaa");

describe("ProducerDedupRegistry", () => {
  it("rebuilds the table from the log once per term, and not for a follower", async () => {
    const broker = new StandInBroker();
    broker.batches.push({ index: 5, producerId: producerA, firstSequence: 0, count: 3 });
    const registry = new ProducerDedupRegistry(broker);
    const first = await registry.tableFor(GROUP_ID);
    expect(first?.term).toBe(1);
    expect(first?.table.check(producerA.toString("latin1"), 0, 3)).toEqual({
      kind: "duplicate",
      index: 5,
      firstOffset: 0,
      covered: 3,
    });
    expect((await registry.tableFor(GROUP_ID))?.table).toBe(first?.table);
    expect(broker.barriers).toBe(1);

    broker.term = 2;
    broker.batches.push({ index: 9, producerId: producerA, firstSequence: 3, count: 1 });
    const second = await registry.tableFor(GROUP_ID);
    expect(second?.term).toBe(2);
    expect(second?.table.nextSequence(producerA.toString("latin1"))).toBe(4);
    expect(broker.barriers).toBe(2);

    broker.role = "follower";
    expect(await registry.tableFor(GROUP_ID)).toBeUndefined();
  });

  it("answers ProducerStateLoadingError, retriable, when the barrier fails, and rebuilds on the next call", async () => {
    const broker = new StandInBroker();
    broker.barrierError = new Error("no quorum");
    const registry = new ProducerDedupRegistry(broker);
    const failure = await registry.tableFor(GROUP_ID).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProducerStateLoadingError);
    expect((failure as ProducerStateLoadingError).retriable).toBe(true);
    broker.barrierError = undefined;
    expect((await registry.tableFor(GROUP_ID))?.term).toBe(1);
  });

  it("invalidate drops the table and wakes its waiters; the next call rebuilds", async () => {
    const broker = new StandInBroker();
    const registry = new ProducerDedupRegistry(broker);
    const found = await registry.tableFor(GROUP_ID);
    if (found === undefined) throw new Error("expected a table");
    found.table.begin("p", 0, 1);
    const waiter = found.table.check("p", 0, 1);
    registry.invalidate(GROUP_ID);
    if (waiter.kind !== "in-flight") throw new Error(`expected in-flight, got ${waiter.kind}`);
    await waiter.settled;
    const again = await registry.tableFor(GROUP_ID);
    expect(again?.table).not.toBe(found.table);
    expect(broker.barriers).toBe(2);
  });

  it("waitApplied resolves true once the index is applied in the term, false when the term moves on", async () => {
    const broker = new StandInBroker();
    const registry = new ProducerDedupRegistry(broker);
    const applied = registry.waitApplied(GROUP_ID, 3, 1, 60_000);
    broker.apply(2);
    broker.apply(3);
    expect(await applied).toBe(true);
    const moved = registry.waitApplied(GROUP_ID, 10, 1, 60_000);
    broker.term = 2;
    broker.apply(4);
    expect(await moved).toBe(false);
  });
});
