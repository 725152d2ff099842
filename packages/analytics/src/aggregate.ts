/**
 * Accumulators of the aggregates, one plain value per aggregate so a group's state is a small
 * array that a snapshot stores as JSON: COUNT → count; SUM → sum (null before the first
 * non-null); MIN/MAX → the extreme (numbers compare as numbers, else as strings); AVG → [sum,
 * count]; COUNT(DISTINCT) → the set of distinct values (exact up to
 * DISTINCT_VALUES_PER_GROUP_MAX per group; beyond, new values are not counted and the
 * overflow is reported). NULLs are ignored except by COUNT(*).
 */
import { DISTINCT_VALUES_PER_GROUP_MAX } from "./constants.js";
import { toNumber } from "./expression.js";
import type { AggregateKind } from "./plan.js";

export type Accumulator = number | null | string | [number, number] | Set<string>;
export type StoredAccumulator = number | null | string | [number, number] | string[];

export function initialAccumulator(kind: AggregateKind): Accumulator {
  switch (kind) {
    case "COUNT":
      return 0;
    case "AVG":
      return [0, 0];
    case "COUNT_DISTINCT":
      return new Set<string>();
    default:
      return null;
  }
}

/** Folds `value` (undefined for COUNT(*)) into `acc`; returns the new accumulator and whether a distinct set overflowed. */
export function accumulate(kind: AggregateKind, acc: Accumulator, value: unknown): Accumulator {
  if (kind === "COUNT") return value === null ? acc : (acc as number) + 1;
  if (value === null || value === undefined) return acc;
  switch (kind) {
    case "SUM": {
      const n = toNumber(value);
      if (n === null) return acc;
      return acc === null ? n : (acc as number) + n;
    }
    case "AVG": {
      const n = toNumber(value);
      if (n === null) return acc;
      const pair = acc as [number, number];
      pair[0] += n;
      pair[1] += 1;
      return pair;
    }
    case "MIN":
    case "MAX": {
      const v = comparable(value);
      if (acc === null) return v;
      const smaller = less(v, acc as number | string);
      return (kind === "MIN") === smaller ? v : acc;
    }
    case "COUNT_DISTINCT": {
      const set = acc as Set<string>;
      if (set.size < DISTINCT_VALUES_PER_GROUP_MAX) set.add(distinctKey(value));
      return set;
    }
  }
}

/** The result of an accumulator in an output row. */
export function result(kind: AggregateKind, acc: Accumulator): unknown {
  switch (kind) {
    case "AVG": {
      const [sum, count] = acc as [number, number];
      return count === 0 ? null : sum / count;
    }
    case "COUNT_DISTINCT":
      return (acc as Set<string>).size;
    default:
      return acc;
  }
}

export function storeAccumulator(kind: AggregateKind, acc: Accumulator): StoredAccumulator {
  if (kind === "COUNT_DISTINCT") return [...(acc as Set<string>)];
  return acc as StoredAccumulator;
}

export function loadAccumulator(kind: AggregateKind, stored: StoredAccumulator): Accumulator {
  if (kind === "COUNT_DISTINCT") return new Set(stored as string[]);
  if (kind === "AVG") return [...(stored as [number, number])] as [number, number];
  return stored as Accumulator;
}

function comparable(value: unknown): number | string {
  if (typeof value === "number") return value;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function less(a: number | string, b: number | string): boolean {
  if (typeof a === "number" && typeof b === "number") return a < b;
  return String(a) < String(b);
}

function distinctKey(value: unknown): string {
  return typeof value === "string" ? `s${value}` : `j${JSON.stringify(value)}`;
}
