/**
 * @sluice/client — the TypeScript SDK of Sluice: a client of the public gRPC API over several
 * endpoints with failover, a batching producer, shard and stream readers, and subscriptions.
 * It depends only on the generated protobuf types (@sluice/proto) and grpc-js.
 */
export const PACKAGE_NAME = "@sluice/client";

export {
  type CallOptions,
  SluiceClient,
  type SluiceClientCredentials,
  type SluiceClientOptions,
  type SluiceClientTls,
} from "./client.js";
export * as constants from "./constants.js";
// Definitions kept in an internal stream and a worker per definition on every node (delivery streams, analytics).
export {
  createStreamIfMissing,
  DEFINITIONS_POLL_INTERVAL_MS,
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
  type DefinitionEvent,
  DefinitionFold,
  DefinitionRunner,
  type DefinitionRunnerOptions,
  type DefinitionSource,
  DefinitionsStream,
  type DefinitionsStreamErrors,
  type DefinitionsStreamOptions,
  type DefinitionWorker,
  type StoredDefinition,
} from "./definitions/index.js";
export {
  AbortedError,
  ClientClosedError,
  ClientErrorCode,
  InvalidOptionsError,
  ProducerClosedError,
  RecordFailedError,
  RecordTooLargeError,
  SluiceCallError,
  SluiceClientError,
} from "./errors.js";
// Consumer groups: shards shared among workers with fenced leases and checkpoints kept by the cluster.
export type {
  ConsumerGroupOptions,
  GroupRecord,
  GroupStartPosition,
  GroupTransport,
  GrpcGroupTransportOptions,
  RecordHandler,
  RunOptions,
  ShardContext,
} from "./group/index.js";
export {
  atTimestamp,
  ConsumerGroup,
  GroupError,
  GroupErrorCode,
  groupErrorOf,
  grpcGroupTransport,
  InvalidGroupOptionsError,
  LATEST,
  LeaseLostError,
  TRIM_HORIZON,
} from "./group/index.js";
export {
  Producer,
  type ProducerCallOptions,
  type ProducerOptions,
  type ProducerRecord,
  type ProducerResult,
  type ProducerStats,
} from "./producer.js";
// The StreamsService channel with the hand codecs of the write calls (what every client channel uses).
export {
  decodePutRecordsResponse,
  encodePutRecordRequest,
  encodePutRecordsRequest,
  MalformedResponseError,
  type PutRecordsRequestInput,
  StreamsServiceClient,
  streamsClientDefinition,
} from "./put-codec.js";
export { compareSequenceNumbers } from "./sequence-number.js";
export { type ReadRecord, type ShardPage, ShardReader, type ShardReaderOptions } from "./shard-reader.js";
export type { StartPosition, StartType } from "./start-position.js";
export { StreamReader, type StreamReaderOptions } from "./stream-reader.js";
export { Subscription, type SubscriptionEvent, type SubscriptionOptions } from "./subscription.js";
