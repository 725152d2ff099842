/**
 * `MetadataStateMachine`: group 0's state machine, as the broker drives it (apply each committed
 * entry in order, snapshot every N entries, restore from a snapshot). Its state is immutable
 * and replaced on every change, so `view()` is O(1) and a view stays valid while applies go on.
 *
 * Listeners run synchronously inside apply (the broker's apply loop): keep them short (schedule
 * work, do not do it); an exception in a listener is reported to `onListenerError` and ignored.
 */

import type { GroupStateMachine } from "@sluice/broker";
import { applyEncoded } from "./apply.js";
import type { CommandResult } from "./commands.js";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.js";
import { emptyState, type MetadataState, MetadataView } from "./state.js";

/** Called after each change with the new view and the names of the streams that changed. */
export type MetadataChangeListener = (view: MetadataView, changedStreams: readonly string[]) => void;

export interface MetadataStateMachineOptions {
  /** Where listener exceptions go. @default ignored */
  readonly onListenerError?: (error: unknown) => void;
}

export class MetadataStateMachine implements GroupStateMachine {
  private state: MetadataState = emptyState();
  private current: MetadataView;
  private readonly listeners = new Set<MetadataChangeListener>();
  private readonly appliedListeners = new Set<(appliedIndex: number) => void>();
  private readonly onListenerError: (error: unknown) => void;

  constructor(options: MetadataStateMachineOptions = {}) {
    this.onListenerError = options.onListenerError ?? (() => undefined);
    this.current = new MetadataView(this.state, 0, Buffer.alloc(0));
  }

  /** The last applied index (0 before any). */
  get appliedIndex(): number {
    return this.current.appliedIndex;
  }

  /**
   * Applies the committed entry at `index` and returns its CommandResult (JSON-serializable).
   * Never throws for bad input: a malformed or refused command changes nothing and returns a
   * failed result. Indexes must increase.
   */
  apply(index: number, data: Buffer): CommandResult {
    if (index <= this.current.appliedIndex) {
      throw new Error(
        `metadata apply at index ${index} after ${this.current.appliedIndex}: indexes must increase`,
      );
    }
    const before = this.state;
    const outcome = applyEncoded(before, data);
    const secretChanged = outcome.state.clusterSecretHex !== before.clusterSecretHex;
    this.state = outcome.state;
    this.current = new MetadataView(
      this.state,
      index,
      secretChanged ? Buffer.from(this.state.clusterSecretHex, "hex") : this.current.clusterSecret,
    );
    if (outcome.state !== before) this.notify(outcome.changedStreams);
    this.notifyApplied(index);
    return outcome.result;
  }

  /** The whole state, canonically encoded: equal states give equal bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  /** Replaces the state with a snapshot's, taken at log index `index`. */
  restore(data: Uint8Array, index: number): void {
    const before = this.state;
    this.state = decodeSnapshot(data);
    this.current = new MetadataView(this.state, index, Buffer.from(this.state.clusterSecretHex, "hex"));
    const names = new Set([...before.streams.keys(), ...this.state.streams.keys()]);
    this.notify([...names].sort());
    this.notifyApplied(index);
  }

  /** The current view; immutable, valid for as long as it is held. */
  view(): MetadataView {
    return this.current;
  }

  /** Calls `listener` after every change of the state (not after refused or no-op commands). */
  onChange(listener: MetadataChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` after every applied entry and restore, with the applied index. */
  onApplied(listener: (appliedIndex: number) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  private notify(changedStreams: readonly string[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(this.current, changedStreams);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  private notifyApplied(index: number): void {
    for (const listener of [...this.appliedListeners]) {
      try {
        listener(index);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
