/**
 * Polls until `condition` returns a value other than undefined or false (awaiting it when it is
 * async) and resolves with it; rejects naming `what` after `timeoutMs`. The gateway's tests cannot
 * use @sluice/harness (it sits above the gateway); this is its waitFor, for the same purpose: no
 * sleep-and-hope.
 */
export async function waitUntil<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  options: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
