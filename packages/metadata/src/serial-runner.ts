/**
 * Runs an async pass one at a time, coalescing requests: `schedule()` while a pass runs makes
 * exactly one more pass run after it. A failed pass is reported and retried after `retryMs`.
 * The reconciler and the controller are both built on it.
 */
export class SerialRunner {
  private running: Promise<void> | null = null;
  private dirty = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly retryMs: number,
  ) {}

  /** Asks for a pass; returns at once. */
  schedule(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.running === null) this.running = this.loop();
  }

  /** Stops scheduling and waits for the pass under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.running;
  }

  /** Resolves when no pass runs or is asked for (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        try {
          await this.pass();
        } catch (error) {
          this.onError(error);
          if (!this.stopped && this.retryTimer === null) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = null;
              this.schedule();
            }, this.retryMs);
          }
        }
      }
    } finally {
      this.running = null;
    }
  }
}
