/**
 * Typed errors of @sluice/storage. Each has a stable `code` from `StorageErrorCode`, says whether
 * retrying can succeed (`retriable`) and carries the underlying `cause` when there is one.
 * Reads outside the log throw raft-ts's own `CompactedError` and `UnavailableError`, which the
 * Raft core understands. Assertion failures (our bugs) throw plain `Error`s from `assert`.
 */
export const StorageErrorCode = {
  /** The options given to `NodeStorage.open` are invalid; the message says which and why. */
  InvalidOptions: "INVALID_OPTIONS",
  /** A request breaks the API's contract (a gap in appended indexes, a compaction past the log end…). */
  InvalidRequest: "INVALID_REQUEST",
  /** The group was never created on this node, or has been deleted. */
  UnknownGroup: "UNKNOWN_GROUP",
  /** `createGroup` for a group that already exists. */
  GroupExists: "GROUP_EXISTS",
  /** A flush is already open or committing; the persist loop runs one at a time. */
  FlushInProgress: "FLUSH_IN_PROGRESS",
  /** An entry or a flush is larger than the format allows. */
  TooLarge: "TOO_LARGE",
  /** A segment holds a damaged frame that is not a torn tail (valid data follows it). */
  CorruptSegment: "CORRUPT_SEGMENT",
  /** An entry read back from a segment fails its CRC or does not match the index. */
  CorruptEntry: "CORRUPT_ENTRY",
  /** Rebuilding the state on open found it inconsistent (a missing entry, a term mismatch). */
  RecoveryFailed: "RECOVERY_FAILED",
  /** A write or sync failed; the storage refuses further writes and the process must restart. */
  StorageFailed: "STORAGE_FAILED",
  /** The storage was closed. */
  Closed: "CLOSED",
  /** Another process (or another NodeStorage in this one) has the data directory open. */
  Locked: "LOCKED",
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends Error {
  override readonly name: string = "StorageError";
  readonly code: StorageErrorCode;
  readonly retriable: boolean;
  constructor(code: StorageErrorCode, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = retriable;
  }
}

export class InvalidOptionsError extends StorageError {
  override readonly name = "InvalidOptionsError";
  constructor(message: string) {
    super(StorageErrorCode.InvalidOptions, message, false);
  }
}

export class InvalidRequestError extends StorageError {
  override readonly name = "InvalidRequestError";
  constructor(message: string) {
    super(StorageErrorCode.InvalidRequest, message, false);
  }
}

export class UnknownGroupError extends StorageError {
  override readonly name = "UnknownGroupError";
  readonly groupId: number;
  constructor(groupId: number) {
    super(StorageErrorCode.UnknownGroup, `group ${groupId} does not exist on this node`, false);
    this.groupId = groupId;
  }
}

export class GroupExistsError extends StorageError {
  override readonly name = "GroupExistsError";
  readonly groupId: number;
  constructor(groupId: number) {
    super(StorageErrorCode.GroupExists, `group ${groupId} already exists on this node`, false);
    this.groupId = groupId;
  }
}

export class FlushInProgressError extends StorageError {
  override readonly name = "FlushInProgressError";
  constructor() {
    super(
      StorageErrorCode.FlushInProgress,
      "a flush is already open or committing; commit or abandon it before beginning another",
      true,
    );
  }
}

export class TooLargeError extends StorageError {
  override readonly name = "TooLargeError";
  constructor(what: string, bytes: number, limitBytes: number) {
    super(
      StorageErrorCode.TooLarge,
      `${what} of ${bytes} bytes exceeds the limit of ${limitBytes} bytes`,
      false,
    );
  }
}

export class CorruptSegmentError extends StorageError {
  override readonly name = "CorruptSegmentError";
  readonly path: string;
  readonly offset: number;
  constructor(path: string, offset: number, reason: string) {
    super(
      StorageErrorCode.CorruptSegment,
      `segment ${path} is corrupt at byte ${offset}: ${reason}; valid data follows, so this is not a torn tail and is not skipped`,
      false,
    );
    this.path = path;
    this.offset = offset;
  }
}

export class CorruptEntryError extends StorageError {
  override readonly name = "CorruptEntryError";
  constructor(groupId: number, index: number, reason: string) {
    super(
      StorageErrorCode.CorruptEntry,
      `entry ${index} of group ${groupId} is corrupt on disk: ${reason}`,
      false,
    );
  }
}

export class RecoveryFailedError extends StorageError {
  override readonly name = "RecoveryFailedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(StorageErrorCode.RecoveryFailed, message, false, options);
  }
}

export class StorageFailedError extends StorageError {
  override readonly name = "StorageFailedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      StorageErrorCode.StorageFailed,
      `${message}; the storage refuses further writes until the process restarts and recovers`,
      false,
      options,
    );
  }
}

export class StorageClosedError extends StorageError {
  override readonly name = "StorageClosedError";
  constructor() {
    super(StorageErrorCode.Closed, "the storage is closed", false);
  }
}

export class StorageLockedError extends StorageError {
  override readonly name = "StorageLockedError";
  constructor(dir: string, options?: { cause?: unknown }) {
    super(
      StorageErrorCode.Locked,
      `the data directory ${dir} is in use by another process or storage instance`,
      true,
      options,
    );
  }
}
