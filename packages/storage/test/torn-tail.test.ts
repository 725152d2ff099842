// Proves the recovery rules: a torn or damaged last frame (cut at any byte, or any byte flipped)
// is cut on open and never served, every earlier flush survives intact, and damage followed by
// valid frames is reported as a CorruptSegmentError instead of being skipped.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CorruptSegmentError, NodeStorage } from "../src/index.js";
import { entryIsIntact, makeEntries, makeTempDir, removeDir } from "./helpers.js";

const GROUPS = 3;

interface Written {
  dir: string;
  segmentPath: string;
  /** Size of the (last) segment file after each flush, and each group's last index then. */
  checkpoints: Array<{ fileBytes: number; last: number[] }>;
  original: Buffer;
}

async function writeJournal(): Promise<Written> {
  const dir = makeTempDir("torn");
  const storage = await NodeStorage.open(dir, { sync: false });
  const create = storage.beginFlush();
  for (let g = 0; g < GROUPS; g++) create.createGroup(g);
  await create.commit();
  const segmentsDir = join(dir, "segments");
  const segmentPath = join(segmentsDir, readdirSync(segmentsDir)[0]!);
  const last = new Array<number>(GROUPS).fill(0);
  const checkpoints = [{ fileBytes: statSync(segmentPath).size, last: [...last] }];
  for (let f = 0; f < 6; f++) {
    const batch = storage.beginFlush();
    // The last flush is small (one group, short entries) so testing every byte of it stays quick.
    for (let g = 0; g < (f === 5 ? 1 : GROUPS); g++) {
      batch.append(g, makeEntries(g, last[g]! + 1, last[g]! + 3, 1, f === 5 ? 12 : 40 + f * 8 + g));
      last[g]! += 2;
    }
    await batch.commit();
    checkpoints.push({ fileBytes: statSync(segmentPath).size, last: [...last] });
  }
  await storage.close();
  return { dir, segmentPath, checkpoints, original: readFileSync(segmentPath) };
}

/** Opens the storage and checks it holds exactly the state of some checkpoint, all entries intact. */
async function expectCheckpoint(
  written: Written,
  expected: { last: number[] },
  tornBytes: number,
): Promise<void> {
  const storage = await NodeStorage.open(written.dir, { sync: false });
  try {
    expect(storage.recovery.tornBytesCut).toBe(tornBytes);
    for (let g = 0; g < GROUPS; g++) {
      const log = storage.group(g);
      expect(log.lastIndex()).toBe(expected.last[g]);
      for (const entry of log.entries(1, log.lastIndex() + 1, Infinity))
        expect(entryIsIntact(g, entry)).toBe(true);
    }
  } finally {
    await storage.close();
  }
}

describe("torn tail", () => {
  let written: Written;
  beforeAll(async () => {
    written = await writeJournal();
  });
  afterAll(() => removeDir(written.dir));

  it("cuts the last frame when the file ends at any byte inside it", async () => {
    const previous = written.checkpoints[written.checkpoints.length - 2]!;
    const final = written.checkpoints[written.checkpoints.length - 1]!;
    for (let cut = previous.fileBytes; cut < final.fileBytes; cut++) {
      writeFileSync(written.segmentPath, written.original.subarray(0, cut));
      await expectCheckpoint(written, previous, cut - previous.fileBytes);
      expect(statSync(written.segmentPath).size).toBe(previous.fileBytes);
    }
    writeFileSync(written.segmentPath, written.original);
    await expectCheckpoint(written, final, 0);
  });

  it("keeps exactly the flushes whose frames are whole when cut at random offsets", async () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const first = written.checkpoints[0]!.fileBytes;
    for (let trial = 0; trial < 25; trial++) {
      const cut = first + Math.floor(random() * (written.original.length - first));
      writeFileSync(written.segmentPath, written.original.subarray(0, cut));
      const whole = written.checkpoints.filter((c) => c.fileBytes <= cut);
      const expected = whole[whole.length - 1]!;
      await expectCheckpoint(written, expected, cut - expected.fileBytes);
    }
    writeFileSync(written.segmentPath, written.original);
  });

  it("cuts the last frame when any byte of it is flipped", async () => {
    const previous = written.checkpoints[written.checkpoints.length - 2]!;
    for (let at = previous.fileBytes; at < written.original.length; at++) {
      const damaged = Buffer.from(written.original);
      damaged[at]! ^= 0x5a;
      writeFileSync(written.segmentPath, damaged);
      await expectCheckpoint(written, previous, written.original.length - previous.fileBytes);
    }
    writeFileSync(written.segmentPath, written.original);
  });

  it("refuses to open when a frame before the last is damaged", async () => {
    const start = written.checkpoints[1]!.fileBytes;
    const end = written.checkpoints[written.checkpoints.length - 2]!.fileBytes;
    for (let at = start; at < end; at += 97) {
      const damaged = Buffer.from(written.original);
      damaged[at]! ^= 0x01;
      writeFileSync(written.segmentPath, damaged);
      await expect(NodeStorage.open(written.dir, { sync: false })).rejects.toBeInstanceOf(
        CorruptSegmentError,
      );
    }
    writeFileSync(written.segmentPath, written.original);
    await expectCheckpoint(written, written.checkpoints[written.checkpoints.length - 1]!, 0);
  });
});

describe("damage outside the last segment", () => {
  it("is a CorruptSegmentError, even at the end of a sealed segment", async () => {
    const dir = makeTempDir("sealed");
    try {
      const storage = await NodeStorage.open(dir, { sync: false, segmentSizeBytes: 4096 });
      await storage.createGroup(1);
      for (let i = 1; i <= 20; i++)
        await storage
          .beginFlush()
          .append(1, makeEntries(1, i, i + 1, 1, 1000))
          .commit();
      await storage.close();
      const segmentsDir = join(dir, "segments");
      const names = readdirSync(segmentsDir).sort();
      expect(names.length).toBeGreaterThan(2);
      const sealed = join(segmentsDir, names[0]!);
      const original = readFileSync(sealed);
      writeFileSync(sealed, original.subarray(0, original.length - 1));
      await expect(NodeStorage.open(dir, { sync: false })).rejects.toBeInstanceOf(CorruptSegmentError);
      const flipped = Buffer.from(original);
      flipped[3]! ^= 0xff;
      writeFileSync(sealed, flipped);
      await expect(NodeStorage.open(dir, { sync: false })).rejects.toBeInstanceOf(CorruptSegmentError);
    } finally {
      removeDir(dir);
    }
  });
});
