/** Waiting that an AbortSignal ends early (with AbortedError), and jittered exponential backoff. */
import { AbortedError } from "./errors.js";

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortedError("the operation was aborted by its AbortSignal"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError("the operation was aborted by its AbortSignal"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** "Full jitter" backoff: a uniform draw in [base/2, min(max, base · 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return baseMs / 2 + Math.random() * Math.max(0, ceiling - baseMs / 2);
}
