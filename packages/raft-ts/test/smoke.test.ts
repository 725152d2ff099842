// Proves the basics end to end: three nodes elect a leader and replicate proposals.
import { expect, it } from "vitest";
import { TestCluster, text } from "./helpers/cluster.js";

it("elects and replicates", () => {
  const cluster = TestCluster.create([1, 2, 3]);
  const term = cluster.elect(1);
  expect(term).toBe(1);
  cluster.raft(1).propose(text("a"));
  cluster.raft(1).proposeBatch([text("b"), text("c")]);
  cluster.stabilize();
  for (const id of [1, 2, 3]) expect(cluster.appliedText(id)).toEqual(["a", "b", "c"]);
  for (let i = 0; i < 50; i++) {
    for (const id of [1, 2, 3]) cluster.tick(id);
    cluster.stabilize();
  }
  expect(cluster.raft(1).status().leader).toBe(1);
  expect(cluster.raft(2).status().term).toBe(1);
});
