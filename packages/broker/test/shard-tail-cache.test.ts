// Proves the shard tail cache keeps nothing past its bound alive: an evicted entry's buffer can be
// collected at once, not only when the cache's array is next compacted.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Entry } from "raft-ts";
import { describe, expect, it } from "vitest";
import { ShardTailCache, TailCacheBudget } from "../src/shard/tail-cache.js";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const ENTRY_BYTES = 1_000;
/** What the cache charges per entry: its data and a 64-byte allowance. */
const CHARGED_BYTES = ENTRY_BYTES + 64;

function entry(index: number): Entry {
  return { type: 0, term: 1, index, data: Buffer.alloc(ENTRY_BYTES, index & 0xff) } as Entry;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("ShardTailCache", () => {
  it("serves the newest entries within its bound and lets evicted ones be collected", async () => {
    const cache = new ShardTailCache(new TailCacheBudget(1_000_000), 10 * CHARGED_BYTES);
    const evicted: WeakRef<Buffer>[] = [];
    // Filled in a function, so no local of this frame keeps an entry alive.
    (() => {
      for (let index = 1; index <= 100; index++) {
        const next = entry(index);
        if (index <= 90) evicted.push(new WeakRef(next.data as Buffer));
        cache.push(next);
      }
    })();
    expect(cache.bytes).toBe(10 * CHARGED_BYTES);
    expect(cache.firstIndex()).toBe(91);
    expect(cache.get(90)).toBeUndefined();
    expect(cache.get(100)?.data[0]).toBe(100);

    await nextTurn(); // WeakRefs are held for the rest of the job that made them
    collectGarbage();
    await nextTurn();
    const alive = evicted.filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBe(0);
  });
});
