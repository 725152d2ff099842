/**
 * The campaign's history, as Jepsen keeps one: every operation is logged when it is invoked and
 * again when it completes — `ok`, `fail` (it certainly did not happen) or `unknown` (it may have)
 * — with its time in ms since the campaign started. Faults are logged the same way (`f: "fault"`,
 * invoke when injected, ok when healed), and what the live readers saw as `f: "read"` events.
 * Events are kept in memory for the checker and appended to a JSON-lines file when one is given.
 */
import { appendFileSync, closeSync, openSync } from "node:fs";

/** One record a producer sends: producer id, the producer's sequence number and the key. */
export interface RecordId {
  readonly producer: number;
  readonly seq: number;
  readonly key: number;
}

/** The outcome of one record of an acknowledged PutRecords call. */
export type PutRecordResult =
  | { readonly seq: number; readonly shardId: string; readonly sequenceNumber: string }
  | { readonly seq: number; readonly error: string };

export interface FaultDescription {
  readonly id: number;
  /** The fault's kind, as the report groups them: kill, pause, isolate, leader-cut, … */
  readonly kind: string;
  /** Which nodes it hit (the node, the isolated side, …). */
  readonly nodes: readonly number[];
  /** How the target was chosen and anything else worth reading: "leader of group 1048577", … */
  readonly detail: string;
}

export type HistoryEvent =
  | {
      readonly t: number;
      readonly type: "invoke";
      readonly f: "put";
      readonly process: number;
      readonly call: number;
      readonly node: number;
      readonly records: readonly RecordId[];
    }
  | {
      readonly t: number;
      readonly type: "ok";
      readonly f: "put";
      readonly process: number;
      readonly call: number;
      readonly results: readonly PutRecordResult[];
    }
  | {
      readonly t: number;
      readonly type: "fail" | "unknown";
      readonly f: "put";
      readonly process: number;
      readonly call: number;
      readonly error: string;
    }
  | {
      readonly t: number;
      readonly type: "invoke" | "ok" | "fail";
      readonly f: "fault";
      readonly fault: FaultDescription;
      readonly error?: string;
    }
  | {
      readonly t: number;
      readonly type: "ok";
      readonly f: "read";
      readonly shardId: string;
      /** [sequence number, record text] of each record read, in shard order. */
      readonly records: readonly (readonly [string, string])[];
    }
  | { readonly t: number; readonly type: "info"; readonly f: "note"; readonly text: string };

/** An event as logged, before its time is stamped. */
export type HistoryInput = HistoryEvent extends infer E
  ? E extends HistoryEvent
    ? Omit<E, "t">
    : never
  : never;

export class History {
  readonly events: HistoryEvent[] = [];
  readonly startedAtMs: number;
  readonly #fd: number | undefined;

  /** `file`: a JSON-lines file the events are appended to (created or truncated). */
  constructor(file?: string) {
    this.startedAtMs = Date.now();
    this.#fd = file === undefined ? undefined : openSync(file, "w");
  }

  /** Ms since the history started. */
  now(): number {
    return Date.now() - this.startedAtMs;
  }

  log(event: HistoryInput): HistoryEvent {
    const stamped = { t: this.now(), ...event } as HistoryEvent;
    this.events.push(stamped);
    if (this.#fd !== undefined) appendFileSync(this.#fd, `${JSON.stringify(stamped)}\n`);
    return stamped;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }
}

/** The data of a workload record: "producer:seq:key" in ASCII, so any reader can tell what it is. */
export function encodeRecordData(id: RecordId): Buffer {
  return Buffer.from(`${id.producer}:${id.seq}:${id.key}`, "latin1");
}

/** Parses a record's data written by the workload; undefined for anything else. */
export function decodeRecordData(data: Uint8Array): RecordId | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString("latin1");
  const match = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (match === null) return undefined;
  return { producer: Number(match[1]), seq: Number(match[2]), key: Number(match[3]) };
}

/** The partition key of workload key `key`. */
export function workloadPartitionKey(key: number): string {
  return `key-${key}`;
}
