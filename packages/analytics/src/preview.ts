/**
 * Preview: runs a query in this process over a stream and hands each result row to a callback,
 * writing nothing (no output stream, no snapshot, no group) — what `sluice analytics preview`
 * prints. Windows close by the same watermark rules as a running application.
 */
import type { SluiceClient } from "@sluice/client";
import { INPUT_IDLE_POLL_MS } from "./constants.js";
import { QueryEngine } from "./engine.js";
import { Input } from "./input.js";
import { planQuery } from "./plan.js";

export interface PreviewOptions {
  readonly client: SluiceClient;
  readonly sql: string;
  /** @default 0 */
  readonly allowedLatenessMs?: number;
  /** Where to start reading. @default "LATEST" */
  readonly start?: "TRIM_HORIZON" | "LATEST";
  /** Called with each result row (parsed JSON); return false to stop. */
  readonly onRow: (row: Record<string, unknown>) => boolean | undefined;
  /**
   * Called once, when every shard of the stream is positioned: records written from then on are
   * in the preview (with start LATEST, records written before it may not be).
   */
  readonly onReady?: (shardCount: number) => void;
  readonly signal?: AbortSignal;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** Runs until `onRow` returns false or `signal` aborts. Bad SQL throws before anything is read. */
export async function previewQuery(options: PreviewOptions): Promise<void> {
  const plan = planQuery(options.sql);
  const engine = new QueryEngine(plan);
  const input = new Input({
    client: options.client,
    streamName: plan.sourceStream,
    allowedLatenessMs: options.allowedLatenessMs ?? 0,
    start: options.start ?? "LATEST",
    clock: options.clock ?? Date.now,
  });
  await options.client.waitForStreamStatus(plan.sourceStream);
  let ready = false;
  while (options.signal?.aborted !== true) {
    const folded = await input.poll(engine);
    if (!ready && input.positioned) {
      ready = true;
      options.onReady?.(Object.keys(input.save()).length);
    }
    engine.advance(input.watermarkMs());
    for (const row of engine.takeOutput()) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(row.data.toString("utf8")) as Record<string, unknown>;
      } catch {
        parsed = { data: row.data.toString("utf8") };
      }
      if (options.onRow(parsed) === false) return;
    }
    if (folded === 0) await pause(INPUT_IDLE_POLL_MS, options.signal);
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
