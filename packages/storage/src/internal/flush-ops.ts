/** The operations a FlushBatch collects, in call order, for NodeStorage to commit. */
import type { ConfState, Entry, HardState, Snapshot } from "raft-ts";

export type FlushOp =
  | { readonly kind: "create"; readonly groupId: number }
  | { readonly kind: "delete"; readonly groupId: number }
  /** `dropped` is set when a later applySnapshot or delete of the group in the same batch voids it. */
  | {
      readonly kind: "append";
      readonly groupId: number;
      readonly entries: readonly Entry[];
      dropped: boolean;
    }
  | { readonly kind: "hardState"; readonly groupId: number; readonly hardState: HardState }
  | { readonly kind: "confState"; readonly groupId: number; readonly confState: ConfState }
  | { readonly kind: "applySnapshot"; readonly groupId: number; readonly snapshot: Snapshot }
  | { readonly kind: "setSnapshot"; readonly groupId: number; readonly snapshot: Snapshot }
  | { readonly kind: "compact"; readonly groupId: number; readonly index: number };

/** What a batch needs to know of a group to validate operations before they reach the disk. */
export interface GroupShadow {
  exists: boolean;
  first: number;
  last: number;
  snapshotIndex: number;
}
