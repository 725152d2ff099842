/**
 * Window assignment: the start times (ms) of the windows a time falls into. TUMBLE: the one
 * window [floor(t / size) * size, + size). HOP: every window of `size` starting at a multiple of
 * `slide` that holds t — size / slide of them. A window [start, start + size) closes once the
 * watermark reaches start + size.
 */
import type { WindowSpec } from "./plan.js";

/** Calls `visit` with the start of each window holding `timeMs`, oldest first. */
export function forEachWindow(spec: WindowSpec, timeMs: number, visit: (startMs: number) => void): void {
  const last = Math.floor(timeMs / spec.slideMs) * spec.slideMs;
  if (spec.slideMs === spec.sizeMs) {
    visit(last);
    return;
  }
  let first = last - spec.sizeMs + spec.slideMs;
  for (; first <= last; first += spec.slideMs) visit(first);
}

/** The end (exclusive) of the newest window holding `timeMs`: a record is late once the watermark passed it. */
export function lastWindowEndMs(spec: WindowSpec, timeMs: number): number {
  return Math.floor(timeMs / spec.slideMs) * spec.slideMs + spec.sizeMs;
}

/** A record's time from a field value: ms since the epoch (a number or numeric string) or an ISO-8601 string; NaN when neither. */
export function timeOf(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === "string") {
    const n = Number(value);
    if (value.trim() !== "" && Number.isFinite(n)) return n;
    return Date.parse(value);
  }
  return Number.NaN;
}
