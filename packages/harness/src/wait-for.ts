/**
 * Waiting for a condition with a deadline, the only way the harness and its tests wait: no
 * fixed sleeps. The failure names what was awaited, for how long, and the last error the
 * condition threw, so a red test says what did not happen.
 */
import { WAIT_INTERVAL_MS_DEFAULT } from "./constants.js";

export interface WaitOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** What is awaited, in words: "node 2 to serve", "group 7 to elect a leader". */
  readonly what: string;
  /** @default 25 */
  readonly intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  readonly code = "WAIT_TIMEOUT";
  readonly retriable = false;
}

/**
 * Evaluates `condition` until it returns a value other than undefined, null or false, and
 * returns that value. A condition that throws counts as not met (its error is kept for the
 * message). Rejects with `WaitTimeoutError` at the deadline.
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions,
): Promise<T> {
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  const interval = options.intervalMs ?? WAIT_INTERVAL_MS_DEFAULT;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last =
        lastError === undefined
          ? ""
          : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new WaitTimeoutError(
        `timed out after ${Date.now() - startedAt} ms (${attempts} checks) waiting for ${options.what}${last}`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(interval, Math.max(0, deadline - Date.now()))),
    );
  }
}
