/**
 * The cost of forwarding a write to its shard's leader: closed-loop PutRecord (1 KiB) with one
 * caller through a node that does NOT lead the shard of a one-shard ON_DEMAND stream, on a real
 * three-node cluster (@sluice/harness, loopback, sync on). Prints one JSON line: node CPU ms per
 * operation (from /proc, in all and per role: the gateway node, the leader, the other follower),
 * the same net of the cluster's CPU with no traffic (measured for IDLE_SECONDS first), p50/p99
 * latency and operations per second. For A/B runs, run it from each worktree in turn.
 *
 *   node packages/cli/bench/bench-forward.ts [--ops 2000] [--base-port 19960] [--tls]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createSingleShardStream, LatencyRecorder, readProcessStat, startCluster } from "@sluice/harness";

const CLOCK_TICKS_PER_SECOND = 100;
const WARM_UP_OPS = 300;
const IDLE_SECONDS = 5;
const RECORD_BYTES = 1_024;

const { values } = parseArgs({
  options: {
    ops: { type: "string", default: "2000" },
    "base-port": { type: "string", default: "19960" },
    tls: { type: "boolean", default: false },
  },
});
const ops = Number(values.ops);
const tls = values.tls === true;
const cluster = await startCluster({ basePort: Number(values["base-port"]), startTimeoutMs: 120_000, tls });
try {
  const streamName = "bench-forward";
  const { leader } = await createSingleShardStream(cluster, streamName);
  const gateway = cluster.nodeIds.find((nodeId) => nodeId !== leader) as number;
  const follower = cluster.nodeIds.find((nodeId) => nodeId !== leader && nodeId !== gateway) as number;
  const client = cluster.streams(gateway);
  const data = Buffer.alloc(RECORD_BYTES, 7);
  const put = (i: number) =>
    client.putRecord({ streamName, partitionKey: `k${i}`, data, explicitHashKey: "" }, 30_000);
  for (let i = 0; i < WARM_UP_OPS; i++) await put(i);
  const ticks = () =>
    cluster.nodeIds.map((nodeId) => {
      const stat = readProcessStat(cluster.process(nodeId).pid ?? 0);
      return stat.userTicks + stat.systemTicks;
    });
  const cpuMs = (from: number[], to: number[], nodeId: number) =>
    (((to[nodeId - 1] ?? 0) - (from[nodeId - 1] ?? 0)) * 1_000) / CLOCK_TICKS_PER_SECOND;

  const idleFrom = ticks();
  const idleStartedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1_000));
  const idleTo = ticks();
  const idleSeconds = (performance.now() - idleStartedAt) / 1_000;
  let idleMs = 0;
  for (const nodeId of cluster.nodeIds) idleMs += cpuMs(idleFrom, idleTo, nodeId);

  const latency = new LatencyRecorder();
  const from = ticks();
  const startedAt = performance.now();
  for (let i = 0; i < ops; i++) {
    const begun = performance.now();
    await put(i);
    latency.record(performance.now() - begun);
  }
  const elapsedSeconds = (performance.now() - startedAt) / 1_000;
  const to = ticks();
  const perOp = (nodeId: number) => cpuMs(from, to, nodeId) / ops;
  let total = 0;
  for (const nodeId of cluster.nodeIds) total += perOp(nodeId);
  const round = (value: number) => Math.round(value * 1_000) / 1_000;
  console.log(
    JSON.stringify({
      tls,
      ops,
      opsPerSecond: Math.round(ops / elapsedSeconds),
      p50Ms: round(latency.quantile(0.5)),
      p99Ms: round(latency.quantile(0.99)),
      nodeCpuMsPerOp: round(total),
      idleNodeCpuMsPerSecond: round(idleMs / idleSeconds),
      netOfIdleNodeCpuMsPerOp: round(total - ((idleMs / idleSeconds) * elapsedSeconds) / ops),
      gatewayMsPerOp: round(perOp(gateway)),
      leaderMsPerOp: round(perOp(leader)),
      followerMsPerOp: round(perOp(follower)),
      loadAverage: round(loadavg()[0] ?? 0),
    }),
  );
} finally {
  await cluster.stop();
}
