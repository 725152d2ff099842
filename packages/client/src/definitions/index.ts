/**
 * Definitions kept in an internal stream and run on every node: the shared machinery of
 * delivery streams and analytics applications (each supplies its definition type, validation,
 * errors and worker).
 */
export {
  DEFINITIONS_POLL_INTERVAL_MS,
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
} from "./constants.js";
export { createStreamIfMissing } from "./create-stream-if-missing.js";
export { type DefinitionEvent, DefinitionFold, type StoredDefinition } from "./definition-fold.js";
export {
  DefinitionRunner,
  type DefinitionRunnerOptions,
  type DefinitionSource,
  type DefinitionWorker,
} from "./definition-runner.js";
export {
  DefinitionsStream,
  type DefinitionsStreamErrors,
  type DefinitionsStreamOptions,
} from "./definitions-stream.js";
