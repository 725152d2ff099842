/**
 * The workloads of issue #11, identical for every target (only the driver differs):
 * (a) closed-loop PutRecords of `batchRecords` × 1 KiB records with random keys from `producers`
 *     concurrent producers; (b) closed-loop single PutRecord with each count of callers;
 * (c) put → receive latency at a fixed rate (open loop) with a consumer on every shard, polling
 *     GetRecords or subscribed; (d) CPU and memory of every server process during each of them.
 * Each runs on a fresh stream, after a warm-up that is not measured.
 */
import { randomBytes } from "node:crypto";
import { LatencyRecorder, waitFor } from "@sluice/harness";
import {
  BATCH_RECORDS_MAX,
  CONSUMER_LIVE_TIMEOUT_MS,
  DELIVERY_DRAIN_TIMEOUT_MS,
  DELIVERY_PACE_INTERVAL_MS,
  DELIVERY_WARM_UP_RECORDS,
  KEY_POOL_SIZE,
  RECORD_BYTES,
} from "./constants.ts";
import { ResourceMeter, type Resources, round } from "./resources.ts";
import {
  type BenchRecord,
  type BenchTarget,
  type ConsumeMode,
  DELIVERY_PHASE_MEASURED,
  DELIVERY_PHASE_OFFSET,
  DELIVERY_PHASE_WARM_UP,
  nowMs,
  type TargetName,
} from "./target.ts";

export interface LatencyFigures {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface WorkloadResult {
  readonly target: TargetName;
  /** put-records, put-record-<callers>, delivery-poll, delivery-subscribe. */
  readonly workload: string;
  /** Why it has no figures (not offered by the target, or it failed), else absent. */
  readonly skipped?: string;
  /** Records acknowledged (puts) or delivered (delivery) while measuring. */
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly mibPerSecond: number;
  /** Per call (puts) or per record from send to receipt (delivery), ms. */
  readonly latencyMs: LatencyFigures;
  readonly failedRecords: number;
  readonly failedCalls: number;
  readonly consumerErrors?: number;
  readonly lastError?: string;
  readonly resources?: Resources;
}

export interface WorkloadSettings {
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly shardCount: number;
  readonly producers: number;
  readonly batchRecords: number;
  readonly deliveryRatePerSecond: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

const keyPool = Array.from({ length: KEY_POOL_SIZE }, () => randomBytes(12).toString("base64url"));
const payload = randomBytes(RECORD_BYTES);

function randomKey(): string {
  return keyPool[Math.floor(Math.random() * KEY_POOL_SIZE)] as string;
}

function randomRecords(count: number): BenchRecord[] {
  return Array.from({ length: count }, () => ({ partitionKey: randomKey(), data: payload }));
}

function figures(latency: LatencyRecorder): LatencyFigures {
  const summary = latency.summary();
  return {
    count: summary.count,
    p50: round(summary.p50, 3),
    p90: round(latency.quantile(0.9), 3),
    p99: round(summary.p99, 3),
    p999: round(summary.p999, 3),
    max: round(summary.max, 3),
    mean: round(summary.mean, 3),
  };
}

const NO_LATENCY: LatencyFigures = {
  count: 0,
  p50: Number.NaN,
  p90: Number.NaN,
  p99: Number.NaN,
  p999: Number.NaN,
  max: Number.NaN,
  mean: Number.NaN,
};

export function skippedResult(target: TargetName, workload: string, reason: string): WorkloadResult {
  return {
    target,
    workload,
    skipped: reason,
    records: 0,
    seconds: 0,
    recordsPerSecond: 0,
    mibPerSecond: 0,
    latencyMs: NO_LATENCY,
    failedRecords: 0,
    failedCalls: 0,
  };
}

function describeError(error: unknown): string {
  return `${(error as Error).name}: ${(error as Error).message}`.slice(0, 200);
}

interface ClosedLoopTotals {
  records: number;
  failedRecords: number;
  failedCalls: number;
  lastError: string;
  readonly latency: LatencyRecorder;
}

/**
 * Runs `callers` closed loops of `call` (which resolves to the records it got acknowledged and
 * the records that failed) for `seconds`; rates are over the time until the last call returned.
 */
async function closedLoop(
  callers: number,
  seconds: number,
  recordsPerCall: number,
  call: (caller: number) => Promise<number>,
): Promise<ClosedLoopTotals & { elapsedSeconds: number }> {
  const totals: ClosedLoopTotals = {
    records: 0,
    failedRecords: 0,
    failedCalls: 0,
    lastError: "",
    latency: new LatencyRecorder(),
  };
  const startedAt = performance.now();
  const endAt = startedAt + seconds * 1_000;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (performance.now() < endAt) {
        const begun = performance.now();
        try {
          const failed = await call(caller);
          totals.latency.record(performance.now() - begun);
          totals.records += recordsPerCall - failed;
          totals.failedRecords += failed;
        } catch (error) {
          totals.failedCalls += 1;
          totals.failedRecords += recordsPerCall;
          totals.lastError = describeError(error);
        }
      }
    }),
  );
  return { ...totals, elapsedSeconds: (performance.now() - startedAt) / 1_000 };
}

function closedLoopResult(
  target: BenchTarget,
  workload: string,
  run: ClosedLoopTotals & { elapsedSeconds: number },
  resources: Resources,
): WorkloadResult {
  return {
    target: target.name,
    workload,
    records: run.records,
    seconds: round(run.elapsedSeconds, 2),
    recordsPerSecond: Math.round(run.records / run.elapsedSeconds),
    mibPerSecond: round((run.records * RECORD_BYTES) / 1_048_576 / run.elapsedSeconds, 2),
    latencyMs: figures(run.latency),
    failedRecords: run.failedRecords,
    failedCalls: run.failedCalls,
    ...(run.lastError === "" ? {} : { lastError: run.lastError }),
    resources,
  };
}

/** (a) PutRecords of `batchRecords` records from `producers` concurrent producers, closed loop. */
export async function putRecordsWorkload(
  target: BenchTarget,
  streamName: string,
  settings: WorkloadSettings,
): Promise<WorkloadResult> {
  if (settings.batchRecords > BATCH_RECORDS_MAX) throw new Error(`batch of ${settings.batchRecords} > 500`);
  await target.driver.createStream(streamName, settings.shardCount);
  const call = (caller: number) =>
    target.driver.putRecords(streamName, randomRecords(settings.batchRecords), caller);
  await closedLoop(settings.producers, settings.warmUpSeconds, settings.batchRecords, call);
  const meter = new ResourceMeter(target.pids());
  const run = await closedLoop(settings.producers, settings.seconds, settings.batchRecords, call);
  return closedLoopResult(target, "put-records", run, meter.finish());
}

/** (b) One PutRecord at a time per caller, `callers` callers, closed loop. */
export async function putRecordWorkload(
  target: BenchTarget,
  streamName: string,
  callers: number,
  settings: WorkloadSettings,
): Promise<WorkloadResult> {
  await target.driver.createStream(streamName, settings.shardCount);
  const call = async (caller: number) => {
    await target.driver.putRecord(streamName, { partitionKey: randomKey(), data: payload }, caller);
    return 0;
  };
  await closedLoop(callers, settings.warmUpSeconds, 1, call);
  const meter = new ResourceMeter(target.pids());
  const run = await closedLoop(callers, settings.seconds, 1, call);
  return closedLoopResult(target, `put-record-${callers}`, run, meter.finish());
}

function deliveryRecords(count: number, phase: number): BenchRecord[] {
  const sentAt = nowMs();
  return Array.from({ length: count }, () => {
    const data = Buffer.allocUnsafe(RECORD_BYTES);
    payload.copy(data);
    data.writeDoubleLE(sentAt, 0);
    data[DELIVERY_PHASE_OFFSET] = phase;
    return { partitionKey: randomKey(), data };
  });
}

/**
 * (c) put → receive latency: a consumer on every shard (`mode`), then records stamped with their
 * send time put at `deliveryRatePerSecond` (open loop: every DELIVERY_PACE_INTERVAL_MS one
 * PutRecords with the records due, as a batching producer with a 5 ms linger sends, rotating over
 * the endpoints); latency = receipt − send, one clock (the same process sends and receives).
 */
export async function deliveryWorkload(
  target: BenchTarget,
  streamName: string,
  mode: ConsumeMode,
  settings: WorkloadSettings,
): Promise<WorkloadResult> {
  const workload = `delivery-${mode}`;
  if (!target.driver.consumeModes.includes(mode)) {
    return skippedResult(target.name, workload, `${target.name} offers no ${mode} consumer`);
  }
  const log = settings.log ?? (() => {});
  await target.driver.createStream(streamName, settings.shardCount);
  log(`${target.name}: ${workload}: stream ${streamName} created; opening the consumers`);
  const latency = new LatencyRecorder();
  let warmUpReceived = 0;
  let received = 0;
  const consumption = await target.driver.consume(streamName, mode, (data, at) => {
    if (data.length <= DELIVERY_PHASE_OFFSET) return;
    if (data[DELIVERY_PHASE_OFFSET] === DELIVERY_PHASE_MEASURED) {
      received += 1;
      latency.record(at - Buffer.from(data.buffer, data.byteOffset, data.byteLength).readDoubleLE(0));
    } else {
      warmUpReceived += 1;
    }
  });
  try {
    // The consumers are live once a whole warm-up batch (random keys: every shard) came through.
    let warmUpBatches = 0;
    await waitFor(
      async () => {
        const before = warmUpReceived;
        await target.driver.putRecords(
          streamName,
          deliveryRecords(DELIVERY_WARM_UP_RECORDS, DELIVERY_PHASE_WARM_UP),
          warmUpBatches++,
        );
        try {
          await waitFor(() => warmUpReceived - before >= DELIVERY_WARM_UP_RECORDS, {
            timeoutMs: 2_000,
            what: "a warm-up batch",
            intervalMs: 10,
          });
          return true;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: CONSUMER_LIVE_TIMEOUT_MS,
        what: `${target.name}'s ${mode} consumers to deliver a whole batch`,
      },
    );
    log(`${target.name}: ${workload}: consumers live after ${warmUpBatches} warm-up batch(es)`);
    const meter = new ResourceMeter(target.pids());
    let sent = 0;
    let failedRecords = 0;
    let failedCalls = 0;
    let lastError = "";
    let calls = 0;
    const inFlight = new Set<Promise<void>>();
    const startedAt = performance.now();
    const endAt = startedAt + settings.seconds * 1_000;
    while (performance.now() < endAt) {
      const due = Math.floor(((performance.now() - startedAt) / 1_000) * settings.deliveryRatePerSecond);
      if (due > sent) {
        const count = Math.min(due - sent, BATCH_RECORDS_MAX);
        const promise = target.driver
          .putRecords(streamName, deliveryRecords(count, DELIVERY_PHASE_MEASURED), calls)
          .then(
            (failed) => {
              failedRecords += failed;
            },
            (error: unknown) => {
              failedCalls += 1;
              failedRecords += count;
              lastError = describeError(error);
            },
          );
        sent += count;
        calls += 1;
        inFlight.add(promise);
        void promise.finally(() => inFlight.delete(promise));
      }
      await new Promise((resolve) => setTimeout(resolve, DELIVERY_PACE_INTERVAL_MS));
    }
    await Promise.all(inFlight);
    const sendSeconds = (performance.now() - startedAt) / 1_000;
    const expected = sent - failedRecords;
    await waitFor(() => received >= expected, {
      timeoutMs: DELIVERY_DRAIN_TIMEOUT_MS,
      what: `all ${expected} acknowledged records to be delivered`,
    }).catch((error: unknown) => {
      lastError = `${received} of ${expected} delivered: ${describeError(error)}`;
    });
    const resources = meter.finish();
    // The rate is what was delivered over the sending window (the drain after it is not load).
    const elapsedSeconds = sendSeconds;
    return {
      target: target.name,
      workload,
      records: received,
      seconds: round(elapsedSeconds, 2),
      recordsPerSecond: Math.round(received / elapsedSeconds),
      mibPerSecond: round((received * RECORD_BYTES) / 1_048_576 / elapsedSeconds, 2),
      latencyMs: figures(latency),
      failedRecords,
      failedCalls,
      consumerErrors: consumption.errors(),
      ...(lastError === "" ? {} : { lastError }),
      resources,
    };
  } finally {
    await consumption.close();
  }
}
