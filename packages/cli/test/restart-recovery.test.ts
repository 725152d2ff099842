// Proves that a node killed with SIGKILL recovers its log from disk on restart and serves the
// same committed records, with the same checksum, as the replicas that stayed up. (The restart
// time of a 1 GiB log is measured by scripts/bench-broker, not asserted here.)
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 18300-18311.
const BATCHES = 300;
const RECORD_BYTES = 4_096;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: 18_300 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe("restart recovery", () => {
  it("a SIGKILLed node reads its log back and serves what it had", async () => {
    const groupId = 1;
    await cluster.ensureGroup(groupId);
    let lastIndex = 0;
    for (let batch = 0; batch < BATCHES; batch += 1) {
      const records = Array.from({ length: 4 }, (_, position) => ({
        partitionKey: `k-${position}`,
        data: Buffer.alloc(RECORD_BYTES, (batch * 4 + position) % 251),
      }));
      lastIndex = (await cluster.append(groupId, records)).index;
    }
    const victim = cluster.nodeIds.find((id) => id !== cluster.nodeIds[0]) ?? 2;
    await waitFor(async () => (await cluster.admin(victim).groupStatus(groupId)).appliedIndex >= lastIndex, {
      timeoutMs: 30_000,
      what: `node ${victim} to apply up to ${lastIndex}`,
    });
    const before = await cluster.admin(victim).readAll(groupId);
    await cluster.kill(victim, "SIGKILL");
    await cluster.restart(victim);
    const status = await cluster.admin(victim).groupStatus(groupId);
    expect(status.lastIndex).toBeGreaterThanOrEqual(lastIndex);
    await waitFor(async () => (await cluster.admin(victim).groupStatus(groupId)).commitIndex >= lastIndex, {
      timeoutMs: 30_000,
      what: `node ${victim} to learn the commit index ${lastIndex} again`,
    });
    const after = await cluster.admin(victim).readAll(groupId);
    expect(after.length).toBe(before.length);
    expect(
      after.every(
        (r, position) => r.index === before[position]?.index && r.data.equals(before[position].data),
      ),
    ).toBe(true);
    const checksums = await Promise.all(
      cluster.nodeIds.map(
        async (nodeId) => (await cluster.admin(nodeId).logChecksum(groupId, lastIndex)).checksum,
      ),
    );
    expect(new Set(checksums).size).toBe(1);
  }, 120_000);
});
