// Proves consumer groups on three real nodes under continuous writes: three worker processes
// share 16 shards evenly; after one is SIGKILLed its shards are processed again by the others
// (failover time printed); two more workers make the leases rebalance to 4 each; a reshard
// mid-run finishes parents before their children are leased; every acknowledged record is
// processed at least once; stored checkpoints never move backwards; a stale-epoch checkpoint is
// refused with LEASE_LOST; stopped workers leave the group.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { groups, streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../src/commands/common.js";
import { runGroupCommand } from "../src/commands/group.js";

// This file uses ports 19700-19711.
const BASE_PORT = 19_700;
const STREAM = "groups-failover";
const GROUP = "billing";
const SESSION_TIMEOUT_MS = 4_000;
const WORKER_SCRIPT = fileURLToPath(new URL("./groups-worker.mjs", import.meta.url));

interface WorkerEvent {
  readonly ev: string;
  readonly m: string;
  readonly t: number;
  readonly s?: string;
  readonly e?: number;
  readonly d?: readonly string[];
  readonly code?: string;
}

let cluster: TestCluster;
let groupClient: groups.ConsumerGroupServiceClient;
const events: WorkerEvent[] = [];
const workers = new Map<string, ChildProcess>();

function endpoints(): string {
  return cluster.nodeIds.map((id) => `127.0.0.1:${cluster.ports(id).grpc}`).join(",");
}

function startWorker(memberId: string): void {
  const child = spawn(
    process.execPath,
    [WORKER_SCRIPT, endpoints(), STREAM, GROUP, memberId, String(SESSION_TIMEOUT_MS)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) if (line !== "") events.push(JSON.parse(line) as WorkerEvent);
  });
  workers.set(memberId, child);
}

function unary<Req, Res>(method: string, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (groupClient as unknown as Record<string, (...args: unknown[]) => void>)[method]?.call(
      groupClient,
      request,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, response: Res) => (error === null ? resolve(response) : reject(error)),
    );
  });
}

function describeGroup(): Promise<groups.DescribeGroupResponse> {
  return unary(
    "describeGroup",
    groups.DescribeGroupRequest.fromPartial({ streamName: STREAM, groupName: GROUP }),
  );
}

function leaseCounts(description: groups.DescribeGroupResponse): Map<string, number> {
  return new Map(description.members.map((m) => [m.memberId, m.leaseCount]));
}

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  groupClient = new groups.ConsumerGroupServiceClient(
    `127.0.0.1:${cluster.ports(1).grpc}`,
    credentials.createInsecure(),
  );
}, 60_000);

afterAll(async () => {
  for (const child of workers.values()) child.kill("SIGKILL");
  groupClient?.close();
  await cluster?.stop();
}, 60_000);

describe("consumer groups on three nodes", () => {
  it("fails over, rebalances, finishes parents before children and processes every record", async () => {
    const client = cluster.streams(1);
    await client.createStream({ streamName: STREAM, shardCount: 16 });
    await client.waitStreamStatus(STREAM, streams.StreamStatus.STREAM_STATUS_ACTIVE, 30_000);

    // Continuous writes: numbered records, 16 keys' worth per call, until told to stop.
    const acknowledged = new Set<string>();
    let producing = true;
    let next = 0;
    const producer = (async () => {
      while (producing) {
        const batch = Array.from({ length: 32 }, () => `r-${next++}`);
        try {
          const response = await client.putRecords({
            streamName: STREAM,
            records: batch.map((data) => ({
              partitionKey: data,
              data: Buffer.from(data),
              explicitHashKey: "",
            })),
          });
          response.records.forEach((record, i) => {
            if (record.errorCode === "") acknowledged.add(batch[i] as string);
          });
        } catch {
          // Not acknowledged: not expected to be processed.
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    for (const id of ["w1", "w2", "w3"]) startWorker(id);
    await waitFor(
      async () => {
        const counts = [...leaseCounts(await describeGroup()).values()].sort();
        return counts.length === 3 && counts.join() === "5,5,6";
      },
      { timeoutMs: 30_000, what: "16 leases spread 6/5/5 over three workers" },
    );

    // Checkpoints never move backwards: sample every shard's stored checkpoint all along.
    const checkpoints = new Map<string, bigint>();
    const regressions: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const description = await describeGroup().catch(() => undefined);
        for (const shard of description?.shards ?? []) {
          if (shard.checkpointSequenceNumber === "") continue;
          const value = BigInt(shard.checkpointSequenceNumber);
          const before = checkpoints.get(shard.shardId);
          if (before !== undefined && value < before)
            regressions.push(`${shard.shardId}: ${before} → ${value}`);
          checkpoints.set(shard.shardId, value);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    // SIGKILL w3: its shards must be processed again by the others.
    const before = await describeGroup();
    const orphaned = before.shards.filter((s) => s.owner === "w3").map((s) => s.shardId);
    expect(orphaned.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    workers.get("w3")?.kill("SIGKILL");
    const failoverMs = await waitFor(
      () => {
        let latest = 0;
        for (const shardId of orphaned) {
          const first = events.find(
            (e) => e.ev === "rec" && e.s === shardId && e.m !== "w3" && e.t > killedAt,
          );
          if (first === undefined) return false;
          latest = Math.max(latest, first.t);
        }
        return latest - killedAt;
      },
      {
        timeoutMs: SESSION_TIMEOUT_MS + 20_000,
        what: "the killed worker's shards to be processed by the others",
      },
    );
    console.log(
      `consumer-group failover after SIGKILL: ${failoverMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms, target ≤ ${SESSION_TIMEOUT_MS + 1_000} ms)`,
    );

    // Two more workers: four members, four leases each.
    startWorker("w4");
    startWorker("w5");
    await waitFor(
      async () => {
        const counts = leaseCounts(await describeGroup());
        return counts.size === 4 && [...counts.values()].every((n) => n === 4);
      },
      { timeoutMs: 30_000, what: "leases to rebalance to 4 per worker" },
    );

    // Reshard mid-run: 16 → 8 (merges). Children are leased only after both parents ended.
    await client.updateShardCount({ streamName: STREAM, targetShardCount: 8, scalingType: 1 });
    await waitFor(
      async () => {
        const summary = await client.describeStream({ streamName: STREAM });
        const description = summary.streamDescription;
        return (
          description?.streamStatus === streams.StreamStatus.STREAM_STATUS_ACTIVE &&
          description.shards.filter((s) => s.sequenceNumberRange?.endingSequenceNumber === "").length === 8
        );
      },
      { timeoutMs: 60_000, what: "the stream to be ACTIVE with 8 open shards" },
    );
    const shardList = (await client.describeStream({ streamName: STREAM })).streamDescription?.shards ?? [];
    const children = shardList.filter((s) => s.parentShardId !== "");
    await waitFor(
      async () => {
        const description = await describeGroup();
        const ended = new Set(description.shards.filter((s) => s.shardEnd).map((s) => s.shardId));
        return (
          children.every((c) => ended.has(c.parentShardId)) &&
          events.some((e) => e.ev === "rec" && e.s === children[0]?.shardId)
        );
      },
      { timeoutMs: 60_000, what: "every parent to reach SHARD_END and the children to be processed" },
    );

    // Stop writing; every acknowledged record is processed at least once.
    producing = false;
    await producer;
    await waitFor(
      () => {
        const processed = new Set<string>();
        for (const e of events) if (e.ev === "rec") for (const d of e.d ?? []) processed.add(d);
        const missing = [...acknowledged].filter((d) => !processed.has(d));
        return missing.length === 0 ? true : (undefined as unknown as false);
      },
      { timeoutMs: 60_000, what: "every acknowledged record to be processed" },
    );
    expect(acknowledged.size).toBeGreaterThan(0);

    // Parents before children: no child record was processed before its parents ended. The
    // first processing of a child follows the last record processed of each parent.
    for (const child of children) {
      const firstChild = events.find((e) => e.ev === "rec" && e.s === child.shardId);
      if (firstChild === undefined) continue;
      for (const parent of [child.parentShardId, child.adjacentParentShardId].filter((p) => p !== "")) {
        const parentRecords = events.filter((e) => e.ev === "rec" && e.s === parent);
        const lastParent = parentRecords[parentRecords.length - 1];
        if (lastParent !== undefined) expect(lastParent.t).toBeLessThanOrEqual(firstChild.t);
      }
    }

    // A stale-epoch checkpoint is refused with LEASE_LOST and changes nothing.
    const current = await describeGroup();
    const leased =
      current.shards.find((s) => s.owner !== "" && s.leaseEpoch > 1) ??
      current.shards.find((s) => s.owner !== "");
    if (leased === undefined) throw new Error("no leased shard");
    const refusal = await unary(
      "checkpoint",
      groups.CheckpointRequest.fromPartial({
        streamName: STREAM,
        groupName: GROUP,
        memberId: leased.owner,
        shardId: leased.shardId,
        leaseEpoch: leased.leaseEpoch - 1,
        sequenceNumber: "9".repeat(60),
      }),
    ).then(
      () => "accepted",
      (error: ServiceError) => error.metadata.get("sluice-error-code")[0]?.toString(),
    );
    expect(refusal).toBe("LEASE_LOST");
    const after = (await describeGroup()).shards.find((s) => s.shardId === leased.shardId);
    expect(after?.checkpointSequenceNumber).not.toBe("9".repeat(60));

    // `sluice group status`: every member and shard, as JSON and as tables.
    const captured = (): { io: Io; text: () => string } => {
      let out = "";
      const sink = {
        write: (chunk: string) => {
          out += chunk;
          return true;
        },
      } as unknown as NodeJS.WritableStream;
      return { io: { stdout: sink, stderr: sink, stdin: process.stdin }, text: () => out };
    };
    const asJson = captured();
    const endpointArgs = ["--endpoint", endpoints()];
    expect(await runGroupCommand(["status", STREAM, GROUP, ...endpointArgs, "--json"], {}, asJson.io)).toBe(
      0,
    );
    const status = JSON.parse(asJson.text()) as { members: unknown[]; shards: { shardEnd?: boolean }[] };
    expect(status.members.length).toBe(4);
    expect(status.shards.length).toBe(16 + children.length);
    const asTable = captured();
    expect(await runGroupCommand(["status", STREAM, GROUP, ...endpointArgs], {}, asTable.io)).toBe(0);
    expect(asTable.text()).toContain("(finished)");
    const missing = captured();
    expect(await runGroupCommand(["status", STREAM, "nope", ...endpointArgs], {}, missing.io)).toBe(3);

    sampling = false;
    await sampler;
    expect(regressions).toEqual([]);

    // Graceful stop: every live worker checkpoints and leaves.
    for (const id of ["w1", "w2", "w4", "w5"]) workers.get(id)?.kill("SIGTERM");
    await waitFor(async () => (await describeGroup()).members.length === 0, {
      timeoutMs: 20_000,
      what: "every stopped worker to leave the group",
    });
  }, 240_000);
});
