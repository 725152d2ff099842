/** Counters of one application on one node (the node that holds its lease does the work). */
export interface AnalyticsMetricsSnapshot {
  /** 1 while this node runs the application (holds its lease), else 0. */
  readonly running: number;
  readonly recordsIn: number;
  readonly recordsFiltered: number;
  readonly lateRecordsDropped: number;
  readonly invalidTimeRecords: number;
  readonly overflowRecordsDropped: number;
  readonly windowsEmitted: number;
  readonly rowsEmitted: number;
  readonly snapshotsWritten: number;
  /** Output batches numbered again because a reshard closed their output shard before they were written. */
  readonly outputBatchesRenumbered: number;
  /** MillisBehindLatest of the input, the largest over its shards. */
  readonly inputLagMs: number;
  /** Wall clock minus the watermark (how far behind closing windows are); 0 before any. */
  readonly watermarkLagMs: number;
  readonly openWindows: number;
  readonly failures: number;
}
