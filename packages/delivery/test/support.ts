/** Shared by the delivery tests: record payloads, reading what a destination holds, checks. */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** The payload of record `index`: fixed width so sizes are predictable. */
export function payload(index: number, width = 64): Buffer {
  const text = `record-${String(index).padStart(9, "0")}-`;
  return Buffer.from(text.padEnd(width - 1, "x"));
}

export function indexOf(line: string): number {
  return Number(line.slice("record-".length, "record-".length + 9));
}

export interface DeliveredObject {
  readonly key: string;
  /** Uncompressed body bytes. */
  readonly bytes: number;
  readonly lines: readonly string[];
}

/** Every object file under `directory` (recursively), skipping intents and temporary files. */
export async function readDirectoryObjects(directory: string): Promise<DeliveredObject[]> {
  const out: DeliveredObject[] = [];
  const walk = async (dir: string, relative: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name === ".sluice-intents") continue;
      const path = join(dir, entry.name);
      const key = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(path, key);
      else if (!entry.name.includes(".tmp-")) {
        const raw = await readFile(path);
        out.push(decodeObject(key, raw));
      }
    }
  };
  await walk(directory, "");
  return out;
}

export function decodeObject(key: string, raw: Buffer): DeliveredObject {
  const body = key.endsWith(".gz") ? gunzipSync(raw) : raw;
  const text = body.toString("utf8");
  const lines = text === "" ? [] : text.slice(0, -1).split("\n");
  return { key, bytes: body.length, lines };
}

export async function mtimeMs(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

/** Counts of each record index seen in `objects`: every index below `total` once means no loss, no duplicate. */
export function tally(objects: readonly DeliveredObject[]): { distinct: number; duplicates: number } {
  const seen = new Set<number>();
  let duplicates = 0;
  for (const object of objects) {
    for (const line of object.lines) {
      const index = indexOf(line);
      if (seen.has(index)) duplicates += 1;
      else seen.add(index);
    }
  }
  return { distinct: seen.size, duplicates };
}
