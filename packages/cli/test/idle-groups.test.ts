// Proves that three node processes host many groups (1,000 by default, SLUICE_TEST_IDLE_GROUPS
// to change it), each with three replicas: every group elects a leader, leaders are spread over
// the three nodes, idle groups quiesce, and one write to each group wakes them all. (CPU and
// memory of idle groups are measured by scripts/bench-broker, not asserted here.)
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 18200-18211.
const GROUPS = Number(process.env.SLUICE_TEST_IDLE_GROUPS ?? 1_000);
/** How many admin calls are in flight at once. */
const CONCURRENCY = 50;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: 18_200 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function forEachGroup(work: (groupId: number) => Promise<void>): Promise<void> {
  let next = 1;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next <= GROUPS) {
        const groupId = next;
        next += 1;
        await work(groupId);
      }
    }),
  );
}

function isTestGroup(groupId: number): boolean {
  return groupId >= 1 && groupId <= GROUPS;
}

async function statuses() {
  return Promise.all(cluster.nodeIds.map((nodeId) => cluster.admin(nodeId).nodeStatus(10_000)));
}

describe(`${GROUPS} groups with three replicas each`, () => {
  it("elect leaders spread over the nodes, quiesce when idle, and all wake on one write each", async () => {
    await forEachGroup((groupId) => cluster.ensureGroup(groupId));
    const led = await waitFor(
      async () => {
        const all = await statuses();
        // Group 0 is the metadata service's, on every node: only the test's groups count here.
        const counts = all.map((status) => status.ledGroupIds.filter(isTestGroup).length);
        return counts.reduce((a, b) => a + b, 0) === GROUPS &&
          all.every((s) => s.groupIds.filter(isTestGroup).length === GROUPS)
          ? counts
          : undefined;
      },
      { timeoutMs: 90_000, what: `all ${GROUPS} groups to have exactly one leader`, intervalMs: 250 },
    );
    // Leader balance: no node leads everything. (The balancer's exact spread is its own test's.)
    for (const count of led) expect(count).toBeGreaterThan(0);

    const quiesced = await waitFor(
      async () => {
        const all = await statuses();
        const total = all.reduce((sum, status) => sum + status.quiescedGroups, 0);
        const metadata = await Promise.all(
          cluster.nodeIds.map((nodeId) => cluster.admin(nodeId).groupStatus(0)),
        );
        const testGroups = total - metadata.filter((status) => status.quiesced).length;
        return testGroups === 3 * GROUPS ? testGroups : undefined;
      },
      { timeoutMs: 60_000, what: `all ${3 * GROUPS} replicas to quiesce`, intervalMs: 250 },
    );
    expect(quiesced).toBe(3 * GROUPS);

    const acks = new Map<number, number>();
    await forEachGroup(async (groupId) => {
      const ack = await cluster.append(
        groupId,
        [{ partitionKey: "wake", data: Buffer.from(`wake-${groupId}`) }],
        {
          timeoutMs: 60_000,
        },
      );
      acks.set(groupId, ack.index);
    });
    expect(acks.size).toBe(GROUPS);
    // Every replica applies the wake-up write.
    await waitFor(
      async () => {
        let missing = 0;
        for (const nodeId of cluster.nodeIds) {
          for (const groupId of [1, Math.ceil(GROUPS / 2), GROUPS]) {
            const read = await cluster.admin(nodeId).read(groupId, acks.get(groupId) ?? 1);
            if (read.records[0]?.data.toString() !== `wake-${groupId}`) missing += 1;
          }
        }
        return missing === 0;
      },
      {
        timeoutMs: 30_000,
        what: "every replica of the first, middle and last group to apply its wake-up write",
      },
    );
  }, 300_000);
});
