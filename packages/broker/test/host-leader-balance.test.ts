// Proves leaders spread evenly: 30 groups on three nodes end with 10 leaders on each (the
// preferred leader of group g is the (g mod 3)-th voter), and after a node is killed and comes
// back, leadership transfers return its groups to it until the split is 10/10/10 again.
import { afterEach, describe, expect, it } from "vitest";
import { preferredLeader } from "../src/host/leader-balance.js";
import { TestCluster, waitFor } from "./broker-cluster.js";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const GROUPS = Array.from({ length: 30 }, (_, i) => i + 1);

function leaderCounts(c: TestCluster): number[] {
  return c.nodeIds.map((id) => {
    const broker = c.running().find((b) => b.nodeId === id);
    if (broker === undefined) return 0;
    return GROUPS.filter((g) => broker.groupStatus(g).role === "leader").length;
  });
}

describe("leader balance", () => {
  it("the preferred-leader rule is deterministic and even", () => {
    const counts = new Map<number, number>();
    for (const g of GROUPS) {
      const leader = preferredLeader(g, [3, 1, 2]);
      counts.set(leader, (counts.get(leader) ?? 0) + 1);
      expect(preferredLeader(g, [1, 2, 3])).toBe(leader);
    }
    expect([...counts.values()]).toEqual([10, 10, 10]);
  });

  it("30 groups end with 10 leaders per node, again after a node restarts", async () => {
    cluster = await TestCluster.start();
    await cluster.ensureGroups(GROUPS);
    await waitFor(() => leaderCounts(cluster!).join() === "10,10,10", "leaders split 10/10/10");
    for (const g of GROUPS) {
      expect(cluster.leaderOf(g)?.nodeId).toBe(preferredLeader(g, [1, 2, 3]));
    }

    await cluster.kill(2);
    await waitFor(() => GROUPS.every((g) => cluster!.leaderOf(g) !== undefined), "every group has a leader");
    expect(leaderCounts(cluster)[1]).toBe(0);

    const back = await cluster.open(2);
    await waitFor(
      () => leaderCounts(cluster!).join() === "10,10,10",
      "leaders split 10/10/10 after the restart",
    );
    await waitFor(() => back.metrics().leaderGroups === 10, "the restarted node counts its 10 groups");
    const transfers = cluster.running().reduce((sum, b) => sum + b.metrics().leaderTransfers, 0);
    expect(transfers).toBeGreaterThanOrEqual(10);
  });
});
