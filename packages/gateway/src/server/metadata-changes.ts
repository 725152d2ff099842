/**
 * Wake-ups on metadata changes, for the waits of a reshard: a put whose shard was sealed waits
 * for the view that shows the children open; a reader at a sealed shard's end waits for the view
 * that closes it. With a change source (the metadata state machine's `onChange`, or the service's
 * when it has one) a waiter wakes as soon as the change is applied here; without one, the view
 * is checked every METADATA_CHANGE_POLL_MS (every applied entry replaces the view, so a new view
 * object is a possible change; waking early is harmless: callers re-check and wait again).
 */
import type { MetadataView } from "@sluice/metadata";
import { METADATA_CHANGE_POLL_MS } from "./constants.js";

/** Something that calls a listener after every change of the metadata state. */
export interface MetadataChangeSource {
  /** Registers `listener`; the returned function unregisters it. */
  onChange(listener: () => void): () => void;
}

/** Where the current metadata view comes from (the MetadataService, or its state machine). */
export interface MetadataViewSource {
  view(): MetadataView;
}

export class MetadataChanges {
  private readonly metadata: MetadataViewSource;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<() => void>();
  /** Polls the view for `listen` when there is no change source. */
  private poll: NodeJS.Timeout | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private closed = false;

  /** `source` defaults to the service's own `onChange` when it has one, else the view is polled. */
  constructor(metadata: MetadataViewSource, source?: MetadataChangeSource) {
    this.metadata = metadata;
    const found = source ?? changeSourceOf(metadata);
    this.unsubscribe = found?.onChange(() => this.wakeAll());
  }

  /** Resolves at the next metadata change applied on this node, or after `timeoutMs`, or on close. */
  wait(timeoutMs: number): Promise<void> {
    if (this.closed || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const startView: MetadataView = this.metadata.view();
      let poll: NodeJS.Timeout | undefined;
      const wake = () => {
        clearTimeout(timer);
        if (poll !== undefined) clearInterval(poll);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      if (this.unsubscribe === undefined) {
        poll = setInterval(() => {
          if (this.metadata.view() !== startView) wake();
        }, METADATA_CHANGE_POLL_MS);
      }
      this.waiters.add(wake);
    });
  }

  /**
   * Calls `listener` after every metadata change applied on this node (without a change source,
   * when the polled view is a new one) until the returned function is called or this closes.
   */
  listen(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    if (this.unsubscribe === undefined && this.poll === undefined) {
      let last: MetadataView = this.metadata.view();
      this.poll = setInterval(() => {
        const view = this.metadata.view();
        if (view === last) return;
        last = view;
        for (const each of [...this.listeners]) each();
      }, METADATA_CHANGE_POLL_MS);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.poll !== undefined) {
        clearInterval(this.poll);
        this.poll = undefined;
      }
    };
  }

  /** Wakes every waiter and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.poll !== undefined) clearInterval(this.poll);
    this.poll = undefined;
    this.listeners.clear();
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
    for (const listener of [...this.listeners]) listener();
  }
}

function changeSourceOf(metadata: MetadataViewSource): MetadataChangeSource | undefined {
  const candidate = metadata as unknown as Partial<MetadataChangeSource>;
  return typeof candidate.onChange === "function" ? (candidate as MetadataChangeSource) : undefined;
}
