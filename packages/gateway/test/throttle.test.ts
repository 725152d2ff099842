// Proves the per-shard token buckets admit a write's longest fitting prefix, refill over the caller's time up to one second, let reads go into byte debt, and that the registry stays bounded.
import { describe, expect, it } from "vitest";
import { ShardThrottle, ThrottleRegistry, UNLIMITED_THROTTLE_LIMITS } from "../src/index.js";

const MIB = 1024 * 1024;

describe("ShardThrottle", () => {
  it("admits 1,000 records per second, then the prefix that fits as tokens come back", () => {
    const throttle = new ShardThrottle(undefined, 0);
    expect(throttle.tryWrite(600, () => 10, 0)).toBe(600);
    expect(throttle.tryWrite(600, () => 10, 0)).toBe(400);
    expect(throttle.tryWrite(10, () => 10, 0)).toBe(0);
    expect(throttle.tryWrite(1_000, () => 10, 500)).toBe(500); // half a second refills half
    expect(throttle.tryWrite(5_000, () => 10, 60_000)).toBe(1_000); // never more than one second's worth
  });

  it("limits bytes to 1 MiB per second and admits one oversized record from a full bucket", () => {
    const throttle = new ShardThrottle(undefined, 0);
    expect(throttle.tryWrite(3, [MIB / 2, MIB / 2, 1], 0)).toBe(2);
    const small = new ShardThrottle(
      { writeBytesPerSecond: 100, writeRecordsPerSecond: 1000, readBytesPerSecond: 1, readCallsPerSecond: 1 },
      0,
    );
    expect(small.tryWrite(2, [500, 1], 0)).toBe(1); // full bucket admits the big record, into debt
    expect(small.tryWrite(1, [1], 1_000)).toBe(0); // still paying it off
    expect(small.tryWrite(1, [1], 5_000)).toBe(1);
  });

  it("allows 5 reads per second and makes a large read wait while its bytes are in debt", () => {
    const throttle = new ShardThrottle(undefined, 0);
    for (let i = 0; i < 5; i++) expect(throttle.tryRead(0)).toBe(true);
    expect(throttle.tryRead(0)).toBe(false);
    expect(throttle.tryRead(200)).toBe(true);
    throttle.chargeRead(10 * MIB, 200);
    expect(throttle.tryRead(2_000)).toBe(false); // 8 MiB of debt at 2 MiB/s
    expect(throttle.tryRead(4_300)).toBe(true);
  });

  it("throttles nothing with unlimited limits and ignores a clock stepping back", () => {
    const throttle = new ShardThrottle(UNLIMITED_THROTTLE_LIMITS, 0);
    expect(throttle.tryWrite(100_000, () => MIB, 0)).toBe(100_000);
    const limited = new ShardThrottle(undefined, 1_000);
    expect(limited.tryWrite(1_000, () => 1, 1_000)).toBe(1_000);
    expect(limited.tryWrite(1, () => 1, 0)).toBe(0);
  });

  it("refuses invalid limits", () => {
    expect(
      () =>
        new ShardThrottle({
          writeBytesPerSecond: 0,
          writeRecordsPerSecond: 1,
          readBytesPerSecond: 1,
          readCallsPerSecond: 1,
        }),
    ).toThrow(RangeError);
  });
});

describe("ThrottleRegistry", () => {
  it("keeps one throttle per group and stays within its bound", () => {
    const registry = new ThrottleRegistry({ shardsMax: 3 });
    const first = registry.get(1, 0);
    expect(registry.get(1, 0)).toBe(first);
    for (let group = 2; group <= 10; group++) registry.get(group, 0);
    expect(registry.size).toBe(3);
    registry.get(11, 0).tryWrite(1, [1], 0);
    expect(registry.sweep(0)).toBe(2);
    expect(registry.size).toBe(1);
    expect(registry.sweep(10_000)).toBe(1);
  });
});
