// Proves MemoryStorage, the reference LogStorage, passes the conformance suite every implementation must pass.
import { MemoryStorage } from "raft-ts";
import { describeLogStorageConformance } from "raft-ts/testing";

describeLogStorageConformance("MemoryStorage", (fill) => {
  const storage = new MemoryStorage({
    confState: fill.snapshot?.metadata.confState ?? { voters: [], learners: [] },
  });
  if (fill.snapshot !== undefined) storage.applySnapshot(fill.snapshot);
  storage.append(fill.entries);
  if (fill.hardState !== undefined) storage.setHardState(fill.hardState);
  return {
    storage,
    append: (entries) => storage.append(entries),
    setHardState: (hardState) => storage.setHardState(hardState),
    applySnapshot: (snapshot) => storage.applySnapshot(snapshot),
    compact: (index) => storage.compact(index),
  };
});
