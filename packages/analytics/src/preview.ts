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
  while (options.signal?.aborted !== true) {
    const folded = await input.poll(engine);
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
    if (folded === 0) await new Promise((resolve) => setTimeout(resolve, INPUT_IDLE_POLL_MS));
  }
}
