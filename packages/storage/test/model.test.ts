// Proves, against raft-ts's MemoryStorage as the reference model, that random sequences of
// appends (with conflicting suffixes), compactions and snapshots over several groups leave the
// same logs in NodeStorage — live, and after every reopen — while small segments roll over,
// live entries are rewritten forward and dead segments are deleted.
import { MemoryStorage } from "raft-ts";
import { afterEach, describe, expect, it } from "vitest";
import { NodeStorage } from "../src/index.js";
import { entryIsIntact, makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function compare(storage: NodeStorage, models: MemoryStorage[]): void {
  models.forEach((model, g) => {
    const log = storage.group(g);
    expect(log.firstIndex(), `group ${g} first`).toBe(model.firstIndex());
    expect(log.lastIndex(), `group ${g} last`).toBe(model.lastIndex());
    expect(log.term(log.firstIndex() - 1)).toBe(model.term(model.firstIndex() - 1));
    if (model.lastIndex() >= model.firstIndex()) {
      const got = log.entries(log.firstIndex(), log.lastIndex() + 1, Infinity);
      const want = model.entries(model.firstIndex(), model.lastIndex() + 1, Infinity);
      expect(got.map((e) => [e.index, e.term])).toEqual(want.map((e) => [e.index, e.term]));
      for (const entry of got) expect(entryIsIntact(g, entry)).toBe(true);
    }
    expect(log.snapshot().metadata.index).toBe(model.snapshot().metadata.index);
  });
}

describe("NodeStorage against the MemoryStorage model", () => {
  for (const seed of [1, 2, 3]) {
    it(`agrees through random appends, conflicts, compactions, snapshots and reopens (seed ${seed})`, async () => {
      const dir = makeTempDir("model");
      dirs.push(dir);
      const options = {
        sync: false,
        segmentSizeBytes: 8192,
        tailCacheBytesPerGroup: 2048,
        rewriteLiveRatioMax: 0.5,
      };
      const next = random(seed);
      const groups = 4;
      const models = Array.from({ length: groups }, () => new MemoryStorage());
      const terms = new Array<number>(groups).fill(1);
      let storage = await NodeStorage.open(dir, options);
      const create = storage.beginFlush();
      for (let g = 0; g < groups; g++) create.createGroup(g);
      await create.commit();
      let maxSegments = 0;
      let deleted = 0;
      let rewritten = 0;
      for (let step = 0; step < 300; step++) {
        const batch = storage.beginFlush();
        for (let g = 0; g < groups; g++) {
          const model = models[g]!;
          const roll = next(100);
          // Group 3 is the slow one: it appends rarely and never compacts, pinning old segments.
          if (g === 3 && roll > 5) continue;
          if (roll < 60) {
            // Append, sometimes replacing a suffix with a higher term.
            let from = model.lastIndex() + 1;
            if (next(5) === 0 && model.lastIndex() >= model.firstIndex()) {
              from = model.firstIndex() + next(model.lastIndex() - model.firstIndex() + 1);
              terms[g]! += 1;
            }
            const entries = makeEntries(g, from, from + 1 + next(4), terms[g]!, next(600));
            batch.append(g, entries);
            model.append(entries);
          } else if (roll < 80 && g !== 3 && model.lastIndex() > model.firstIndex()) {
            const index = model.firstIndex() + next(model.lastIndex() - model.firstIndex());
            batch.compact(g, index);
            model.compact(index);
          } else if (roll < 83 && g !== 3) {
            terms[g]! += 1;
            const snapshot = {
              metadata: {
                index: model.lastIndex() + 1 + next(5),
                term: terms[g]!,
                confState: { voters: [1, 2, 3], learners: [] },
              },
              data: new Uint8Array([g]),
            };
            batch.applySnapshot(g, snapshot);
            model.applySnapshot(snapshot);
          }
        }
        await batch.commit();
        compare(storage, models);
        maxSegments = Math.max(maxSegments, storage.metrics().segmentCount);
        if (step % 50 === 49) {
          deleted += storage.metrics().segmentsDeleted;
          rewritten += storage.metrics().rewrittenEntries;
          await storage.close();
          storage = await NodeStorage.open(dir, options);
          compare(storage, models);
        }
      }
      deleted += storage.metrics().segmentsDeleted;
      rewritten += storage.metrics().rewrittenEntries;
      expect(deleted).toBeGreaterThan(0);
      expect(rewritten).toBeGreaterThan(0);
      await storage.close();
    });
  }
});
