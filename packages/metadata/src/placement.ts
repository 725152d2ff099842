/**
 * Placement of a new shard group's replicas: one registered node per distinct zone, at most
 * REPLICAS_PER_SHARD_MAX, chosen deterministically from the state and the group id (apply must
 * give the same answer on every replica). Zones and the node within a zone rotate with the group
 * id, so the groups of a cluster with more nodes than replicas spread over all of them.
 *
 * When the cluster has fewer distinct zones than REPLICAS_PER_SHARD_MAX (a one-zone dev
 * cluster), the remaining replicas go to other nodes in zones already used, so a shard is still
 * replicated; zone diversity is preferred, never required.
 */
import { REPLICAS_PER_SHARD_MAX } from "./constants.js";
import type { NodeInfo } from "./state.js";

/** Node ids for group `groupId`'s replicas, ascending; empty when no node is registered. */
export function placeReplicas(nodes: ReadonlyMap<number, NodeInfo>, groupId: number): number[] {
  const byZone = new Map<string, number[]>();
  for (const node of nodes.values()) {
    const ids = byZone.get(node.zone);
    if (ids === undefined) byZone.set(node.zone, [node.nodeId]);
    else ids.push(node.nodeId);
  }
  const zones = [...byZone.keys()].sort();
  for (const ids of byZone.values()) ids.sort((a, b) => a - b);
  const chosen: number[] = [];
  const zoneCount = zones.length;
  // First pass: one node per zone, zones taken in rotated order.
  for (let z = 0; z < zoneCount && chosen.length < REPLICAS_PER_SHARD_MAX; z++) {
    const ids = byZone.get(zones[(groupId + z) % zoneCount] as string) as number[];
    chosen.push(ids[groupId % ids.length] as number);
  }
  // Fill from nodes not chosen yet, ascending, when zones ran out.
  if (chosen.length < REPLICAS_PER_SHARD_MAX) {
    const rest = [...nodes.keys()].filter((id) => !chosen.includes(id)).sort((a, b) => a - b);
    for (let i = 0; i < rest.length && chosen.length < REPLICAS_PER_SHARD_MAX; i++) {
      chosen.push(rest[(groupId + i) % rest.length] as number);
    }
  }
  return chosen.sort((a, b) => a - b);
}
