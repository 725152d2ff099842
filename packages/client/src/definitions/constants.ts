/** Limits and timings of definitions streams (DefinitionsStream, DefinitionRunner), each with its unit in the name. */

/** A definitions stream's retention: the longest a stream keeps records. Definitions are re-put before they age out. */
export const DEFINITIONS_RETENTION_HOURS = 8_760;
/** A definition older than this is written again (same id) so retention never drops it. */
export const DEFINITIONS_REFRESH_AGE_MS = 30 * 24 * 3_600_000;
/** Records per GetRecords call reading a definitions stream. */
export const DEFINITIONS_READ_LIMIT_RECORDS = 10_000;
/** How often each node's runner reads new definition events. */
export const DEFINITIONS_POLL_INTERVAL_MS = 1_000;
/** How long a create or delete waits to read its own event back. */
export const DEFINITIONS_READ_BACK_TIMEOUT_MS = 10_000;

if (DEFINITIONS_REFRESH_AGE_MS >= DEFINITIONS_RETENTION_HOURS * 3_600_000) {
  throw new Error("DEFINITIONS_REFRESH_AGE_MS must be below the definitions stream's retention");
}
