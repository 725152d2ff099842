// Proves the seal that closes a shard group for resharding: the seal batch codec; seal on the
// leader resolves with its index, is idempotent and refuses later appends (also on followers and
// on a new leader); appends racing the seal are acknowledged only below it; a follower answers
// NotLeaderError with a hint; reads stop at the seal; a restarted node (also one that trimmed
// the seal away) reports the same sealedIndex.
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../src/broker.js";
import { BrokerErrorCode, InvalidArgumentError, NotLeaderError, ShardSealedError } from "../src/errors.js";
import {
  decodeRecordBatch,
  decodeRecordBatchHeader,
  encodeRecordBatch,
  encodeSealBatch,
  RECORD_BATCH_FLAG_SEAL,
} from "../src/shard/record-batch.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUP = 9;
const PAGE = { maxRecords: 1_000, maxBytes: 1 << 20 };

function record(text: string) {
  return { partitionKey: "k", data: Buffer.from(text) };
}

/** Every record readable on `broker`, and where the last read stopped. */
function readAll(broker: Broker): { texts: string[]; nextIndex: number; sealedIndex: number } {
  const texts: string[] = [];
  let index = 0;
  let offset = 0;
  for (;;) {
    const page = broker.read(GROUP, index, PAGE, offset);
    for (const r of page.records) texts.push(r.data.toString());
    if (page.records.length === 0) return { texts, nextIndex: page.nextIndex, sealedIndex: page.sealedIndex };
    index = page.nextIndex;
    offset = page.nextOffset;
  }
}

async function allApplySeal(brokers: readonly Broker[], index: number): Promise<void> {
  for (const broker of brokers) {
    await waitFor(
      () => broker.groupStatus(GROUP).sealedIndex === index,
      `node ${broker.nodeId} applies the seal`,
    );
  }
}

describe("seal batch codec", () => {
  it("encodes the header alone with the seal flag; appendEncoded refuses it", async () => {
    const seal = encodeSealBatch(1_234);
    expect(seal.length).toBe(16);
    expect(decodeRecordBatchHeader(seal)).toEqual({
      version: 1,
      flags: RECORD_BATCH_FLAG_SEAL,
      keyVersion: 0,
      arrivalTimestampMs: 1_234,
      recordCount: 0,
    });
    expect(decodeRecordBatch(seal).records).toEqual([]);
    expect(() => decodeRecordBatchHeader(Buffer.concat([seal, Buffer.alloc(1)]))).toThrow(
      expect.objectContaining({ code: BrokerErrorCode.CorruptBatch }),
    );
    const sealWithCount = Buffer.from(seal);
    sealWithCount.writeUInt32LE(1, 4);
    expect(() => decodeRecordBatchHeader(sealWithCount)).toThrow(
      expect.objectContaining({ code: BrokerErrorCode.CorruptBatch }),
    );
    const unknownFlag = encodeRecordBatch([record("x")], 1);
    unknownFlag[1] = 0x02;
    expect(() => decodeRecordBatchHeader(unknownFlag)).toThrow(
      expect.objectContaining({ code: BrokerErrorCode.CorruptBatch }),
    );
    expect(() => encodeSealBatch(-1)).toThrow(RangeError);

    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    await expect(leader.appendEncoded(GROUP, encodeSealBatch(0))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(leader.groupStatus(GROUP).sealedIndex).toBe(0);
  });
});

describe("Broker.seal", () => {
  it("seals on the leader: idempotent, appends refused everywhere and after a leader change, reads stop", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const before: number[] = [];
    for (let i = 0; i < 5; i++) before.push((await leader.append(GROUP, [record(`r${i}`)])).index);

    const [first, second] = await Promise.all([leader.seal(GROUP), leader.seal(GROUP)]);
    expect(first.index).toBeGreaterThan(before.at(-1) as number);
    expect(second).toEqual(first);
    expect(await leader.seal(GROUP)).toEqual(first);
    expect(leader.groupStatus(GROUP).sealedIndex).toBe(first.index);
    await allApplySeal(cluster.running(), first.index);

    const refused = await leader.append(GROUP, [record("late")]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ShardSealedError);
    expect(refused).toMatchObject({ code: "SHARD_SEALED", retriable: true });
    expect((refused as Error).message).toContain("the stream's new shards take the writes");
    const encoded = encodeRecordBatch([record("late")], 0);
    await expect(leader.appendEncoded(GROUP, encoded)).rejects.toBeInstanceOf(ShardSealedError);

    for (const broker of cluster.running()) {
      // Followers refuse too (the seal is in their log), before saying they do not lead.
      await expect(broker.append(GROUP, [record("late")])).rejects.toBeInstanceOf(ShardSealedError);
      // Any replica that applied the seal answers with its index.
      expect(await broker.seal(GROUP)).toEqual(first);
      const read = readAll(broker);
      expect(read.texts).toEqual(["r0", "r1", "r2", "r3", "r4"]);
      expect(read.sealedIndex).toBe(first.index);
      expect(read.nextIndex).toBeGreaterThanOrEqual(first.index);
      // A read from the seal on returns nothing, ever.
      expect(broker.read(GROUP, first.index, PAGE).records).toEqual([]);
      // Timestamp lookup keeps working on a sealed group.
      expect(broker.indexAtTimestamp(GROUP, 0)).toBe(before[0]);
      expect(broker.indexAtTimestamp(GROUP, Number.MAX_SAFE_INTEGER)).toBe(
        broker.groupStatus(GROUP).appliedIndex + 1,
      );
    }

    const successor = cluster.running().find((b) => b !== leader) as Broker;
    leader.transferLeader(GROUP, successor.nodeId);
    await waitFor(() => successor.groupStatus(GROUP).role === "leader", "the successor leads");
    await expect(successor.append(GROUP, [record("after change")])).rejects.toBeInstanceOf(ShardSealedError);
    expect(await successor.seal(GROUP)).toEqual(first);
    expect(readAll(successor).texts).toEqual(["r0", "r1", "r2", "r3", "r4"]);
  });

  it("on a follower fails with NotLeaderError naming the leader; InvalidArgumentError on a state-machine group", async () => {
    cluster = await TestCluster.start({
      leaderBalance: false,
      stateMachineFor: (groupId) =>
        groupId === 0
          ? { apply: () => undefined, snapshot: () => new Uint8Array(0), restore: () => {} }
          : undefined,
    });
    await cluster.ensureGroups([GROUP, 0]);
    const leader = await cluster.waitForLeader(GROUP);
    const follower = cluster.running().find((b) => b !== leader) as Broker;
    await waitFor(
      () => follower.groupStatus(GROUP).leader === leader.nodeId,
      "the follower knows the leader",
    );
    const error = await follower.seal(GROUP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(error).toMatchObject({ leaderHint: leader.nodeId, retriable: true });
    expect(follower.groupStatus(GROUP).sealedIndex).toBe(0);
    await expect(leader.seal(0)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(leader.groupStatus(0).sealedIndex).toBe(0);
    // Nothing was sealed: appends go on.
    await leader.append(GROUP, [record("still open")]);
  });

  it("appends racing the seal: acknowledged only below the seal, refused from it on", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    const acknowledged: { text: string; index: number; afterSealResolved: boolean }[] = [];
    const refused: string[] = [];
    const unexpected: unknown[] = [];
    let sealResolved = false;
    let started = 0;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < 500; i++) {
        const text = `w${w}-${i}`;
        const issuedAfterSeal = sealResolved;
        started++;
        try {
          const result = await leader.append(GROUP, [record(text)]);
          acknowledged.push({ text, index: result.index, afterSealResolved: issuedAfterSeal });
        } catch (error) {
          if (error instanceof ShardSealedError) {
            refused.push(text);
            return;
          }
          unexpected.push(error);
          return;
        }
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    await waitFor(() => started >= 60, "writers under way");
    const seal = await leader.seal(GROUP);
    sealResolved = true;
    await Promise.all(writers);

    expect(unexpected).toEqual([]);
    expect(refused.length).toBe(6);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const ack of acknowledged) {
      expect(ack.index).toBeLessThan(seal.index);
      expect(ack.afterSealResolved).toBe(false);
    }
    // Every append issued after the seal resolved was refused, and after a refusal nothing is
    // acknowledged (each writer stopped at its first refusal).
    await allApplySeal(cluster.running(), seal.index);
    const expected = new Set(acknowledged.map((a) => a.text));
    for (const broker of cluster.running()) {
      const read = readAll(broker);
      expect(new Set(read.texts)).toEqual(expected);
      expect(read.texts.length).toBe(expected.size);
    }
    await expect(leader.append(GROUP, [record("late")])).rejects.toBeInstanceOf(ShardSealedError);
  });

  it("a restarted node reports the same sealedIndex, also after trimming the seal out of its log", async () => {
    cluster = await TestCluster.start({ leaderBalance: false });
    await cluster.ensureGroups([GROUP]);
    const leader = await cluster.waitForLeader(GROUP);
    for (let i = 0; i < 3; i++) await leader.append(GROUP, [record(`r${i}`)]);
    const seal = await leader.seal(GROUP);
    await allApplySeal(cluster.running(), seal.index);
    const [trimmer, other] = cluster.running().filter((b) => b !== leader) as [Broker, Broker];
    const trimTo = trimmer.groupStatus(GROUP).appliedIndex + 1;
    expect(await trimmer.trimLog(GROUP, trimTo)).toBe(trimTo);

    // Every node stops (no graceful hand-over) and comes back.
    for (const id of cluster.nodeIds) await cluster.kill(id);
    for (const id of cluster.nodeIds) await cluster.open(id);
    for (const broker of cluster.running()) {
      expect(broker.groupStatus(GROUP).sealedIndex).toBe(seal.index);
    }
    const reopenedTrimmer = cluster.broker(trimmer.nodeId);
    expect(reopenedTrimmer.groupStatus(GROUP).firstIndex).toBe(trimTo);
    expect(readAll(cluster.broker(other.nodeId)).texts).toEqual(["r0", "r1", "r2"]);
    const newLeader = await cluster.waitForLeader(GROUP);
    await expect(newLeader.append(GROUP, [record("late")])).rejects.toBeInstanceOf(ShardSealedError);
    await expect(reopenedTrimmer.append(GROUP, [record("late")])).rejects.toBeInstanceOf(ShardSealedError);
    expect(await newLeader.seal(GROUP)).toEqual(seal);
    expect(readAll(newLeader).texts).toEqual(newLeader === reopenedTrimmer ? [] : ["r0", "r1", "r2"]);
  });
});
