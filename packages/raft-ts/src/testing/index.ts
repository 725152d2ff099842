/**
 * raft-ts/testing — what other packages' tests use to check themselves against raft-ts: the
 * deterministic cluster simulator (and, alongside, the LogStorage conformance suite).
 */

export { testMessage } from "./message.js";
export type { FaultProfile } from "./sim/fault-profile.js";
export { randomFaultProfile } from "./sim/fault-profile.js";
export type { MutationSettings } from "./sim/mutation-profiles.js";
export { mutationSettings } from "./sim/mutation-profiles.js";
export type {
  RunStats,
  SeedRangeOptions,
  SeedRangeSummary,
  SimulationOptions,
  SimulationResult,
} from "./sim/run.js";
export { DEFAULT_STEPS, formatViolation, nodesForSeed, runSeeds, runSimulation } from "./sim/run.js";
export { SimulationViolation, ViolationKind } from "./sim/violation.js";
export type { LogStorageFactory, LogStorageFill, LogStorageUnderTest } from "./storage-conformance.js";
export { describeLogStorageConformance } from "./storage-conformance.js";
