/**
 * Application definitions kept in the cluster, as delivery streams keep theirs: the internal
 * one-shard stream `__sluice-analytics-definitions` (retention one year) of create and delete
 * events, folded alike by every node (the shared DefinitionsStream of @sluice/client: a `create`
 * counts only when no live application has its name, a `delete` only when its id is the live
 * one). An application owns its state stream (created before the definition is stored, deleted
 * after the definition is); its output stream is created when missing and stays: it is the user's.
 */
import { createStreamIfMissing, DefinitionsStream, type SluiceClient } from "@sluice/client";
import { DEFINITIONS_STREAM_NAME, STATE_RETENTION_HOURS } from "./constants.js";
import {
  type ApplicationDefinition,
  type ApplicationInput,
  stateStreamName,
  validateApplication,
  validateApplicationName,
} from "./definition.js";
import { AnalyticsUnavailableError, ApplicationInUseError, ApplicationNotFoundError } from "./errors.js";

export interface ApplicationStoreOptions {
  readonly client: SluiceClient;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * open / refresh / definitions / create / delete / describe / refreshAged of applications.
 * `create` validates and plans the SQL (UnsupportedSqlError / InvalidSqlError /
 * InvalidApplicationError), waits for the input stream, creates the output stream (ON_DEMAND)
 * when missing and the state stream, and throws ApplicationInUseError when the name is taken;
 * `describe` and `delete` throw ApplicationNotFoundError when there is none; a store that cannot
 * write or read back in time throws AnalyticsUnavailableError (retriable).
 */
export class ApplicationStore extends DefinitionsStream<ApplicationDefinition, ApplicationInput> {
  constructor(options: ApplicationStoreOptions) {
    const client = options.client;
    super({
      client,
      streamName: DEFINITIONS_STREAM_NAME,
      noun: "application",
      validate: validateApplication,
      validateName: validateApplicationName,
      errors: {
        unavailable: (message) => new AnalyticsUnavailableError(message),
        inUse: (name) => new ApplicationInUseError(name),
        notFound: (name) => new ApplicationNotFoundError(name),
      },
      prepare: async (definition) => {
        await client.waitForStreamStatus(definition.inputStream);
        await createStreamIfMissing(client, definition.outputStream, 2);
        await createStreamIfMissing(client, stateStreamName(definition), 1);
        await client
          .increaseStreamRetentionPeriod({
            streamName: stateStreamName(definition),
            retentionPeriodHours: STATE_RETENTION_HOURS,
          })
          .catch(() => {});
      },
      release: async (definition) => {
        await client.deleteStream({ streamName: stateStreamName(definition) }).catch(() => {});
      },
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }
}
