/**
 * Typed errors of stream analytics: one class per condition, a stable `code`, and `retriable`.
 * `UnsupportedSqlError` names the clause it refuses (`clause`), so a user knows what to change.
 */
export const AnalyticsErrorCode = {
  InvalidSql: "INVALID_SQL",
  UnsupportedSql: "UNSUPPORTED_SQL",
  InvalidApplication: "INVALID_APPLICATION",
  NotFound: "APPLICATION_NOT_FOUND",
  InUse: "APPLICATION_IN_USE",
  Unavailable: "ANALYTICS_UNAVAILABLE",
  CorruptSnapshot: "CORRUPT_SNAPSHOT",
} as const;
export type AnalyticsErrorCode = (typeof AnalyticsErrorCode)[keyof typeof AnalyticsErrorCode];

export abstract class AnalyticsError extends Error {
  abstract readonly code: AnalyticsErrorCode;
  abstract readonly retriable: boolean;
}

/** The SQL does not parse; the message carries the parser's position. */
export class InvalidSqlError extends AnalyticsError {
  override readonly name = "InvalidSqlError";
  readonly code = AnalyticsErrorCode.InvalidSql;
  readonly retriable = false;
}

/** The SQL parses but uses something continuous queries here do not support; `clause` names where. */
export class UnsupportedSqlError extends AnalyticsError {
  override readonly name = "UnsupportedSqlError";
  readonly code = AnalyticsErrorCode.UnsupportedSql;
  readonly retriable = false;
  /** The clause that holds the unsupported construct: SELECT, FROM, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, WITH. */
  readonly clause: string;
  constructor(clause: string, what: string) {
    super(`${clause}: ${what}`);
    this.clause = clause;
  }
}

/** An application definition or its options break a rule; the message names the field and the rule. */
export class InvalidApplicationError extends AnalyticsError {
  override readonly name = "InvalidApplicationError";
  readonly code = AnalyticsErrorCode.InvalidApplication;
  readonly retriable = false;
}

export class ApplicationNotFoundError extends AnalyticsError {
  override readonly name = "ApplicationNotFoundError";
  readonly code = AnalyticsErrorCode.NotFound;
  readonly retriable = false;
  constructor(applicationName: string) {
    super(`application ${applicationName} does not exist; list them with \`sluice analytics list\``);
  }
}

export class ApplicationInUseError extends AnalyticsError {
  override readonly name = "ApplicationInUseError";
  readonly code = AnalyticsErrorCode.InUse;
  readonly retriable = false;
  constructor(applicationName: string) {
    super(`application ${applicationName} already exists; delete it first or pick another name`);
  }
}

/** The cluster did not answer as needed (starting, no quorum, a write refused); retry. */
export class AnalyticsUnavailableError extends AnalyticsError {
  override readonly name = "AnalyticsUnavailableError";
  readonly code = AnalyticsErrorCode.Unavailable;
  readonly retriable = true;
}

/** A snapshot in the state stream is incomplete or does not decode (a bug, or a stream edited by hand). */
export class CorruptSnapshotError extends AnalyticsError {
  override readonly name = "CorruptSnapshotError";
  readonly code = AnalyticsErrorCode.CorruptSnapshot;
  readonly retriable = false;
}
