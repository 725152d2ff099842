/**
 * @sluice/harness — starts real Sluice node processes on loopback ports in temporary data
 * directories, kills and restarts them with real signals, and talks to them through the admin
 * API; shared by the integration tests, the fault-injection suite and the benchmarks. It runs the
 * built CLI (packages/cli/dist/main.js), so build first (`pnpm tsc -b`).
 */
export const PACKAGE_NAME = "@sluice/harness";

export type { AppendRecord } from "./admin-client.js";
export { AdminCallError, AdminClient } from "./admin-client.js";
export type { CliRun, CliRunOptions } from "./cli-run.js";
export { runCli } from "./cli-run.js";
export type { ClusterCredentials, ClusterOptions, NodePorts } from "./cluster.js";
export { nodePorts, startCluster, TestCluster } from "./cluster.js";
export {
  ADMIN_CALL_TIMEOUT_MS_DEFAULT,
  KEYED_LOAD_BATCH_RECORDS_MAX,
  KEYED_LOAD_CALL_TIMEOUT_MS,
  KEYED_LOAD_PACE_INTERVAL_MS,
  KEYED_RECORD_BYTES,
  LINEAGE_READ_TIMEOUT_MS_DEFAULT,
  NODE_START_TIMEOUT_MS_DEFAULT,
  NODE_STOP_TIMEOUT_MS_DEFAULT,
  PORTS_PER_NODE,
  READ_SHARD_PAGE_RECORDS_MAX,
  READ_SHARD_THROTTLE_BACKOFF_MS,
  SHARD_GROUP_ID_MIN,
  STREAMS_CALL_TIMEOUT_MS_DEFAULT,
} from "./constants.js";
export {
  type CpuProfileEntry,
  type CpuProfileSummary,
  summarizeCpuProfiles,
} from "./cpu-profile.js";
export {
  CAMPAIGN_PORTS,
  type CampaignOptions,
  type CampaignResult,
  runCampaign,
} from "./fault/campaign.js";
export {
  type CheckInput,
  type CheckResult,
  checkHistory,
  type FaultUnavailability,
  type FinalShardRead,
  type ReplicaComparison,
} from "./fault/checker.js";
export {
  FAULT_CLUSTER_NODES,
  FAULT_KEYS_DEFAULT,
  FAULT_PRODUCERS_DEFAULT,
  FAULT_RECORDS_PER_SECOND_DEFAULT,
  FUZZ_CASES_DEFAULT,
} from "./fault/constants.js";
export {
  type BadInputOptions,
  type BadInputResult,
  type CaseOutcome,
  formatBadInputReport,
  runBadInputCampaign,
} from "./fault/fuzz.js";
export {
  decodeRecordData,
  encodeRecordData,
  type FaultDescription,
  History,
  type HistoryEvent,
  type PutRecordResult,
  type RecordId,
  workloadPartitionKey,
} from "./fault/history.js";
export { type LinkMode, LinkProxy, type LinkProxyOptions } from "./fault/link-proxy.js";
export { FAULT_KINDS, type FaultKind, Nemesis, type NemesisOptions } from "./fault/nemesis.js";
export { ProxyMesh, type ProxyMeshOptions } from "./fault/network.js";
export { randomSeed, SeededRandom } from "./fault/random.js";
export {
  type DiffOptions,
  diffReplicas,
  formatGroupDiff,
  type GroupDiff,
  type ReplicaSnapshot,
  type ReplicaVerdict,
  replicaVerdict,
} from "./fault/replica-diff.js";
export { type CampaignReportInput, formatReport } from "./fault/report.js";
export { LiveReader, Workload, type WorkloadOptions } from "./fault/workload.js";
export {
  checkKeyedRecords,
  decodeKeyedRecord,
  encodeKeyedRecord,
  type KeyedCheck,
  KeyedLoad,
  type KeyedLoadOptions,
  type KeyedLoadResult,
  type KeyedProducerStats,
  keyedPartitionKey,
} from "./keyed-load.js";
export {
  evenHashKeyRanges,
  HASH_KEY_SPACE,
  partitionKeyHashKey,
  type ReferenceHashRange,
  rangeIndexOf,
} from "./kinesis-reference.js";
export { LatencyRecorder, type LatencySummary } from "./latency.js";
export {
  type LineageReadOptions,
  type LineageShardRead,
  listAllShards,
  readStreamByLineage,
} from "./lineage-reader.js";
export { uniqueStreamName } from "./names.js";
export type { ExitStatus, NodeProcessOptions, NodeRunResult } from "./node-process.js";
export { assertCliBuilt, CLI_MAIN_PATH, NodeProcess, runNodeToExit } from "./node-process.js";
export {
  type ProcessIo,
  type ProcessStat,
  readProcessIo,
  readProcessStat,
  readSchedulerStat,
  type SchedulerStat,
} from "./proc.js";
export { type ReadShardOptions, readShard, shardGroupIds } from "./read-shard.js";
export { readStream, readStreamByShard } from "./read-stream.js";
export {
  getRecordsUnthrottled,
  readShardFromTrimHorizon,
  readToTip,
  type ShardReadResult,
} from "./shard-reader.js";
export { createSingleShardStream, type SingleShardStream } from "./single-shard-stream.js";
export { StreamsCallError, StreamsClient } from "./streams-client.js";
export type { WaitOptions } from "./wait-for.js";
export { WaitTimeoutError, waitFor } from "./wait-for.js";
