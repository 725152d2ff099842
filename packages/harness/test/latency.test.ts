// Proves that LatencyRecorder's percentiles are the nearest-rank samples of a simple sorted copy,
// whatever the order and number of samples.
import { describe, expect, it } from "vitest";
import { LatencyRecorder } from "../src/latency.js";

function nearestRank(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

describe("LatencyRecorder", () => {
  it("is empty at first", () => {
    const recorder = new LatencyRecorder();
    expect(recorder.count).toBe(0);
    expect(recorder.summary().p50).toBeNaN();
  });

  it("matches a sorted copy at every quantile, across growth and unsorted input", () => {
    const recorder = new LatencyRecorder();
    const values: number[] = [];
    let seed = 7;
    for (let i = 0; i < 5_000; i += 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const value = (seed % 100_000) / 100;
      values.push(value);
      recorder.record(value);
      if (i % 997 === 0) expect(recorder.quantile(0.5)).toBe(nearestRank(values, 0.5));
    }
    for (const q of [0, 0.001, 0.5, 0.9, 0.99, 0.999, 1]) {
      expect(recorder.quantile(q)).toBe(nearestRank(values, q));
    }
    const summary = recorder.summary();
    expect(summary.count).toBe(5_000);
    expect(summary.max).toBe(Math.max(...values));
    expect(summary.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
  });
});
