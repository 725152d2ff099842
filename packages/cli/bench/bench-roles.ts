/**
 * Where a written record's node CPU goes, by role: closed-loop PutRecords of `--batch` × 1 KiB
 * records (random keys) from `--producers` callers into a one-shard ON_DEMAND stream on a real
 * three-node cluster (@sluice/harness, loopback, sync on), first through the shard leader's
 * gateway, then through a follower's. From /proc (user and system time) it prints each node's
 * CPU µs per record in both phases, and the three roles it derives:
 *
 * - follower: the follower that is not the gateway (it only replicates);
 * - leader: the leader when a follower's gateway forwards it the batches (it appends, replicates
 *   to both followers, answers the forward);
 * - gateway: the forwarding gateway's node less a follower's share (decoding, validation, MD5
 *   routing, the record batch, the forward, the answer).
 *
 * One batch per request is one Raft entry, so `--batch` sets the entry size: 500 shows the
 * per-byte costs, 31 (what a 500-record PutRecords spread over 16 shards gives each shard) the
 * per-entry ones. Prints a table and one JSON line. For A/B runs, run it from each worktree.
 *
 * `--node-flags` passes Node.js and V8 flags to the node processes (`--node-flags="--trace-gc"`:
 * a value that starts with a dash needs the `=`); `--keep-data` keeps the data folder with each
 * node's log, where such flags print (the path goes to stderr).
 *
 *   ./scripts/bench-roles [--batch 500] [--producers 8] [--seconds 10]
 *                         [--base-port 19980] [--node-flags="--trace-gc"] [--keep-data]
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createSingleShardStream, readProcessStat, startCluster, type TestCluster } from "@sluice/harness";

const CLOCK_TICKS_PER_SECOND = 100;
const WARM_UP_MS = 2_000;
const RECORD_BYTES = 1_024;
const DISTINCT_KEYS = 5_000;
const CALL_TIMEOUT_MS = 30_000;

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "500" },
    producers: { type: "string", default: "8" },
    seconds: { type: "string", default: "10" },
    "base-port": { type: "string", default: "19980" },
    "node-flags": { type: "string", default: "" },
    "keep-data": { type: "boolean", default: false },
  },
});
/** Node.js and V8 flags for the node processes, e.g. "--trace-gc" (its lines go to each node's log). */
const nodeFlags = (values["node-flags"] ?? "").split(/\s+/).filter((flag) => flag !== "");
const batch = Number(values.batch);
const producers = Number(values.producers);
const seconds = Number(values.seconds);
if (!Number.isInteger(batch) || batch < 1 || batch > 500) throw new Error("--batch must be 1-500 records");
if (!Number.isInteger(producers) || producers < 1) throw new Error("--producers must be a positive integer");
if (!(seconds > 0)) throw new Error("--seconds must be positive");

interface Phase {
  readonly gateway: number;
  readonly recordsPerSecond: number;
  /** Per node id: [user, system] µs per record. */
  readonly perRecordUs: ReadonlyMap<number, readonly [number, number]>;
}

const round = (value: number) => Math.round(value * 10) / 10;

async function phase(cluster: TestCluster, streamName: string, gateway: number): Promise<Phase> {
  const client = cluster.streams(gateway);
  const data = randomBytes(RECORD_BYTES);
  const keys = Array.from({ length: DISTINCT_KEYS }, () => randomBytes(8).toString("hex"));
  let stopping = false;
  let written = 0;
  const callers = Array.from({ length: producers }, async () => {
    while (!stopping) {
      const records = Array.from({ length: batch }, () => ({
        data,
        partitionKey: keys[Math.floor(Math.random() * keys.length)] as string,
        explicitHashKey: "",
      }));
      const response = await client.putRecords({ streamName, records }, CALL_TIMEOUT_MS);
      written += batch - response.failedRecordCount;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
  const ticks = () =>
    new Map(
      cluster.nodeIds.map((nodeId) => {
        const stat = readProcessStat(cluster.process(nodeId).pid ?? 0);
        return [nodeId, [stat.userTicks, stat.systemTicks] as const];
      }),
    );
  const from = ticks();
  const writtenBefore = written;
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
  const to = ticks();
  const records = written - writtenBefore;
  const elapsedSeconds = (performance.now() - startedAt) / 1_000;
  stopping = true;
  await Promise.all(callers);
  const usPerRecord = (before: number, after: number) =>
    ((after - before) * 1_000_000) / CLOCK_TICKS_PER_SECOND / records;
  const perRecordUs = new Map(
    cluster.nodeIds.map((nodeId) => {
      const [userFrom, systemFrom] = from.get(nodeId) ?? [0, 0];
      const [userTo, systemTo] = to.get(nodeId) ?? [0, 0];
      return [nodeId, [usPerRecord(userFrom, userTo), usPerRecord(systemFrom, systemTo)] as const];
    }),
  );
  return { gateway, recordsPerSecond: records / elapsedSeconds, perRecordUs };
}

const cluster = await startCluster({
  basePort: Number(values["base-port"]),
  startTimeoutMs: 120_000,
  nodeExecArgv: nodeFlags,
  keepData: values["keep-data"] === true,
});
if (values["keep-data"]) console.error(`bench-roles: data and node logs kept in ${cluster.dataDir}`);
try {
  const streamName = "bench-roles";
  const { leader } = await createSingleShardStream(cluster, streamName);
  const forwarding = cluster.nodeIds.find((nodeId) => nodeId !== leader) as number;
  const follower = cluster.nodeIds.find((nodeId) => nodeId !== leader && nodeId !== forwarding) as number;

  const viaLeader = await phase(cluster, streamName, leader);
  const viaFollower = await phase(cluster, streamName, forwarding);
  const total = (us: readonly [number, number] | undefined) => (us === undefined ? 0 : us[0] + us[1]);

  console.log(
    `PutRecords of ${batch} × 1 KiB (one Raft entry each), ${producers} producers, one shard; node CPU µs per record (user + system)`,
  );
  for (const [label, result] of [
    ["through the leader's gateway", viaLeader],
    ["through a follower's gateway", viaFollower],
  ] as const) {
    const cells = cluster.nodeIds.map((nodeId) => {
      const [user, system] = result.perRecordUs.get(nodeId) ?? [0, 0];
      const role = nodeId === leader ? "leader" : "follower";
      const gatewayMark = nodeId === result.gateway ? "+gateway" : "";
      return `node ${nodeId} (${role}${gatewayMark}) ${round(user + system)} (${round(user)} + ${round(system)})`;
    });
    console.log(`  ${label}: ${Math.round(result.recordsPerSecond)} records/s; ${cells.join(", ")}`);
  }
  const followerUs = total(viaFollower.perRecordUs.get(follower));
  const leaderUs = total(viaFollower.perRecordUs.get(leader));
  const gatewayUs = total(viaFollower.perRecordUs.get(forwarding)) - followerUs;
  console.log(
    `  roles: gateway (forwarding) ${round(gatewayUs)}, leader ${round(leaderUs)}, follower ${round(followerUs)} µs per record; a record costs gateway + leader + 2 × follower = ${round(gatewayUs + leaderUs + 2 * followerUs)} µs`,
  );
  console.log(
    JSON.stringify({
      batch,
      producers,
      seconds,
      recordsPerSecondViaLeader: Math.round(viaLeader.recordsPerSecond),
      recordsPerSecondViaFollower: Math.round(viaFollower.recordsPerSecond),
      gatewayUsPerRecord: round(gatewayUs),
      leaderUsPerRecord: round(leaderUs),
      followerUsPerRecord: round(followerUs),
      loadAverage: round(loadavg()[0] ?? 0),
    }),
  );
} finally {
  await cluster.stop();
}
