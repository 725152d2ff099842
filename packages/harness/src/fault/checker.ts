/**
 * The campaign's checker: from the history, the final read of the stream (every shard from
 * TRIM_HORIZON in lineage order) and the replicas' log checksums, it proves or refutes
 * - no loss: every acknowledged record is in the final read, at the shard and sequence number of
 *   its acknowledgement;
 * - no phantom: every record read was sent by a producer (it parses, and was invoked);
 * - no conflict: no sequence number shows two different records;
 * - order: per producer and key, acknowledged records are read in acknowledgement order;
 * - nothing taken back: every record a live reader saw is in the final read at the same place;
 * - identical replicas: every group's committed log has one checksum on all replicas;
 * and counts what is allowed but worth knowing: failed records that became visible, unknown
 * outcomes (visible or not), duplicates (a record read more than once), and, per fault, the
 * longest time writes to a shard were not acknowledged.
 */
import type { FaultDescription, HistoryEvent } from "./history.js";
import { decodeRecordData } from "./history.js";

/** One shard of the final read, records in shard order; shards in lineage order. */
export interface FinalShardRead {
  readonly shardId: string;
  readonly records: readonly { readonly sequenceNumber: string; readonly data: Uint8Array }[];
}

/** One group's committed-log checksum on each replica, up to the same index. */
export interface ReplicaComparison {
  readonly groupId: number;
  readonly upToIndex: number;
  /** node id → checksum */
  readonly checksums: ReadonlyMap<number, string>;
}

export interface FaultUnavailability {
  readonly fault: FaultDescription;
  readonly startMs: number;
  readonly endMs: number;
  /** The longest gap between acknowledgements of one shard from the fault's start to its recovery. */
  readonly maxUnavailableMs: number;
  readonly shardId: string;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly operations: number;
  readonly recordsSent: number;
  readonly acknowledged: number;
  /** Records that came back with an ErrorCode, or whose call certainly failed. */
  readonly failed: number;
  /** Records of calls with an unknown outcome. */
  readonly unknown: number;
  readonly failedVisible: number;
  readonly unknownVisible: number;
  readonly lost: number;
  readonly phantoms: number;
  readonly conflicts: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly takenBack: number;
  readonly divergentGroups: number;
  readonly comparedGroups: number;
  /** Node processes that exited without the nemesis killing them. */
  readonly crashes: number;
  readonly recordsRead: number;
  readonly faults: readonly FaultUnavailability[];
  /** Up to 20 descriptions of what went wrong. */
  readonly problems: readonly string[];
  /** Where the copies of the first DUPLICATES_DETAILED_MAX duplicated records are (see DuplicateDetail). */
  readonly duplicates: readonly DuplicateDetail[];
}

/** One copy of a duplicated record in the final read. */
export interface DuplicateCopy {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** "index/offset": the log entry and the position in its batch the sequence number names. */
  readonly entry: string;
  /** When a live reader first returned this copy (ms since the start); undefined when none did. */
  readonly firstReadMs: number | undefined;
  /** The last nemesis events (start or heal) before the copy was first read, oldest first. */
  readonly faultsBefore: readonly string[];
}

/**
 * A record read more than once, with what the history says of it: when it was handed to the
 * producer, how its operation ended (acknowledged at which place, given up with which error) and
 * where each copy is. The producer id and sequence of the batch trailer are not readable through
 * the public or admin API, so they are not shown.
 */
export interface DuplicateDetail {
  /** "producer:seq" of the workload. */
  readonly record: string;
  readonly key: number;
  readonly outcome: "ok" | "failed" | "unknown";
  readonly invokedMs: number;
  /** When its operation ended (acknowledged or given up); undefined when it never did. */
  readonly settledMs: number | undefined;
  /** "shard@sequence number" of the acknowledgement, or the error the operation ended with. */
  readonly settledAs: string;
  readonly copies: readonly DuplicateCopy[];
}

export interface CheckInput {
  readonly events: readonly HistoryEvent[];
  readonly finalRead: readonly FinalShardRead[];
  readonly replicas: readonly ReplicaComparison[];
  readonly crashes?: readonly string[];
  /** Whether a record read twice is allowed (plain PutRecords) or fails the check (idempotent producer). @default true */
  readonly duplicatesAllowed?: boolean;
  /** After a fault is healed, unavailability is still counted this long. @default 5000 */
  readonly recoveryWindowMs?: number;
}

type Outcome = "pending" | "ok" | "failed" | "unknown";

interface SentRecord {
  readonly key: number;
  outcome: Outcome;
  shardId: string;
  sequenceNumber: string;
  readonly invokedMs: number;
  settledMs: number | undefined;
  /** The error of a failed or unknown outcome. */
  error: string;
}

const PROBLEMS_MAX = 20;
/** Duplicated records described in full (the rest are only counted): the check stays cheap. */
export const DUPLICATES_DETAILED_MAX = 20;
/** Nemesis events listed before each copy of a duplicate. */
const FAULTS_BEFORE_COPY_MAX = 3;

export function checkHistory(input: CheckInput): CheckResult {
  const problems: string[] = [];
  const note = (text: string): void => {
    if (problems.length < PROBLEMS_MAX) problems.push(text);
  };
  const sent = new Map<string, SentRecord>();
  const callRecords = new Map<string, string[]>();
  const ackTimesByShard = new Map<string, number[]>();
  const faultStarts = new Map<number, { fault: FaultDescription; startMs: number; endMs: number }>();
  let operations = 0;
  for (const event of input.events) {
    if (event.f === "put") {
      const callKey = `${event.process}/${event.call}`;
      if (event.type === "invoke") {
        operations += 1;
        const ids: string[] = [];
        for (const id of event.records) {
          const name = `${id.producer}:${id.seq}`;
          ids.push(name);
          sent.set(name, {
            key: id.key,
            outcome: "pending",
            shardId: "",
            sequenceNumber: "",
            invokedMs: event.t,
            settledMs: undefined,
            error: "",
          });
        }
        callRecords.set(callKey, ids);
      } else if (event.type === "ok") {
        for (const result of event.results) {
          const record = sent.get(`${event.process}:${result.seq}`);
          if (record === undefined) continue;
          record.settledMs = event.t;
          if ("error" in result) {
            record.outcome = "failed";
            record.error = result.error;
          } else {
            record.outcome = "ok";
            record.shardId = result.shardId;
            record.sequenceNumber = result.sequenceNumber;
            let times = ackTimesByShard.get(result.shardId);
            if (times === undefined) {
              times = [];
              ackTimesByShard.set(result.shardId, times);
            }
            if (times[times.length - 1] !== event.t) times.push(event.t);
          }
        }
      } else {
        for (const name of callRecords.get(callKey) ?? []) {
          const record = sent.get(name);
          if (record === undefined) continue;
          record.outcome = event.type === "fail" ? "failed" : "unknown";
          record.settledMs = event.t;
          record.error = event.error;
        }
      }
    } else if (event.f === "fault") {
      if (event.type === "invoke") {
        faultStarts.set(event.fault.id, { fault: event.fault, startMs: event.t, endMs: event.t });
      } else {
        const started = faultStarts.get(event.fault.id);
        if (started !== undefined) started.endMs = event.t;
      }
    }
  }
  // A call still pending at the end never completed: unknown.
  for (const record of sent.values()) if (record.outcome === "pending") record.outcome = "unknown";

  // The final read.
  const bySequence = new Map<string, string>();
  const seen = new Map<string, number>();
  const lastSeqByProducerKey = new Map<string, number>();
  let phantoms = 0;
  let conflicts = 0;
  let reordered = 0;
  let recordsRead = 0;
  for (const shard of input.finalRead) {
    for (const record of shard.records) {
      recordsRead += 1;
      const id = decodeRecordData(record.data);
      const text = Buffer.from(record.data).toString("latin1");
      const where = `${shard.shardId}@${record.sequenceNumber}`;
      const previous = bySequence.get(record.sequenceNumber);
      if (previous !== undefined && previous !== text) {
        conflicts += 1;
        note(
          `sequence number ${record.sequenceNumber} holds both ${JSON.stringify(previous)} and ${JSON.stringify(text)}`,
        );
      }
      bySequence.set(record.sequenceNumber, text);
      if (id === undefined) {
        phantoms += 1;
        note(`${where} holds ${JSON.stringify(text.slice(0, 40))}, which no producer writes`);
        continue;
      }
      const name = `${id.producer}:${id.seq}`;
      const sentRecord = sent.get(name);
      if (sentRecord === undefined || sentRecord.key !== id.key) {
        phantoms += 1;
        note(`${where} holds record ${text}, which was never sent`);
        continue;
      }
      const count = (seen.get(name) ?? 0) + 1;
      seen.set(name, count);
      if (count > 1 || sentRecord.outcome !== "ok") continue;
      const orderKey = `${id.producer}/${id.key}`;
      const last = lastSeqByProducerKey.get(orderKey) ?? -1;
      if (id.seq < last) {
        reordered += 1;
        note(
          `producer ${id.producer} key ${id.key}: record ${id.seq} read after record ${last}, acknowledged before it`,
        );
      } else {
        lastSeqByProducerKey.set(orderKey, id.seq);
      }
    }
  }
  const textAt = new Map<string, string>();
  for (const shard of input.finalRead) {
    for (const record of shard.records) {
      textAt.set(`${shard.shardId}@${record.sequenceNumber}`, Buffer.from(record.data).toString("latin1"));
    }
  }

  let acknowledged = 0;
  let failed = 0;
  let unknown = 0;
  let failedVisible = 0;
  let unknownVisible = 0;
  let lost = 0;
  let duplicated = 0;
  for (const [name, record] of sent) {
    const count = seen.get(name) ?? 0;
    if (count > 1) duplicated += count - 1;
    if (record.outcome === "ok") {
      acknowledged += 1;
      const [producer, seq] = name.split(":");
      const found = textAt.get(`${record.shardId}@${record.sequenceNumber}`);
      if (found !== `${producer}:${seq}:${record.key}`) {
        lost += 1;
        note(
          `acknowledged record ${name} (key ${record.key}) is not at ${record.shardId}@${record.sequenceNumber}${count > 0 ? " (it is elsewhere)" : ""}; found ${found === undefined ? "nothing" : JSON.stringify(found)}`,
        );
      }
    } else if (record.outcome === "failed") {
      failed += 1;
      if (count > 0) failedVisible += 1;
    } else {
      unknown += 1;
      if (count > 0) unknownVisible += 1;
    }
  }

  // What the live reader saw must still be there.
  let takenBack = 0;
  for (const event of input.events) {
    if (event.f !== "read") continue;
    for (const [sequenceNumber, text] of event.records) {
      const found = textAt.get(`${event.shardId}@${sequenceNumber}`);
      if (found !== text) {
        takenBack += 1;
        note(
          `a live reader saw ${JSON.stringify(text)} at ${event.shardId}@${sequenceNumber}; the final read has ${found === undefined ? "nothing" : JSON.stringify(found)} there`,
        );
      }
    }
  }

  let divergentGroups = 0;
  for (const group of input.replicas) {
    if (new Set(group.checksums.values()).size > 1) {
      divergentGroups += 1;
      note(
        `group ${group.groupId} diverges up to index ${group.upToIndex}: ${[...group.checksums].map(([node, sum]) => `node ${node} ${sum.slice(0, 12)}`).join(", ")}`,
      );
    }
  }
  for (const crash of input.crashes ?? []) note(`crash: ${crash}`);

  const recoveryWindowMs = input.recoveryWindowMs ?? 5_000;
  const faults: FaultUnavailability[] = [];
  for (const { fault, startMs, endMs } of faultStarts.values()) {
    let worst = 0;
    let worstShard = "";
    const until = endMs + recoveryWindowMs;
    for (const [shardId, times] of ackTimesByShard) {
      // Only shards that were taking writes when the fault began.
      if (!times.some((t) => t < startMs)) continue;
      let previous = startMs;
      let gap = 0;
      for (const t of times) {
        if (t < startMs) continue;
        gap = Math.max(gap, t - previous);
        previous = t;
        if (t > until) break;
      }
      if (gap > worst) {
        worst = gap;
        worstShard = shardId;
      }
    }
    faults.push({ fault, startMs, endMs, maxUnavailableMs: worst, shardId: worstShard });
  }

  const duplicates = describeDuplicates(input, sent, seen);

  const crashes = input.crashes?.length ?? 0;
  const ok =
    lost === 0 &&
    phantoms === 0 &&
    conflicts === 0 &&
    reordered === 0 &&
    takenBack === 0 &&
    divergentGroups === 0 &&
    crashes === 0 &&
    (input.duplicatesAllowed !== false || duplicated === 0);
  return {
    ok,
    operations,
    recordsSent: sent.size,
    acknowledged,
    failed,
    unknown,
    failedVisible,
    unknownVisible,
    lost,
    phantoms,
    conflicts,
    duplicated,
    reordered,
    takenBack,
    divergentGroups,
    comparedGroups: input.replicas.length,
    crashes,
    recordsRead,
    faults,
    problems,
    duplicates,
  };
}

/**
 * The first DUPLICATES_DETAILED_MAX duplicated records in final-read order, each with its copies,
 * when a live reader first saw each copy and the nemesis events just before that. Bounded: one
 * pass over the final read and one over the history, keyed by the few records described.
 */
function describeDuplicates(
  input: CheckInput,
  sent: ReadonlyMap<string, SentRecord>,
  seen: ReadonlyMap<string, number>,
): DuplicateDetail[] {
  const copies = new Map<string, { shardId: string; sequenceNumber: string }[]>();
  for (const shard of input.finalRead) {
    for (const record of shard.records) {
      const id = decodeRecordData(record.data);
      if (id === undefined) continue;
      const name = `${id.producer}:${id.seq}`;
      if ((seen.get(name) ?? 0) < 2) continue;
      let list = copies.get(name);
      if (list === undefined) {
        if (copies.size >= DUPLICATES_DETAILED_MAX) continue;
        list = [];
        copies.set(name, list);
      }
      list.push({ shardId: shard.shardId, sequenceNumber: record.sequenceNumber });
    }
  }
  if (copies.size === 0) return [];
  const wanted = new Map<string, number | undefined>();
  for (const list of copies.values())
    for (const copy of list) wanted.set(`${copy.shardId}@${copy.sequenceNumber}`, undefined);
  const faultEvents: { t: number; text: string }[] = [];
  for (const event of input.events) {
    if (event.f === "fault") {
      const what = event.type === "invoke" ? "started" : event.type === "ok" ? "healed" : "failed";
      faultEvents.push({
        t: event.t,
        text: `t=${event.t} ${event.fault.kind} #${event.fault.id} ${what} (${event.fault.detail}; nodes ${event.fault.nodes.join(",")})`,
      });
    } else if (event.f === "read") {
      for (const [sequenceNumber] of event.records) {
        const where = `${event.shardId}@${sequenceNumber}`;
        if (wanted.has(where) && wanted.get(where) === undefined) wanted.set(where, event.t);
      }
    }
  }
  const faultsBefore = (t: number | undefined): string[] => {
    if (t === undefined) return [];
    // Events are logged in time order: the last ones at or before t.
    let hi = faultEvents.length;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((faultEvents[mid] as { t: number }).t <= t) lo = mid + 1;
      else hi = mid;
    }
    return faultEvents.slice(Math.max(0, lo - FAULTS_BEFORE_COPY_MAX), lo).map((event) => event.text);
  };
  const details: DuplicateDetail[] = [];
  for (const [name, list] of copies) {
    const record = sent.get(name) as SentRecord;
    details.push({
      record: name,
      key: record.key,
      outcome: record.outcome === "pending" ? "unknown" : record.outcome,
      invokedMs: record.invokedMs,
      settledMs: record.settledMs,
      settledAs: record.outcome === "ok" ? `${record.shardId}@${record.sequenceNumber}` : record.error,
      copies: list.map((copy) => {
        const firstReadMs = wanted.get(`${copy.shardId}@${copy.sequenceNumber}`);
        return {
          ...copy,
          entry: entryOfSequenceNumber(copy.sequenceNumber),
          firstReadMs,
          faultsBefore: faultsBefore(firstReadMs),
        };
      }),
    });
  }
  return details;
}

/**
 * "index/offset" of a Sluice sequence number ("1" | 16-digit entry index | 5-digit offset |
 * 12-digit shard number), or "?" for anything else.
 */
function entryOfSequenceNumber(sequenceNumber: string): string {
  if (!/^1\d{33}$/.test(sequenceNumber)) return "?";
  return `${Number(sequenceNumber.slice(1, 17))}/${Number(sequenceNumber.slice(17, 22))}`;
}
