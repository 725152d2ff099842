// Proves the fault campaign's checker tells each violation apart on small hand-made histories:
// a lost acknowledged record, a phantom, a sequence number with two records, a key read out of
// acknowledgement order, a record a live reader saw that was taken back, diverging replicas —
// and that duplicates and unknown or failed outcomes are counted without failing the run.
import { describe, expect, it } from "vitest";
import { checkHistory, type FinalShardRead } from "../src/fault/checker.js";
import type { HistoryEvent } from "../src/fault/history.js";

const SHARD = "shardId-000000000000";

function seqNo(n: number): string {
  return `49${String(n).padStart(10, "0")}`;
}

/** Producer 0 sends records 0..n-1 (key = seq mod 2) in one call, all acknowledged at seqNo(seq). */
function ackedHistory(n: number): HistoryEvent[] {
  const records = Array.from({ length: n }, (_, seq) => ({ producer: 0, seq, key: seq % 2 }));
  return [
    { t: 0, type: "invoke", f: "put", process: 0, call: 0, node: 1, records },
    {
      t: 10,
      type: "ok",
      f: "put",
      process: 0,
      call: 0,
      results: records.map((r) => ({ seq: r.seq, shardId: SHARD, sequenceNumber: seqNo(r.seq) })),
    },
  ];
}

function read(entries: readonly [number, string][]): FinalShardRead[] {
  return [
    {
      shardId: SHARD,
      records: entries.map(([n, text]) => ({ sequenceNumber: seqNo(n), data: Buffer.from(text, "latin1") })),
    },
  ];
}

describe("checkHistory", () => {
  it("passes a history whose every acknowledged record is read in order", () => {
    const result = checkHistory({
      events: ackedHistory(4),
      finalRead: read([
        [0, "0:0:0"],
        [1, "0:1:1"],
        [2, "0:2:0"],
        [3, "0:3:1"],
      ]),
      replicas: [
        {
          groupId: 1,
          upToIndex: 5,
          checksums: new Map([
            [1, "a"],
            [2, "a"],
            [3, "a"],
          ]),
        },
      ],
    });
    expect(result).toMatchObject({ ok: true, acknowledged: 4, lost: 0, reordered: 0, duplicated: 0 });
  });

  it("finds a lost record, a phantom, a conflict and a reorder", () => {
    const result = checkHistory({
      events: ackedHistory(4),
      finalRead: read([
        [0, "0:2:0"],
        [2, "0:0:0"],
        [3, "9:9:9"],
        [3, "0:3:1"],
      ]),
      replicas: [],
    });
    expect(result.ok).toBe(false);
    // Record 1 is missing; 0 and 2 are not at their acknowledged sequence numbers either.
    expect(result.lost).toBe(3);
    expect(result.phantoms).toBe(1);
    expect(result.conflicts).toBe(1);
    // Key 0: record 2 read before record 0.
    expect(result.reordered).toBe(1);
  });

  it("counts duplicates and unknown outcomes that became visible without failing", () => {
    const events: HistoryEvent[] = [
      ...ackedHistory(1),
      {
        t: 20,
        type: "invoke",
        f: "put",
        process: 0,
        call: 1,
        node: 1,
        records: [{ producer: 0, seq: 1, key: 1 }],
      },
      { t: 30, type: "unknown", f: "put", process: 0, call: 1, error: "DEADLINE_EXCEEDED" },
    ];
    const result = checkHistory({
      events,
      finalRead: read([
        [0, "0:0:0"],
        [1, "0:1:1"],
        [2, "0:1:1"],
      ]),
      replicas: [],
    });
    expect(result).toMatchObject({ ok: true, unknown: 1, unknownVisible: 1, duplicated: 1 });
  });

  it("finds a record a live reader saw that is gone, and diverging replicas", () => {
    const events: HistoryEvent[] = [
      ...ackedHistory(1),
      {
        t: 15,
        type: "ok",
        f: "read",
        shardId: SHARD,
        records: [
          [seqNo(0), "0:0:0"],
          [seqNo(1), "0:7:1"],
        ],
      },
    ];
    const result = checkHistory({
      events,
      finalRead: read([[0, "0:0:0"]]),
      replicas: [
        {
          groupId: 7,
          upToIndex: 3,
          checksums: new Map([
            [1, "a"],
            [2, "b"],
          ]),
        },
      ],
    });
    expect(result).toMatchObject({ ok: false, takenBack: 1, divergentGroups: 1, lost: 0 });
  });

  it("measures the longest gap between acknowledgements of a shard during a fault", () => {
    const fault = { id: 1, kind: "kill", nodes: [1], detail: "SIGKILL random node" };
    const events: HistoryEvent[] = [
      { t: 0, type: "invoke", f: "put", process: 0, call: 0, node: 1, records: [] },
    ];
    const ackAt = (t: number, seq: number): HistoryEvent[] => [
      {
        t,
        type: "invoke",
        f: "put",
        process: 0,
        call: seq + 1,
        node: 1,
        records: [{ producer: 0, seq, key: 0 }],
      },
      {
        t,
        type: "ok",
        f: "put",
        process: 0,
        call: seq + 1,
        results: [{ seq, shardId: SHARD, sequenceNumber: seqNo(seq) }],
      },
    ];
    events.push(...ackAt(100, 0), { t: 200, type: "invoke", f: "fault", fault });
    events.push(...ackAt(1_700, 1), { t: 2_000, type: "ok", f: "fault", fault }, ...ackAt(2_100, 2));
    const result = checkHistory({
      events,
      finalRead: read([
        [0, "0:0:0"],
        [1, "0:1:0"],
        [2, "0:2:0"],
      ]),
      replicas: [],
    });
    expect(result.faults).toHaveLength(1);
    expect(result.faults[0]).toMatchObject({ maxUnavailableMs: 1_500, shardId: SHARD });
  });
});
