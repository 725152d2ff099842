/**
 * The worker of one application on one node. Every node runs one per application, each a
 * member of the application's consumer group over its one-shard state stream; the member that
 * holds that shard's lease runs the application, the others wait. A dead node's lease moves to
 * another member after the session timeout, and the new owner resumes from the checkpointed
 * snapshot.
 *
 * Exactly once, in order of operations (see docs/analytics.md for the argument):
 * 1. Load the snapshot the lease's checkpoint names (none: start fresh) and re-send its
 *    `pending` output batches — same producer id, shard and sequences, so what was written
 *    before is answered from the shard's dedup table (or refused as older), never written again.
 * 2. Read the input from the snapshot's positions into the engine; close windows by watermark.
 * 3. When rows come out (or SNAPSHOT_INTERVAL_MS passed): number them (the snapshot's output
 *    sequences), write a snapshot holding them as `pending`, make it current with a checkpoint
 *    fenced by the lease epoch, and only then send them. A member that lost the lease fails the
 *    checkpoint (LEASE_LOST) and sends nothing; the output is a function of current snapshots only.
 * 4. A batch refused because a reshard closed its output shard (certainly not written) is
 *    numbered again for the new shards in a new snapshot — the same input positions and engine
 *    state, the new numbers as `pending` — made current before anything is sent under them, so a
 *    new owner re-sends the new numbers, never the old ones under a second numbering.
 */
import { randomUUID } from "node:crypto";
import {
  GroupErrorCode,
  type GroupTransport,
  groupErrorOf,
  LeaseLostError,
  type SluiceClient,
} from "@sluice/client";
import {
  INPUT_IDLE_POLL_MS,
  RETRY_BACKOFF_MS_MAX,
  RETRY_BACKOFF_MS_MIN,
  SNAPSHOT_INTERVAL_MS,
  STOP_TIMEOUT_MS,
} from "./constants.js";
import { type ApplicationDefinition, applicationGroupName, planOf, stateStreamName } from "./definition.js";
import { QueryEngine } from "./engine.js";
import { Input } from "./input.js";
import type { AnalyticsMetricsSnapshot } from "./metrics.js";
import { OutputWriter } from "./output.js";
import { pause } from "./pause.js";
import { type PendingBatch, readSnapshot, type Snapshot, writeSnapshot } from "./snapshot.js";

export interface ApplicationWorkerOptions {
  readonly definition: ApplicationDefinition;
  /** The cluster: input, output and state streams. The worker does not close it. */
  readonly client: SluiceClient;
  /** The cluster's consumer groups. The worker does not close it. */
  readonly transport: GroupTransport;
  /** Unique in the group. @default a random UUID */
  readonly memberId?: string;
  /** Session timeout of the group, in ms: how soon a dead node's application moves. @default the cluster's */
  readonly sessionTimeoutMs?: number;
  /** Errors the worker survives. @default ignored */
  readonly onError?: (error: unknown) => void;
  /** @default Date.now */
  readonly clock?: () => number;
}

interface Lease {
  readonly shardId: string;
  readonly leaseEpoch: number;
  readonly checkpoint: string;
}

interface Run {
  readonly lease: Lease;
  readonly abort: AbortController;
  done: Promise<void>;
  engine: QueryEngine | undefined;
  input: Input | undefined;
}

export class ApplicationWorker {
  readonly definition: ApplicationDefinition;
  readonly memberId: string;
  private readonly options: ApplicationWorkerOptions;
  private readonly clock: () => number;
  private readonly stateStream: string;
  private readonly groupName: string;
  private run: Run | undefined;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatIntervalMs = 1_000;
  private heartbeating = false;
  private stopping = false;
  private snapshotsWritten = 0;
  private outputBatchesRenumbered = 0;
  private failures = 0;
  private lastWatermarkMs = Number.NEGATIVE_INFINITY;

  constructor(options: ApplicationWorkerOptions) {
    this.options = options;
    this.definition = options.definition;
    this.clock = options.clock ?? Date.now;
    this.memberId = options.memberId ?? randomUUID();
    this.stateStream = stateStreamName(options.definition);
    this.groupName = applicationGroupName(options.definition);
    planOf(options.definition);
  }

  /** True while this member holds the application's lease and runs it. */
  get active(): boolean {
    return this.run !== undefined && !this.run.abort.signal.aborted;
  }

  /** Joins the group; the application runs in the background on whichever member holds the lease. */
  async start(): Promise<void> {
    await this.join();
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  /** Stops the run (at its next safe point, bounded by STOP_TIMEOUT_MS) and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    const run = this.run;
    this.run = undefined;
    if (run !== undefined) {
      run.abort.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        run.done,
        new Promise((resolve) => {
          timer = setTimeout(resolve, STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.options.transport
      .leaveGroup({ streamName: this.stateStream, groupName: this.groupName, memberId: this.memberId })
      .catch((error) => this.report(error));
  }

  metricsSnapshot(): AnalyticsMetricsSnapshot {
    const engine = this.run?.engine;
    const c = engine?.counters;
    const watermark = this.lastWatermarkMs;
    return {
      running: this.active ? 1 : 0,
      recordsIn: c?.recordsIn ?? 0,
      recordsFiltered: c?.recordsFiltered ?? 0,
      lateRecordsDropped: c?.lateRecordsDropped ?? 0,
      invalidTimeRecords: c?.invalidTimeRecords ?? 0,
      overflowRecordsDropped: c?.overflowRecordsDropped ?? 0,
      windowsEmitted: c?.windowsEmitted ?? 0,
      rowsEmitted: c?.rowsEmitted ?? 0,
      snapshotsWritten: this.snapshotsWritten,
      outputBatchesRenumbered: this.outputBatchesRenumbered,
      inputLagMs: this.run?.input?.lagMs ?? 0,
      watermarkLagMs: this.active && Number.isFinite(watermark) ? Math.max(0, this.clock() - watermark) : 0,
      openWindows: engine?.openWindows ?? 0,
      failures: this.failures,
    };
  }

  private async join(): Promise<void> {
    const joined = await this.options.transport.joinGroup({
      streamName: this.stateStream,
      groupName: this.groupName,
      memberId: this.memberId,
      ...(this.options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
    });
    if (joined.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = joined.heartbeatIntervalMs;
  }

  private async heartbeat(): Promise<void> {
    if (this.stopping || this.heartbeating) return;
    this.heartbeating = true;
    try {
      const response = await this.options.transport.heartbeat({
        streamName: this.stateStream,
        groupName: this.groupName,
        memberId: this.memberId,
      });
      if (this.stopping) return;
      const held = response.leases[0];
      const current = this.run;
      if (
        current !== undefined &&
        (held === undefined || held.leaseEpoch !== current.lease.leaseEpoch || current.abort.signal.aborted)
      ) {
        current.abort.abort();
        this.run = undefined;
      }
      if (held !== undefined && this.run === undefined) {
        this.startRun({
          shardId: held.shardId,
          leaseEpoch: held.leaseEpoch,
          checkpoint: held.checkpointSequenceNumber,
        });
      }
    } catch (error) {
      const typed = groupErrorOf(error);
      if (typed.code === GroupErrorCode.MemberNotFound) {
        this.run?.abort.abort();
        this.run = undefined;
        await this.join().catch((joinError) => this.report(joinError));
      } else this.report(typed);
    } finally {
      this.heartbeating = false;
    }
  }

  private startRun(lease: Lease): void {
    const run: Run = {
      lease,
      abort: new AbortController(),
      done: Promise.resolve(),
      engine: undefined,
      input: undefined,
    };
    this.run = run;
    run.done = this.execute(run).catch((error) => {
      this.failures += 1;
      this.report(error);
      // Retried by the next heartbeat (a fresh load from the current snapshot), after a pause.
      return pause(RETRY_BACKOFF_MS_MIN, run.abort.signal).then(() => {
        if (this.run === run) {
          run.abort.abort();
          this.run = undefined;
        }
      });
    });
  }

  private async execute(run: Run): Promise<void> {
    const { client } = this.options;
    const definition = this.definition;
    const signal = run.abort.signal;
    const plan = planOf(definition);
    const output = new OutputWriter({
      client,
      streamName: definition.outputStream,
      applicationId: definition.id,
    });
    await output.open();
    let checkpoint = run.lease.checkpoint;
    let snapshot: Snapshot | undefined;
    if (checkpoint !== "")
      snapshot = await readSnapshot(client, this.stateStream, run.lease.shardId, checkpoint);
    const engine = snapshot === undefined ? new QueryEngine(plan) : QueryEngine.load(plan, snapshot.engine);
    const input = new Input(
      {
        client,
        streamName: definition.inputStream,
        allowedLatenessMs: definition.allowedLatenessMs,
        clock: this.clock,
        onError: (error) => this.report(error),
      },
      snapshot?.inputShards ?? {},
    );
    run.engine = engine;
    run.input = input;
    const nextSequence: Record<string, number> = { ...(snapshot?.nextSequence ?? {}) };
    if (snapshot !== undefined && snapshot.pending.length > 0)
      await this.deliver(run, output, snapshot, nextSequence);
    let lastSnapshotMs = this.clock();
    let unsaved = 0;
    let backoffMs = RETRY_BACKOFF_MS_MIN;
    while (!signal.aborted) {
      let folded: number;
      try {
        folded = await input.poll(engine);
        backoffMs = RETRY_BACKOFF_MS_MIN;
      } catch (error) {
        this.failures += 1;
        this.report(error);
        await pause(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS_MAX);
        continue;
      }
      if (signal.aborted) return;
      unsaved += folded;
      const watermarkMs = input.watermarkMs();
      if (Number.isFinite(watermarkMs)) this.lastWatermarkMs = watermarkMs;
      engine.advance(watermarkMs);
      const now = this.clock();
      if (engine.pendingOutput > 0 || (unsaved > 0 && now - lastSnapshotMs >= SNAPSHOT_INTERVAL_MS)) {
        const rows = engine.takeOutput();
        const sequences = { ...nextSequence };
        const current: Snapshot = {
          version: 1,
          applicationId: definition.id,
          leaseEpoch: run.lease.leaseEpoch,
          writtenAtMs: now,
          inputShards: input.save(),
          engine: engine.save(),
          nextSequence: sequences,
          pending: output.number(rows, sequences),
        };
        checkpoint = await this.saveSnapshot(run, current);
        Object.assign(nextSequence, sequences);
        this.snapshotsWritten += 1;
        lastSnapshotMs = now;
        unsaved = 0;
        await this.deliver(run, output, current, nextSequence);
      }
      if (folded === 0) await pause(INPUT_IDLE_POLL_MS, signal);
    }
  }

  /** Writes the snapshot and makes it current with a fenced checkpoint; LeaseLostError stops the run. */
  private async saveSnapshot(run: Run, snapshot: Snapshot): Promise<string> {
    const signal = run.abort.signal;
    let backoffMs = RETRY_BACKOFF_MS_MIN;
    let sequenceNumber = "";
    for (;;) {
      if (signal.aborted)
        throw new LeaseLostError("the application stopped here before its snapshot was current");
      try {
        if (sequenceNumber === "")
          sequenceNumber = await writeSnapshot(this.options.client, this.stateStream, snapshot);
        await this.options.transport.checkpoint({
          streamName: this.stateStream,
          groupName: this.groupName,
          memberId: this.memberId,
          shardId: run.lease.shardId,
          leaseEpoch: run.lease.leaseEpoch,
          sequenceNumber,
          shardEnd: false,
        });
        return sequenceNumber;
      } catch (error) {
        const typed = groupErrorOf(error);
        if (typed instanceof LeaseLostError || typed.code === GroupErrorCode.MemberNotFound) {
          run.abort.abort();
          throw typed;
        }
        this.failures += 1;
        this.report(error);
        await pause(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS_MAX);
      }
    }
  }

  /**
   * Sends the pending batches of `current` (the current snapshot). Batches handed back because a
   * reshard closed their output shard are numbered again for the new shard map from
   * `nextSequence` (updated in place), in a snapshot that is `current` with the new numbers as
   * its `pending` — the engine and input have not moved since `current` was made, so it holds the
   * same state — made current before they are sent; repeated while reshards keep closing shards.
   */
  private async deliver(
    run: Run,
    output: OutputWriter,
    current: Snapshot,
    nextSequence: Record<string, number>,
  ): Promise<void> {
    const signal = run.abort.signal;
    let snapshot = current;
    let unsent: PendingBatch[] =
      snapshot.pending.length === 0 ? [] : await output.send(snapshot.pending, signal);
    while (unsent.length > 0) {
      await output.reopen([...new Set(unsent.map((batch) => batch.shardId))], signal);
      const sequences = { ...nextSequence };
      const pending = output.renumber(unsent, sequences);
      snapshot = {
        ...snapshot,
        leaseEpoch: run.lease.leaseEpoch,
        writtenAtMs: this.clock(),
        nextSequence: sequences,
        pending,
      };
      await this.saveSnapshot(run, snapshot);
      Object.assign(nextSequence, sequences);
      this.snapshotsWritten += 1;
      this.outputBatchesRenumbered += unsent.length;
      unsent = await output.send(pending, signal);
    }
  }

  private report(error: unknown): void {
    this.options.onError?.(error);
  }
}
