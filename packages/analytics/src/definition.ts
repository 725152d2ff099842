/**
 * An application: a named SQL query over one input stream, writing its results into one output
 * stream. Validated once, when created: the SQL is planned (so unsupported SQL never gets
 * stored), names and the lateness are checked.
 */
import {
  ALLOWED_LATENESS_MS_DEFAULT,
  ALLOWED_LATENESS_MS_MAX,
  APPLICATION_GROUP_PREFIX,
  APPLICATION_NAME_LENGTH_MAX,
  APPLICATION_NAME_PATTERN,
  SQL_LENGTH_MAX,
  STATE_STREAM_PREFIX,
} from "./constants.js";
import { InvalidApplicationError } from "./errors.js";
import { planQuery, type QueryPlan } from "./plan.js";

export interface ApplicationInput {
  readonly name: string;
  /** One SELECT over the input stream (FROM names it). */
  readonly sql: string;
  /** The stream the results are written to (created ON_DEMAND when missing). A delivery stream reading it delivers them further. */
  readonly outputStream: string;
  /** How far behind the newest time seen a record may come and still count, in ms. @default 0 */
  readonly allowedLatenessMs?: number;
}

export interface ApplicationDefinition {
  readonly name: string;
  /** A random id per creation: a re-created application starts fresh (new state, new group). */
  readonly id: string;
  readonly sql: string;
  readonly inputStream: string;
  readonly outputStream: string;
  readonly allowedLatenessMs: number;
  readonly createdAtMs: number;
}

export function validateApplicationName(name: string): void {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    name.length > APPLICATION_NAME_LENGTH_MAX ||
    !APPLICATION_NAME_PATTERN.test(name)
  ) {
    throw new InvalidApplicationError(
      `application name must be 1 to ${APPLICATION_NAME_LENGTH_MAX} characters of [a-zA-Z0-9_.-], got ${JSON.stringify(name)}`,
    );
  }
}

/** Checks `input` and plans its SQL (UnsupportedSqlError / InvalidSqlError come through as they are). */
export function validateApplication(
  input: ApplicationInput,
  identity: { readonly id: string; readonly createdAtMs: number },
): ApplicationDefinition {
  validateApplicationName(input.name);
  if (typeof input.sql !== "string" || input.sql.trim() === "" || input.sql.length > SQL_LENGTH_MAX)
    throw new InvalidApplicationError(`sql must be 1 to ${SQL_LENGTH_MAX} characters`);
  const plan = planQuery(input.sql);
  if (typeof input.outputStream !== "string" || input.outputStream === "")
    throw new InvalidApplicationError("outputStream must name a stream");
  if (input.outputStream === plan.sourceStream)
    throw new InvalidApplicationError(
      "outputStream must differ from the input stream (FROM), or the query would read its own output",
    );
  const allowedLatenessMs = input.allowedLatenessMs ?? ALLOWED_LATENESS_MS_DEFAULT;
  if (
    !Number.isSafeInteger(allowedLatenessMs) ||
    allowedLatenessMs < 0 ||
    allowedLatenessMs > ALLOWED_LATENESS_MS_MAX
  )
    throw new InvalidApplicationError(
      `allowedLatenessMs must be a whole number from 0 to ${ALLOWED_LATENESS_MS_MAX}`,
    );
  return {
    name: input.name,
    id: identity.id,
    sql: input.sql,
    inputStream: plan.sourceStream,
    outputStream: input.outputStream,
    allowedLatenessMs,
    createdAtMs: identity.createdAtMs,
  };
}

/** The plan of a stored definition (validated when stored). */
export function planOf(definition: ApplicationDefinition): QueryPlan {
  return planQuery(definition.sql);
}

/** The one-shard stream of the application's snapshots; its group's single lease elects the node that runs it. */
export function stateStreamName(definition: ApplicationDefinition): string {
  return `${STATE_STREAM_PREFIX}${definition.name}-${definition.id.slice(0, 8)}`;
}

export function applicationGroupName(definition: ApplicationDefinition): string {
  return `${APPLICATION_GROUP_PREFIX}${definition.name}-${definition.id.slice(0, 8)}`;
}
