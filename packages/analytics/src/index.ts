/**
 * @sluice/analytics — stream analytics (the Kinesis Analytics part): a named SQL query over one
 * stream — filters and projections, TUMBLE and HOP windows with COUNT, SUM, MIN, MAX, AVG and
 * COUNT(DISTINCT) — run by one node of the cluster at a time through a consumer group, its
 * results written to another stream exactly once (snapshots fenced by the lease epoch, output
 * through the idempotent producer protocol). See docs/analytics.md.
 */
export const PACKAGE_NAME = "@sluice/analytics";

export { ApplicationWorker, type ApplicationWorkerOptions } from "./application-worker.js";
export * as constants from "./constants.js";
export {
  type ApplicationDefinition,
  type ApplicationInput,
  applicationGroupName,
  planOf,
  stateStreamName,
  validateApplication,
} from "./definition.js";
export { ApplicationStore, type ApplicationStoreOptions } from "./definition-store.js";
export { type EngineCounters, type EngineState, type OutputRow, QueryEngine } from "./engine.js";
export {
  AnalyticsError,
  AnalyticsErrorCode,
  AnalyticsUnavailableError,
  ApplicationInUseError,
  ApplicationNotFoundError,
  CorruptSnapshotError,
  InvalidApplicationError,
  InvalidSqlError,
  UnsupportedSqlError,
} from "./errors.js";
export type { AnalyticsMetricsSnapshot } from "./metrics.js";
export { producerIdOf } from "./output.js";
export {
  type AggregateKind,
  type AggregateSpec,
  type OutputColumn,
  type ProjectionPlan,
  planQuery,
  type QueryPlan,
  type WindowPlan,
  type WindowSpec,
} from "./plan.js";
export { type PreviewOptions, previewQuery } from "./preview.js";
export { type Row, rowOf } from "./row.js";
export { AnalyticsRunner, type AnalyticsRunnerOptions } from "./runner.js";
export { decodeSnapshot, encodeSnapshot, type Snapshot } from "./snapshot.js";
export { forEachWindow } from "./window.js";
