// Proves invariant 1 through the public API on three real node processes: while writers keep
// sending PutRecords through a surviving node, SIGKILL of the node that leads shard 0 loses no
// acknowledged record (each is readable afterwards from every node, the restarted one included),
// and SIGKILL of a node that leads no shard costs no write at all. It reports (never asserts) the
// worst gap between two successful acknowledgements into shard 0 around the kill.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  readShard,
  StreamsCallError,
  shardGroupIds,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19820-19831.
const BASE_PORT = 19_820;
const STREAM_NAME = "failover";
const SHARD_COUNT = 2;
const RECORDS_PER_REQUEST = 50;
const WRITERS = 2;
/** Writes go on this long after a kill, so the new leader's acknowledgements are measured. */
const WRITE_AFTER_KILL_MS = 5_000;
/** Records acknowledged before the kill, so the kill lands mid-stream. */
const RECORDS_BEFORE_KILL = 1_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

interface WriteLog {
  /** Acknowledged records: data (unique) → the shard and sequence number of the ack. */
  readonly acked: Map<string, { shardId: string; sequenceNumber: string }>;
  /** Records that failed with an ErrorCode, by code. */
  readonly failedByCode: Map<string, number>;
  /** Requests that failed as a whole, by error code. */
  readonly failedRequestsByCode: Map<string, number>;
  /** When (ms, Date.now()) each response with at least one success in shard 0 arrived. */
  readonly shardZeroAckTimes: number[];
  requests: number;
}

/**
 * Closed-loop writers through one node until `stop()` returns true: PutRecords of
 * RECORDS_PER_REQUEST records with distinct keys and unique data. A failed record is not sent
 * again (the test counts what was acknowledged, and a record reported failed may be either way).
 */
async function write(nodeId: number, runId: string, stop: () => boolean, log: WriteLog): Promise<void> {
  const client = cluster.streams(nodeId);
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      while (!stop()) {
        const records = Array.from({ length: RECORDS_PER_REQUEST }, () => {
          const id = `${runId}-${writer}-${next++}`;
          return { partitionKey: id, data: Buffer.from(id), explicitHashKey: "" };
        });
        log.requests += 1;
        try {
          const response = await client.putRecords({ streamName: STREAM_NAME, records });
          let shardZeroAcked = false;
          let failed = 0;
          response.records.forEach((result, position) => {
            const id = records[position]?.data.toString() ?? "";
            if (result.errorCode !== "") {
              failed += 1;
              log.failedByCode.set(result.errorCode, (log.failedByCode.get(result.errorCode) ?? 0) + 1);
              return;
            }
            log.acked.set(id, { shardId: result.shardId, sequenceNumber: result.sequenceNumber });
            if (result.shardId === shardIdOf(0)) shardZeroAcked = true;
          });
          expect(response.failedRecordCount).toBe(failed);
          if (shardZeroAcked) log.shardZeroAckTimes.push(Date.now());
        } catch (error) {
          if (!(error instanceof StreamsCallError)) throw error;
          log.failedRequestsByCode.set(error.code, (log.failedRequestsByCode.get(error.code) ?? 0) + 1);
        }
      }
    }),
  );
}

function newWriteLog(): WriteLog {
  return {
    acked: new Map(),
    failedByCode: new Map(),
    failedRequestsByCode: new Map(),
    shardZeroAckTimes: [],
    requests: 0,
  };
}

function shardIdOf(position: number): string {
  return `shardId-${String(position).padStart(12, "0")}`;
}

/** Waits until `nodeId` serves every acknowledged record of `log`, each at its acknowledged place. */
async function expectAllReadable(nodeId: number, log: WriteLog): Promise<void> {
  const shardIds = Array.from({ length: SHARD_COUNT }, (_, position) => shardIdOf(position));
  const missing = await waitFor(
    async () => {
      const readable = new Map<string, { shardId: string; sequenceNumber: string }>();
      for (const shardId of shardIds) {
        const records = await readShard(cluster.streams(nodeId), { streamName: STREAM_NAME, shardId });
        for (const record of records) {
          readable.set(`${Buffer.from(record.data).toString()}@${record.sequenceNumber}`, {
            shardId,
            sequenceNumber: record.sequenceNumber,
          });
        }
      }
      const absent: string[] = [];
      for (const [id, ack] of log.acked) {
        const found = readable.get(`${id}@${ack.sequenceNumber}`);
        if (found === undefined || found.shardId !== ack.shardId) absent.push(id);
      }
      return absent.length === 0 ? absent : undefined;
    },
    { timeoutMs: 30_000, what: `node ${nodeId} to serve all ${log.acked.size} acknowledged records` },
  );
  expect(missing).toEqual([]);
}

function worstGapMs(times: readonly number[], from: number, to: number): number {
  let worst = 0;
  let previous = from;
  for (const time of times) {
    if (time < from) continue;
    if (time > to) break;
    worst = Math.max(worst, time - previous);
    previous = time;
  }
  return Math.max(worst, to - previous);
}

function medianGapMs(times: readonly number[]): number {
  const gaps = times.slice(1).map((time, position) => time - (times[position] ?? time));
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] ?? 0;
}

function codes(map: ReadonlyMap<string, number>): string {
  return map.size === 0 ? "none" : [...map].map(([code, count]) => `${code} ×${count}`).join(", ");
}

describe("failover through the public API", () => {
  it("keeps every acknowledged record when the leader of shard 0 is SIGKILLed mid-stream", async () => {
    await cluster.streams(1).createActiveStream({
      streamName: STREAM_NAME,
      shardCount: SHARD_COUNT,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    const groups = await shardGroupIds(cluster);
    expect(groups).toHaveLength(SHARD_COUNT);
    const shardZeroGroup = groups[0] ?? 0;
    let victim = await cluster.leaderOf(shardZeroGroup);
    // The admin GroupStatus call takes shard groups only; NodeStatus lists every group a node leads.
    const metadataLeader = await metadataLeaderOf(cluster);
    // The harder case is a node that leads both shard 0 and the metadata group: move shard 0 there
    // when that node leads no shard yet (so the controller has no imbalance to undo).
    const shardLeaders = await Promise.all(groups.map((groupId) => cluster.leaderOf(groupId)));
    if (metadataLeader !== 0 && victim !== metadataLeader && !shardLeaders.includes(metadataLeader)) {
      // Best effort: if the transfer does not happen, the test goes on with whoever leads.
      await cluster
        .admin(victim)
        .transferLeader(shardZeroGroup, metadataLeader)
        .catch(() => undefined);
      victim = await waitFor(
        async () => {
          const leader = await cluster.leaderOf(shardZeroGroup);
          return leader === metadataLeader ? leader : undefined;
        },
        { timeoutMs: 15_000, what: `shard 0's leadership to move to node ${metadataLeader}` },
      ).catch(() => cluster.leaderOf(shardZeroGroup));
    }
    const writerNode = cluster.nodeIds.find((nodeId) => nodeId !== victim) ?? 1;
    console.log(
      `failover: shard 0 is group ${shardZeroGroup}, led by node ${victim} (metadata group led by node ${metadataLeader}); writing through node ${writerNode}`,
    );
    const victimLeadsMetadata = victim === metadataLeader;
    await waitFor(
      async () =>
        (await cluster.streams(writerNode).describeStreamSummary({ streamName: STREAM_NAME }))
          .streamDescriptionSummary !== undefined,
      { timeoutMs: 30_000, what: `node ${writerNode} to know stream ${STREAM_NAME}` },
    );

    const log = newWriteLog();
    let killedAt = 0;
    const writing = write(
      writerNode,
      "leader-kill",
      () => killedAt !== 0 && Date.now() > killedAt + WRITE_AFTER_KILL_MS,
      log,
    );
    await waitFor(() => log.acked.size >= RECORDS_BEFORE_KILL, {
      timeoutMs: 30_000,
      what: `${RECORDS_BEFORE_KILL} records acknowledged before the kill`,
    });
    // The group must really hold shard 0: its first entry holds a record acknowledged there.
    const firstEntry = (await cluster.admin(victim).read(shardZeroGroup, 1, { maxRecords: 1 })).records[0];
    expect(firstEntry).toBeDefined();
    expect(log.acked.get(firstEntry?.data.toString() ?? "")?.shardId ?? shardIdOf(0)).toBe(shardIdOf(0));

    // Leadership may have moved since (the controller balances leaders); the check is only
    // meaningful against the current leader, so confirm it right before the kill.
    let leaderAtKill = await cluster.leaderOf(shardZeroGroup);
    if (leaderAtKill === writerNode) {
      // It moved to the writers' node: hand it back, so the writers' gateway survives the kill.
      await cluster.admin(writerNode).transferLeader(shardZeroGroup, victim);
      leaderAtKill = await waitFor(
        async () => {
          const leader = await cluster.leaderOf(shardZeroGroup);
          return leader !== writerNode ? leader : undefined;
        },
        { timeoutMs: 15_000, what: `shard 0's leadership to leave node ${writerNode}` },
      );
    }
    victim = leaderAtKill;
    const ackedBeforeKill = log.acked.size;
    const typicalGapMs = medianGapMs(log.shardZeroAckTimes);
    killedAt = Date.now();
    await cluster.kill(victim, "SIGKILL");
    await writing;
    const stoppedAt = Date.now();
    const gap = worstGapMs(log.shardZeroAckTimes, killedAt, stoppedAt);
    const newLeader = await cluster.leaderOf(shardZeroGroup);
    const summary = {
      victim,
      victimLeadsMetadata,
      newLeader,
      writerNode,
      ackedBeforeKill,
      acked: log.acked.size,
      requests: log.requests,
      failedRecords: Object.fromEntries(log.failedByCode),
      failedRequests: Object.fromEntries(log.failedRequestsByCode),
      worstShardZeroAckGapMs: gap,
      medianShardZeroAckGapBeforeKillMs: typicalGapMs,
    };
    console.log(
      `failover: after SIGKILL of node ${victim} (leader of shard 0${victimLeadsMetadata ? " and of the metadata group" : ""}), the worst gap between successful acknowledgements into shard 0 was ${gap} ms (issue #5 asks for writes to resume within 2,000 ms; the median gap before the kill was ${typicalGapMs} ms); new leader node ${newLeader}; ${log.acked.size} records acknowledged (${ackedBeforeKill} before the kill) in ${log.requests} requests; failed records: ${codes(log.failedByCode)}; failed requests: ${codes(log.failedRequestsByCode)}`,
    );
    writeResult("failover-leader-kill", summary);
    // Only the outcomes Kinesis allows: a record either succeeds or fails with InternalFailure
    // (ambiguous: it may be written, and is then readable, which the check below tolerates).
    for (const code of log.failedByCode.keys()) expect(code).toBe("InternalFailure");

    await cluster.restart(victim);
    for (const nodeId of cluster.nodeIds) await expectAllReadable(nodeId, log);
  }, 90_000);

  it("loses no write when a node that leads no shard is SIGKILLed", async () => {
    const groups = await shardGroupIds(cluster);
    // With two shards on three nodes one node leads neither, unless leadership is still moving.
    const victim = await waitFor(
      async () => {
        const current = await Promise.all(groups.map((groupId) => cluster.leaderOf(groupId)));
        return cluster.nodeIds.find((nodeId) => !current.includes(nodeId));
      },
      { timeoutMs: 15_000, what: "a node that leads no shard" },
    );
    const writerNode = cluster.nodeIds.find((nodeId) => nodeId !== victim) ?? 1;
    const log = newWriteLog();
    let killedAt = 0;
    const writing = write(
      writerNode,
      "follower-kill",
      () => killedAt !== 0 && Date.now() > killedAt + WRITE_AFTER_KILL_MS / 2,
      log,
    );
    await waitFor(() => log.acked.size >= RECORDS_BEFORE_KILL, {
      timeoutMs: 30_000,
      what: `${RECORDS_BEFORE_KILL} records acknowledged before the kill`,
    });
    killedAt = Date.now();
    await cluster.kill(victim, "SIGKILL");
    await writing;
    console.log(
      `failover: after SIGKILL of node ${victim} (leading no shard), writing through node ${writerNode}: ${log.acked.size} records acknowledged in ${log.requests} requests; failed records: ${codes(log.failedByCode)}; failed requests: ${codes(log.failedRequestsByCode)}`,
    );
    expect(Object.fromEntries(log.failedByCode)).toEqual({});
    expect(Object.fromEntries(log.failedRequestsByCode)).toEqual({});
    await cluster.restart(victim);
    await expectAllReadable(victim, log);
  }, 90_000);
});

/** The node whose NodeStatus says it leads group 0 (the metadata group), or 0 when none does. */
async function metadataLeaderOf(testCluster: TestCluster): Promise<number> {
  for (const nodeId of testCluster.runningNodeIds()) {
    if ((await testCluster.admin(nodeId).nodeStatus()).ledGroupIds.includes(0)) return nodeId;
  }
  return 0;
}

/** Writes a result next to the benchmarks' (bench-results/ is git-ignored). */
function writeResult(name: string, result: Record<string, unknown>): void {
  const directory = join(import.meta.dirname, "..", "..", "..", "bench-results");
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    join(directory, `${name}-${new Date().toISOString().replaceAll(":", "-")}.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );
}
