/**
 * Definitions kept in an internal stream and run on every node: the shared machinery of
 * delivery streams and analytics applications (each supplies its definition type, validation,
 * errors and worker).
 */
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
