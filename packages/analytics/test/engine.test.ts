// Proves that TUMBLE and HOP windows with every aggregate give, on seeded inputs full of
// out-of-order and late records around window edges, exactly what a brute-force reference
// computes from the same recorded input — also when the state is saved and loaded midway.

import { describe, expect, it } from "vitest";
import { type OutputRow, planQuery, QueryEngine, type Row } from "../src/index.js";

const WINDOW_MS = 60_000;

interface Input {
  readonly customer: string;
  readonly amount: number | null;
  readonly item: string;
  readonly ts: number;
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Records whose times cluster around window edges, shuffled locally (out of order), with some far behind (late). */
function recordedInput(seed: number, count: number): Input[] {
  const next = random(seed);
  const out: Input[] = [];
  let clock = 1_700_000_000_000 - (1_700_000_000_000 % WINDOW_MS);
  for (let i = 0; i < count; i++) {
    clock += Math.floor(next() * 1_500);
    let ts = clock;
    const r = next();
    if (r < 0.2)
      ts = Math.round(clock / WINDOW_MS) * WINDOW_MS + Math.floor(next() * 200) - 100; // on an edge
    else if (r < 0.3) ts = clock - Math.floor(next() * 40_000); // behind: out of order or late
    out.push({
      customer: `c${Math.floor(next() * 5)}`,
      amount: next() < 0.1 ? null : Math.floor(next() * 1_000) / 10,
      item: `i${Math.floor(next() * 7)}`,
      ts,
    });
  }
  return out;
}

function rowFor(input: Input, index: number): Row {
  const data = Buffer.from(JSON.stringify(input));
  return {
    fields: JSON.parse(data.toString()) as Record<string, unknown>,
    partitionKey: input.customer,
    sequenceNumber: String(1_000 + index),
    arrivalMs: input.ts,
    data,
  };
}

/** Runs the engine record by record, advancing the watermark after each (max time seen − lateness); saves and loads at `saveAt`. */
function runEngine(
  sql: string,
  inputs: readonly Input[],
  latenessMs: number,
  saveAt = -1,
): Map<string, Record<string, unknown>> {
  const plan = planQuery(sql);
  let engine = new QueryEngine(plan);
  let max = Number.NEGATIVE_INFINITY;
  const rows: OutputRow[] = [];
  for (const [i, input] of inputs.entries()) {
    if (i === saveAt) engine = QueryEngine.load(plan, JSON.parse(JSON.stringify(engine.save())));
    const t = engine.add(rowFor(input, i));
    if (!Number.isNaN(t)) max = Math.max(max, t);
    engine.advance(max - latenessMs);
    rows.push(...engine.takeOutput());
  }
  engine.advance(Number.POSITIVE_INFINITY);
  rows.push(...engine.takeOutput());
  const out = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    const value = JSON.parse(row.data.toString()) as Record<string, unknown>;
    const key = `${String(value.window_start)}|${String(value.customer ?? "")}`;
    expect(out.has(key), `window ${key} emitted once`).toBe(false);
    out.set(key, value);
  }
  return out;
}

/**
 * The reference: a record counts in window w when its time is in w and w has not closed before
 * it arrived — w's end is above (max time of the records before it) − lateness. Aggregates by
 * brute force over the records that count.
 */
function reference(
  inputs: readonly Input[],
  sizeMs: number,
  slideMs: number,
  latenessMs: number,
  filter: (input: Input) => boolean,
): Map<string, Record<string, unknown>> {
  const members = new Map<string, { start: number; customer: string; records: Input[] }>();
  let max = Number.NEGATIVE_INFINITY;
  for (const input of inputs) {
    const watermark = max - latenessMs;
    if (filter(input)) {
      for (
        let start = Math.floor(input.ts / slideMs) * slideMs;
        start > input.ts - sizeMs;
        start -= slideMs
      ) {
        if (start + sizeMs <= watermark) continue;
        const key = `${new Date(start).toISOString()}|${input.customer}`;
        const entry = members.get(key) ?? { start, customer: input.customer, records: [] };
        entry.records.push(input);
        members.set(key, entry);
      }
    }
    // The watermark follows the records that pass the filter (the others may lack the time).
    if (filter(input)) max = Math.max(max, input.ts);
  }
  const out = new Map<string, Record<string, unknown>>();
  for (const [key, { start, customer, records }] of members) {
    const amounts = records.map((r) => r.amount).filter((a): a is number => a !== null);
    out.set(key, {
      window_start: new Date(start).toISOString(),
      window_end: new Date(start + sizeMs).toISOString(),
      customer,
      n: records.length,
      total: amounts.length === 0 ? null : amounts.reduce((a, b) => a + b, 0),
      low: amounts.length === 0 ? null : Math.min(...amounts),
      high: amounts.length === 0 ? null : Math.max(...amounts),
      mean: amounts.length === 0 ? null : amounts.reduce((a, b) => a + b, 0) / amounts.length,
      items: new Set(records.map((r) => r.item)).size,
      counted: amounts.length,
    });
  }
  return out;
}

function expectSame(
  actual: Map<string, Record<string, unknown>>,
  expected: Map<string, Record<string, unknown>>,
): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, want] of expected) {
    const got = actual.get(key) as Record<string, unknown>;
    for (const [field, value] of Object.entries(want)) {
      if (typeof value === "number" && !Number.isInteger(value))
        expect(got[field], `${key} ${field}`).toBeCloseTo(value, 6);
      else expect(got[field], `${key} ${field}`).toEqual(value);
    }
  }
}

const AGGREGATES =
  "customer, COUNT(*) AS n, SUM(amount) AS total, MIN(amount) AS low, MAX(amount) AS high, AVG(amount) AS mean, COUNT(DISTINCT item) AS items, COUNT(amount) AS counted";

describe("windows against the reference", () => {
  for (const seed of [1, 2, 3]) {
    for (const latenessMs of [0, 15_000]) {
      it(`TUMBLE on event time, seed ${seed}, lateness ${latenessMs} ms`, () => {
        const inputs = recordedInput(seed, 2_000);
        const sql = `SELECT ${AGGREGATES} FROM orders GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), customer`;
        const expected = reference(inputs, WINDOW_MS, WINDOW_MS, latenessMs, () => true);
        expectSame(runEngine(sql, inputs, latenessMs), expected);
        expectSame(runEngine(sql, inputs, latenessMs, 977), expected);
      });
      it(`HOP on event time, seed ${seed}, lateness ${latenessMs} ms`, () => {
        const inputs = recordedInput(seed + 100, 1_500);
        const sql = `SELECT ${AGGREGATES} FROM orders WHERE item <> 'i6' GROUP BY HOP(ts, INTERVAL '20' SECOND, INTERVAL '1' MINUTE), customer`;
        const expected = reference(inputs, WINDOW_MS, 20_000, latenessMs, (input) => input.item !== "i6");
        expectSame(runEngine(sql, inputs, latenessMs), expected);
        expectSame(runEngine(sql, inputs, latenessMs, 611), expected);
      });
    }
  }

  it("counts late records it drops", () => {
    const inputs: Input[] = [
      { customer: "a", amount: 1, item: "x", ts: 120_000 },
      { customer: "a", amount: 1, item: "x", ts: 59_999 }, // its window [0, 60000) closed at 120000
      { customer: "a", amount: 1, item: "x", ts: 60_000 }, // the edge: the window [60000, 120000) also closed
      { customer: "a", amount: 1, item: "x", ts: 120_001 },
    ];
    const plan = planQuery(
      "SELECT customer, COUNT(*) AS n FROM s GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), customer",
    );
    const engine = new QueryEngine(plan);
    for (const [i, input] of inputs.entries()) {
      engine.add(rowFor(input, i));
      engine.advance(120_000);
    }
    expect(engine.counters.lateRecordsDropped).toBe(2);
    engine.advance(Number.POSITIVE_INFINITY);
    const rows = engine.takeOutput().map((row) => JSON.parse(row.data.toString()));
    expect(rows).toEqual([
      {
        window_start: new Date(120_000).toISOString(),
        window_end: new Date(180_000).toISOString(),
        customer: "a",
        n: 2,
      },
    ]);
  });

  it("uses the arrival time for TUMBLE(approximate_arrival_time, …) and ROWTIME", () => {
    for (const column of ["approximate_arrival_time", "ROWTIME"]) {
      const plan = planQuery(`SELECT COUNT(*) AS n FROM s GROUP BY TUMBLE(${column}, INTERVAL '10' SECOND)`);
      expect(plan.kind === "window" && plan.window.time).toBe("arrival");
      const engine = new QueryEngine(plan);
      for (const [i, ts] of [1_000, 9_999, 10_000].entries())
        engine.add(rowFor({ customer: "a", amount: 1, item: "x", ts }, i));
      engine.advance(Number.POSITIVE_INFINITY);
      expect(engine.takeOutput().map((row) => JSON.parse(row.data.toString()).n)).toEqual([2, 1]);
    }
  });
});

describe("filters and projections", () => {
  it("filters and projects each record, with the built-in columns", () => {
    const plan = planQuery(
      "SELECT customer, amount * 2 AS twice, UPPER(item) AS item, partition_key, meta.zone FROM s WHERE amount >= 10 AND item IN ('a', 'b') AND customer LIKE 'u%'",
    );
    const engine = new QueryEngine(plan);
    const inputs = [
      { customer: "u1", amount: 10, item: "a", meta: { zone: "z1" } },
      { customer: "u2", amount: 9, item: "a" },
      { customer: "x3", amount: 50, item: "b" },
      { customer: "u4", amount: 50, item: "c" },
    ];
    for (const [i, input] of inputs.entries()) {
      const data = Buffer.from(JSON.stringify(input));
      engine.add({ fields: input, partitionKey: `pk${i}`, sequenceNumber: String(i), arrivalMs: 0, data });
    }
    expect(engine.takeOutput().map((row) => [row.partitionKey, JSON.parse(row.data.toString())])).toEqual([
      ["pk0", { customer: "u1", twice: 20, item: "A", partition_key: "pk0", "meta.zone": "z1" }],
    ]);
    expect(engine.counters.recordsFiltered).toBe(3);
  });
});
