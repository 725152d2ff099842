/**
 * The query engine: a pure, synchronous function of the records it is given, in order, and the
 * watermarks it is told. `add(row)` filters a record and, for a projection, produces its output
 * row; for a window query it folds the record into every open window that holds its time.
 * `advance(watermarkMs)` closes (emits and forgets) every window whose end is at or before the
 * watermark. A record whose newest window is already closed is late: dropped and counted.
 *
 * The state (`save()` / `QueryEngine.load`) is plain JSON, stored with the input positions in a
 * snapshot; an engine loaded from a snapshot and given the same records behaves the same.
 */
import {
  type Accumulator,
  accumulate,
  initialAccumulator,
  loadAccumulator,
  result,
  type StoredAccumulator,
  storeAccumulator,
} from "./aggregate.js";
import { OPEN_GROUPS_MAX } from "./constants.js";
import { truthy } from "./expression.js";
import type { AggregateSpec, QueryPlan, WindowPlan } from "./plan.js";
import type { Row } from "./row.js";
import { forEachWindow, lastWindowEndMs, timeOf } from "./window.js";

/** An output record: its partition key and JSON data. */
export interface OutputRow {
  readonly partitionKey: string;
  readonly data: Buffer;
}

export interface EngineCounters {
  recordsIn: number;
  recordsFiltered: number;
  /** Late records dropped: every window that would hold them had closed. */
  lateRecordsDropped: number;
  /** Records whose event-time field is missing or not a time. */
  invalidTimeRecords: number;
  /** Records dropped because OPEN_GROUPS_MAX groups were open. */
  overflowRecordsDropped: number;
  windowsEmitted: number;
  rowsEmitted: number;
}

interface Group {
  readonly keys: unknown[];
  readonly accumulators: Accumulator[];
}

export interface EngineState {
  /** Every window ending at or before this has been emitted (−Infinity stored as null). */
  readonly closedThroughMs: number | null;
  readonly windows: [
    startMs: number,
    groups: [key: string, keys: unknown[], accumulators: StoredAccumulator[]][],
  ][];
  readonly counters: EngineCounters;
}

const PARTITION_KEY_LENGTH_MAX = 256;

export class QueryEngine {
  readonly plan: QueryPlan;
  readonly counters: EngineCounters = {
    recordsIn: 0,
    recordsFiltered: 0,
    lateRecordsDropped: 0,
    invalidTimeRecords: 0,
    overflowRecordsDropped: 0,
    windowsEmitted: 0,
    rowsEmitted: 0,
  };
  private closedThroughMs = Number.NEGATIVE_INFINITY;
  /** Open windows by start time; each holds its groups by key string. */
  private readonly windows = new Map<number, Map<string, Group>>();
  private openGroups = 0;
  private output: OutputRow[] = [];

  constructor(plan: QueryPlan) {
    this.plan = plan;
  }

  static load(plan: QueryPlan, state: EngineState): QueryEngine {
    const engine = new QueryEngine(plan);
    engine.closedThroughMs = state.closedThroughMs ?? Number.NEGATIVE_INFINITY;
    Object.assign(engine.counters, state.counters);
    if (plan.kind === "window") {
      for (const [startMs, groups] of state.windows) {
        const map = new Map<string, Group>();
        for (const [key, keys, stored] of groups) {
          map.set(key, {
            keys,
            accumulators: stored.map((acc, i) =>
              loadAccumulator((plan.aggregates[i] as AggregateSpec).kind, acc),
            ),
          });
        }
        engine.windows.set(startMs, map);
        engine.openGroups += map.size;
      }
    }
    return engine;
  }

  save(): EngineState {
    const plan = this.plan;
    const windows: EngineState["windows"] = [];
    if (plan.kind === "window") {
      for (const [startMs, groups] of this.windows) {
        windows.push([
          startMs,
          [...groups].map(([key, group]) => [
            key,
            group.keys,
            group.accumulators.map((acc, i) =>
              storeAccumulator((plan.aggregates[i] as AggregateSpec).kind, acc),
            ),
          ]),
        ]);
      }
    }
    return {
      closedThroughMs: Number.isFinite(this.closedThroughMs) ? this.closedThroughMs : null,
      windows,
      counters: { ...this.counters },
    };
  }

  /** Every window ending at or before this was emitted. */
  get watermarkMs(): number {
    return this.closedThroughMs;
  }

  /** Windows open now. */
  get openWindows(): number {
    return this.windows.size;
  }

  /**
   * Processes one record. Returns the record's time for the watermark (its arrival time, or its
   * event time for an event-time window), or NaN when it had no valid time.
   */
  add(row: Row): number {
    this.counters.recordsIn += 1;
    const plan = this.plan;
    if (plan.where !== null && !truthy(plan.where(row))) {
      this.counters.recordsFiltered += 1;
      return plan.kind === "window" && plan.window.time === "event" ? Number.NaN : row.arrivalMs;
    }
    if (plan.kind === "projection") {
      this.project(row);
      return row.arrivalMs;
    }
    return this.fold(plan, row);
  }

  private project(row: Row): void {
    const plan = this.plan;
    if (plan.kind !== "projection") return;
    let data: Buffer;
    if (plan.columns === null) data = row.data;
    else {
      const out: Record<string, unknown> = {};
      for (const column of plan.columns) out[column.name] = column.value(row);
      data = Buffer.from(JSON.stringify(out));
    }
    this.output.push({ partitionKey: row.partitionKey, data });
    this.counters.rowsEmitted += 1;
  }

  private fold(plan: WindowPlan, row: Row): number {
    const spec = plan.window;
    let timeMs: number;
    if (spec.time === "arrival") timeMs = row.arrivalMs;
    else {
      const [first, second] = spec.timeColumn as [string, string | undefined];
      let value = row.fields[first];
      if (second !== undefined)
        value =
          value !== null && typeof value === "object"
            ? (value as Record<string, unknown>)[second]
            : undefined;
      timeMs = timeOf(value);
      if (Number.isNaN(timeMs)) {
        this.counters.invalidTimeRecords += 1;
        return Number.NaN;
      }
    }
    if (lastWindowEndMs(spec, timeMs) <= this.closedThroughMs) {
      this.counters.lateRecordsDropped += 1;
      return timeMs;
    }
    const keys = plan.keys.length === 0 ? [] : plan.keys.map((key) => key.value(row));
    const keyString = keys.length === 1 ? keyOf(keys[0]) : JSON.stringify(keys);
    const aggregates = plan.aggregates;
    const closedThroughMs = this.closedThroughMs;
    forEachWindow(spec, timeMs, (startMs) => {
      if (startMs + spec.sizeMs <= closedThroughMs) return;
      let groups = this.windows.get(startMs);
      if (groups === undefined) {
        groups = new Map();
        this.windows.set(startMs, groups);
      }
      let group = groups.get(keyString);
      if (group === undefined) {
        if (this.openGroups >= OPEN_GROUPS_MAX) {
          this.counters.overflowRecordsDropped += 1;
          return;
        }
        group = { keys, accumulators: aggregates.map((a) => initialAccumulator(a.kind)) };
        groups.set(keyString, group);
        this.openGroups += 1;
      }
      const accumulators = group.accumulators;
      for (let i = 0; i < aggregates.length; i++) {
        const aggregate = aggregates[i] as (typeof aggregates)[number];
        const value = aggregate.argument === null ? undefined : aggregate.argument(row);
        accumulators[i] = accumulate(aggregate.kind, accumulators[i] as Accumulator, value);
      }
    });
    return timeMs;
  }

  /**
   * Closes every window that ends at or before `watermarkMs` (oldest first), turning each group
   * into an output row. A watermark lower than the current one changes nothing.
   */
  advance(watermarkMs: number): void {
    if (!(watermarkMs > this.closedThroughMs)) return;
    this.closedThroughMs = watermarkMs;
    const plan = this.plan;
    if (plan.kind !== "window") return;
    const closing = [...this.windows.keys()].filter((startMs) => startMs + plan.window.sizeMs <= watermarkMs);
    closing.sort((a, b) => a - b);
    for (const startMs of closing) {
      const groups = this.windows.get(startMs) as Map<string, Group>;
      this.windows.delete(startMs);
      this.openGroups -= groups.size;
      const windowStart = new Date(startMs).toISOString();
      const windowEnd = new Date(startMs + plan.window.sizeMs).toISOString();
      for (const group of groups.values()) {
        const out: Record<string, unknown> = { window_start: windowStart, window_end: windowEnd };
        for (const column of plan.output) {
          if (column.kind === "key") out[column.name] = group.keys[column.index] ?? null;
          else {
            const aggregate = plan.aggregates[column.index] as (typeof plan.aggregates)[number];
            out[column.name] = result(aggregate.kind, group.accumulators[column.index] as Accumulator);
          }
        }
        this.output.push({
          partitionKey: partitionKeyOf(group.keys),
          data: Buffer.from(JSON.stringify(out)),
        });
        this.counters.rowsEmitted += 1;
      }
      this.counters.windowsEmitted += 1;
    }
  }

  /** The output rows produced since the last call, in order. */
  takeOutput(): OutputRow[] {
    const out = this.output;
    this.output = [];
    return out;
  }

  /** Output rows waiting to be taken. */
  get pendingOutput(): number {
    return this.output.length;
  }
}

function keyOf(value: unknown): string {
  return typeof value === "string" ? `s${value}` : `j${JSON.stringify(value ?? null)}`;
}

function partitionKeyOf(keys: readonly unknown[]): string {
  if (keys.length === 0) return "window";
  const text = keys.map((k) => (typeof k === "string" ? k : JSON.stringify(k ?? null))).join("|");
  if (text === "") return "empty";
  return text.length > PARTITION_KEY_LENGTH_MAX ? text.slice(0, PARTITION_KEY_LENGTH_MAX) : text;
}
