// Proves the checker describes each duplicated record (bounded to the first
// DUPLICATES_DETAILED_MAX): its outcome, every copy's shard, sequence number and log entry, when a
// live reader first saw the copy, and the nemesis events just before that; and the report prints it.
import { describe, expect, it } from "vitest";
import { checkHistory, DUPLICATES_DETAILED_MAX, type FinalShardRead } from "../src/fault/checker.js";
import type { HistoryEvent } from "../src/fault/history.js";
import { formatReport } from "../src/fault/report.js";

const PARENT = "shardId-000000000000";
const CHILD = "shardId-000000000002";

/** A sequence number in Sluice's format: "1", entry index (16 digits), offset (5), shard number (12). */
function sequenceNumber(index: number, offset: number, shardNumber: number): string {
  return `1${String(index).padStart(16, "0")}${String(offset).padStart(5, "0")}${String(shardNumber).padStart(12, "0")}`;
}

const reshard = { id: 7, kind: "reshard", nodes: [2], detail: "UpdateShardCount 1 → 2 through node 2" };
const kill = { id: 8, kind: "kill", nodes: [3], detail: "SIGKILL leader of group 1048577" };

describe("checkHistory duplicates", () => {
  it("says where both copies of a duplicated record are and which faults came just before", () => {
    const first = sequenceNumber(12, 0, 0);
    const second = sequenceNumber(3, 1, 2);
    const events: HistoryEvent[] = [
      {
        t: 100,
        type: "invoke",
        f: "put",
        process: 0,
        call: 0,
        node: 1,
        records: [{ producer: 0, seq: 0, key: 5 }],
      },
      { t: 150, type: "invoke", f: "fault", fault: kill },
      { t: 200, type: "ok", f: "read", shardId: PARENT, records: [[first, "0:0:5"]] },
      { t: 300, type: "invoke", f: "fault", fault: reshard },
      { t: 400, type: "ok", f: "fault", fault: reshard },
      { t: 500, type: "ok", f: "read", shardId: CHILD, records: [[second, "0:0:5"]] },
      {
        t: 600,
        type: "ok",
        f: "put",
        process: 0,
        call: 0,
        results: [{ seq: 0, shardId: CHILD, sequenceNumber: second }],
      },
    ];
    const finalRead: FinalShardRead[] = [
      { shardId: PARENT, records: [{ sequenceNumber: first, data: Buffer.from("0:0:5") }] },
      { shardId: CHILD, records: [{ sequenceNumber: second, data: Buffer.from("0:0:5") }] },
    ];
    const result = checkHistory({ events, finalRead, replicas: [], duplicatesAllowed: false });
    expect(result).toMatchObject({ ok: false, duplicated: 1, lost: 0 });
    expect(result.duplicates).toHaveLength(1);
    const [duplicate] = result.duplicates;
    expect(duplicate).toMatchObject({
      record: "0:0",
      key: 5,
      outcome: "ok",
      invokedMs: 100,
      settledMs: 600,
      settledAs: `${CHILD}@${second}`,
    });
    expect(duplicate?.copies.map((copy) => [copy.shardId, copy.entry, copy.firstReadMs])).toEqual([
      [PARENT, "12/0", 200],
      [CHILD, "3/1", 500],
    ]);
    expect(duplicate?.copies[0]?.faultsBefore).toEqual([expect.stringMatching(/^t=150 kill #8 started/)]);
    expect(duplicate?.copies[1]?.faultsBefore).toEqual([
      expect.stringMatching(/^t=150 kill #8 started/),
      expect.stringMatching(/^t=300 reshard #7 started/),
      expect.stringMatching(/^t=400 reshard #7 healed/),
    ]);

    const report = formatReport({
      seed: 1,
      durationMs: 1_000,
      command: "x",
      check: result,
      faultErrors: new Map(),
    });
    expect(report).toContain("Duplicates (the first 1 of 1):");
    expect(report).toContain(`copy at ${CHILD}@${second} (entry 3/1), first read t=500`);
  });

  it("describes at most DUPLICATES_DETAILED_MAX records and counts them all", () => {
    const records = Array.from({ length: DUPLICATES_DETAILED_MAX + 5 }, (_, seq) => ({
      producer: 1,
      seq,
      key: 0,
    }));
    const events: HistoryEvent[] = [
      { t: 0, type: "invoke", f: "put", process: 1, call: 0, node: 1, records },
    ];
    const copies = records.flatMap((record, at) => [
      { sequenceNumber: sequenceNumber(at + 1, 0, 0), data: Buffer.from(`1:${record.seq}:0`) },
      { sequenceNumber: sequenceNumber(at + 1, 1, 0), data: Buffer.from(`1:${record.seq}:0`) },
    ]);
    const result = checkHistory({ events, finalRead: [{ shardId: PARENT, records: copies }], replicas: [] });
    expect(result.duplicated).toBe(DUPLICATES_DETAILED_MAX + 5);
    expect(result.duplicates).toHaveLength(DUPLICATES_DETAILED_MAX);
    expect(result.duplicates[0]).toMatchObject({ outcome: "unknown", settledMs: undefined });
  });
});
