/**
 * Consumer groups in the metadata snapshot: an array sorted by key (canonical JSON sorts the
 * fields), left out entirely when there are none so snapshots of states without groups are
 * byte-identical to those made before groups existed.
 */
import type { MetadataState } from "../state.js";
import { type ConsumerGroupInfo, groupKey } from "./state.js";

export type SnapshotGroup = ConsumerGroupInfo;

export function encodeGroups(state: MetadataState): { groups?: readonly SnapshotGroup[] } {
  const groups = state.groups;
  if (groups === undefined || groups.size === 0) return {};
  return { groups: [...groups.keys()].sort().map((key) => groups.get(key) as ConsumerGroupInfo) };
}

export function decodeGroups(body: readonly SnapshotGroup[] | undefined): {
  groups?: ReadonlyMap<string, ConsumerGroupInfo>;
} {
  if (body === undefined || body.length === 0) return {};
  const groups = new Map<string, ConsumerGroupInfo>();
  for (const group of body) {
    groups.set(
      groupKey(group.streamName, group.groupName),
      Object.freeze({
        ...group,
        members: Object.freeze(group.members.map((m) => Object.freeze({ ...m }))),
        shards: Object.freeze(group.shards.map((s) => Object.freeze({ ...s }))),
      }),
    );
  }
  return { groups };
}
