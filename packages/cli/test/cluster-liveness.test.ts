// Proves the metadata service records node liveness on three real node processes: after SIGKILL
// of a node that is not the metadata leader, every surviving node's metadata view (exported as
// sluice_cluster_node_up) records it down; once it is restarted, live again. The controller is
// group 0's leader, so the killed node is never the one doing the recording.
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20600-20611.
const BASE_PORT = 20_600;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** The value of sluice_cluster_node_up for `peer` on node `nodeId`, or undefined when absent. */
async function nodeUp(nodeId: number, peer: number): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${cluster.ports(nodeId).metrics}/metrics`).then((r) => r.text());
  const line = text
    .split("\n")
    .find((l) => l.startsWith("sluice_cluster_node_up{") && l.includes(`peer="${peer}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("node liveness in the metadata service", () => {
  it("records a killed node down on every survivor, and live again after its restart", async () => {
    for (const nodeId of cluster.nodeIds) {
      await waitFor(async () => (await nodeUp(nodeId, 3)) === 1 && (await nodeUp(nodeId, 1)) === 1, {
        timeoutMs: 20_000,
        what: `node ${nodeId}'s view of the three nodes as live`,
      });
    }
    const leader = await cluster.metadataLeader();
    const victim = cluster.nodeIds.find((id) => id !== leader) as number;
    const survivors = cluster.nodeIds.filter((id) => id !== victim);
    await cluster.kill(victim);
    for (const nodeId of survivors) {
      await waitFor(async () => (await nodeUp(nodeId, victim)) === 0, {
        timeoutMs: 20_000,
        what: `node ${nodeId} to record node ${victim} down`,
      });
      for (const other of survivors) expect(await nodeUp(nodeId, other)).toBe(1);
    }
    await cluster.restart(victim);
    for (const nodeId of cluster.nodeIds) {
      await waitFor(async () => (await nodeUp(nodeId, victim)) === 1, {
        timeoutMs: 20_000,
        what: `node ${nodeId} to record node ${victim} live again`,
      });
    }
  }, 90_000);
});
