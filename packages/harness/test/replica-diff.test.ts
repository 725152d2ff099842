// Proves that replicaVerdict tells a real divergence from a comparison artefact on hand-made
// replica snapshots: a later first index over the same records is "starts-later" (what the
// checker once reported as divergent), a replica lacking records others hold is "short", and
// different records at one place are "diverged".
import { describe, expect, it } from "vitest";
import { type ReplicaSnapshot, replicaVerdict } from "../src/fault/replica-diff.js";

function replica(nodeId: number, overrides: Partial<ReplicaSnapshot> = {}): ReplicaSnapshot {
  return {
    nodeId,
    firstIndex: 1,
    commitIndex: 40,
    logChecksum: "log-a",
    commonRecordsChecksum: "records-a",
    recordsBeforeLatestFirst: 0,
    beforeLatestFirstChecksum: "",
    records: 100,
    ...overrides,
  };
}

describe("replicaVerdict", () => {
  it("same first index and LogChecksum: identical", () => {
    expect(replicaVerdict([replica(1), replica(2), replica(3)])).toBe("identical");
  });

  it("same first index, different LogChecksum: diverged", () => {
    expect(replicaVerdict([replica(1), replica(2, { logChecksum: "log-b" }), replica(3)])).toBe("diverged");
  });

  it("a later first index over the same records (a no-op missing): starts-later", () => {
    const later = { firstIndex: 2, logChecksum: "log-b" };
    expect(replicaVerdict([replica(1, later), replica(2), replica(3, later)])).toBe("starts-later");
  });

  it("records held before another replica's first index: short", () => {
    const holds = { recordsBeforeLatestFirst: 5, beforeLatestFirstChecksum: "prefix-a" };
    expect(
      replicaVerdict([
        replica(1, holds),
        replica(2, { firstIndex: 9, logChecksum: "log-b" }),
        replica(3, holds),
      ]),
    ).toBe("short");
  });

  it("different records where all replicas have entries, or before the latest first index: diverged", () => {
    expect(replicaVerdict([replica(1), replica(2, { commonRecordsChecksum: "records-b" }), replica(3)])).toBe(
      "diverged",
    );
    const later = replica(2, { firstIndex: 9 });
    expect(
      replicaVerdict([
        replica(1, { recordsBeforeLatestFirst: 5, beforeLatestFirstChecksum: "prefix-a" }),
        later,
        replica(3, { recordsBeforeLatestFirst: 5, beforeLatestFirstChecksum: "prefix-b" }),
      ]),
    ).toBe("diverged");
  });
});
