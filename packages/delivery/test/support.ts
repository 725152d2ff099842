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

/** The largest value of `metric` ("freshness_ms", "failures", …) of delivery stream `name` over the nodes' status. */
export async function deliveryMetricMax(
  statuses: readonly Promise<{ metrics: { [key: string]: number } }>[],
  name: string,
  metric: string,
): Promise<number> {
  let max = 0;
  for (const status of await Promise.allSettled(statuses)) {
    if (status.status !== "fulfilled") continue;
    const value = status.value.metrics[`delivery_${name}_${metric}`];
    if (typeof value === "number" && value > max) max = value;
  }
  return max;
}

/** Puts records `from` (inclusive) to `to` (exclusive) into `streamName`, 500 per call, `parallel` calls in flight. */
export async function putRange(
  client: import("@sluice/client").SluiceClient,
  streamName: string,
  from: number,
  to: number,
  parallel = 4,
  width = 64,
): Promise<void> {
  const { streams } = await import("@sluice/proto");
  let next = from;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < to) {
        const start = next;
        next = Math.min(to, next + 500);
        let pending = Array.from({ length: next - start }, (_, i) => ({
          partitionKey: `k${start + i}`,
          data: payload(start + i, width),
          explicitHashKey: "",
        }));
        while (pending.length > 0) {
          const response = await client.putRecords(
            streams.PutRecordsRequest.fromPartial({ streamName, records: pending }),
          );
          pending = pending.filter((_, i) => response.records[i]?.errorCode !== "");
        }
      }
    }),
  );
}
