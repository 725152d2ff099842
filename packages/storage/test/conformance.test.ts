// Proves that a group's view of NodeStorage is a correct raft-ts LogStorage: it passes the shared
// conformance suite, both freshly written and after the storage is closed and reopened (so the
// journal replay and the LevelDB state rebuild the same log).
import {
  describeLogStorageConformance,
  type LogStorageFill,
  type LogStorageUnderTest,
} from "raft-ts/testing";
import { NodeStorage } from "../src/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

const GROUP = 42;

async function openFilled(fill: LogStorageFill, reopen: boolean): Promise<LogStorageUnderTest> {
  const dir = makeTempDir("conformance");
  const options = { sync: false, tailCacheBytesPerGroup: 16 };
  let node = await NodeStorage.open(dir, options);
  const batch = node.beginFlush().createGroup(GROUP);
  if (fill.snapshot !== undefined) batch.applySnapshot(GROUP, fill.snapshot);
  if (fill.entries.length > 0) batch.append(GROUP, fill.entries);
  if (fill.hardState !== undefined) batch.setHardState(GROUP, fill.hardState);
  await batch.commit();
  if (reopen) {
    await node.close();
    node = await NodeStorage.open(dir, options);
  }
  const current = node;
  return {
    storage: current.group(GROUP),
    append: async (entries) => {
      await current.beginFlush().append(GROUP, entries).commit();
    },
    setHardState: async (hardState) => {
      await current.beginFlush().setHardState(GROUP, hardState).commit();
    },
    applySnapshot: async (snapshot) => {
      const batch = current.beginFlush();
      try {
        batch.applySnapshot(GROUP, snapshot);
      } catch (error) {
        batch.abandon();
        throw error;
      }
      await batch.commit();
    },
    compact: async (index) => {
      const batch = current.beginFlush();
      try {
        batch.compact(GROUP, index);
      } catch (error) {
        batch.abandon();
        throw error;
      }
      await batch.commit();
    },
    close: async () => {
      await current.close();
      removeDir(dir);
    },
  };
}

describeLogStorageConformance("NodeStorage group view", (fill) => openFilled(fill, false));
describeLogStorageConformance("NodeStorage group view after reopen", (fill) => openFilled(fill, true));
