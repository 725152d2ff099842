/**
 * Delivery stream definitions kept in the cluster: the internal one-shard stream
 * `__sluice-delivery-definitions` (retention one year) of create and delete events, folded
 * alike by every node (the shared DefinitionsStream of @sluice/client: a `create` counts only
 * when no live definition has its name, a `delete` only when its id is the live one). A
 * direct-put definition owns its backing stream: created before the definition is stored,
 * deleted after the definition is.
 */
import { createStreamIfMissing, DefinitionsStream, type SluiceClient } from "@sluice/client";
import { DEFINITIONS_STREAM_NAME } from "./constants.js";
import {
  type DeliveryStreamDefinition,
  type DeliveryStreamInput,
  sourceStreamName,
  validateDefinition,
  validateDeliveryStreamName,
} from "./definition.js";
import { DeliveryStreamInUseError, DeliveryStreamNotFoundError, DeliveryUnavailableError } from "./errors.js";

export interface DefinitionStoreOptions {
  readonly client: SluiceClient;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * open / refresh / definitions / create / delete / describe / refreshAged of delivery streams.
 * `create` validates (InvalidDefinitionError) and throws DeliveryStreamInUseError when the name
 * is taken; `describe` and `delete` throw DeliveryStreamNotFoundError when there is none; a
 * store that cannot write or read back in time throws DeliveryUnavailableError (retriable).
 */
export class DefinitionStore extends DefinitionsStream<DeliveryStreamDefinition, DeliveryStreamInput> {
  constructor(options: DefinitionStoreOptions) {
    const client = options.client;
    super({
      client,
      streamName: DEFINITIONS_STREAM_NAME,
      noun: "definition",
      validate: validateDefinition,
      validateName: validateDeliveryStreamName,
      errors: {
        unavailable: (message) => new DeliveryUnavailableError(message),
        inUse: (name) => new DeliveryStreamInUseError(name),
        notFound: (name) => new DeliveryStreamNotFoundError(name),
      },
      // ON_DEMAND: a Firehose put is not throttled per shard as a Kinesis put is.
      prepare: async (definition) => {
        if (definition.source.kind === "direct-put") {
          await createStreamIfMissing(client, sourceStreamName(definition), definition.source.shardCount);
        }
      },
      release: async (definition) => {
        if (definition.source.kind === "direct-put") {
          await client.deleteStream({ streamName: sourceStreamName(definition) }).catch(() => {});
        }
      },
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }
}
