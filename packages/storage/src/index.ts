/**
 * @sluice/storage — the node's disk: one journal of append-only segment files holding the Raft
 * log entries of every group (group commit: one write and one fdatasync per flush), LevelDB for
 * the small state, and a LogStorage view per group for raft-ts. See README.md.
 */
export const PACKAGE_NAME = "@sluice/storage";

export { crc32Combine, entryDataChecksum, rememberEntryDataChecksum } from "./checksum.js";
export {
  COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT,
  ENTRY_CHECKSUM_CACHE_BYTES_MIN,
  ENTRY_DATA_BYTES_MAX,
  FLUSH_BYTES_MAX,
  INLINE_WRITE_BYTES_MAX_DEFAULT,
  SEGMENT_SIZE_BYTES_DEFAULT,
  SEGMENT_SIZE_BYTES_MAX,
  SEGMENT_SIZE_BYTES_MIN,
  TAIL_CACHE_BYTES_PER_GROUP_DEFAULT,
  TAIL_CACHE_BYTES_PER_NODE_DEFAULT,
} from "./constants.js";
export {
  CorruptEntryError,
  CorruptSegmentError,
  FlushInProgressError,
  GroupExistsError,
  InvalidOptionsError,
  InvalidRequestError,
  RecoveryFailedError,
  StorageClosedError,
  StorageError,
  StorageErrorCode,
  StorageFailedError,
  StorageLockedError,
  TooLargeError,
  UnknownGroupError,
} from "./errors.js";
export type { FlushBatch, FlushResult } from "./flush-batch.js";
export type { GroupLogStorage } from "./group-log-storage.js";
export type { RecoveryReport, StorageMetrics } from "./node-storage.js";
export { NodeStorage } from "./node-storage.js";
export type { NodeStorageOptions, SyncKind } from "./options.js";
export { defaultNodeStorageOptions } from "./options.js";
