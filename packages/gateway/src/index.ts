/**
 * @sluice/gateway — the public front door: the gRPC API and the Kinesis HTTP API, routing,
 * throttling, iterators. This entry point draws the package's public API: the pure logic the
 * handlers (src/server/) are built on — hash-key routing, sequence numbers, shard iterators,
 * request validation, the error table and status details, per-shard throttling.
 */
export const PACKAGE_NAME = "@sluice/gateway";

// Authentication (SigV4, bearer keys, client certificates), authorization policies, the audit log.
export type {
  AccessControlOptions,
  AuthenticationMethod,
  CallFinisher,
  GrpcCallCredentials,
  Principal,
} from "./auth/access-control.js";
export { AccessControl, ANONYMOUS, INTERNAL, kinesisErrorNameOf } from "./auth/access-control.js";
export type { ActionNamespace } from "./auth/actions.js";
export {
  actionOf,
  CONTROL_PLANE_OPERATIONS,
  operationNameOf,
  streamOf,
  streamOfArn,
} from "./auth/actions.js";
export type { AuditEntry, AuditOutcome, AuditSink, FileAuditLogOptions } from "./auth/audit-log.js";
export { FileAuditLog } from "./auth/audit-log.js";
export { AuthConfigError, AuthConfigErrorCode } from "./auth/config-error.js";
export * as authConstants from "./auth/constants.js";
export type { AccessKey } from "./auth/credentials.js";
export { AccessKeyStore, readAuthFile } from "./auth/credentials.js";
export type { GrpcGuardOptions, GuardAuthorization } from "./auth/grpc-guard.js";
export { guardGrpcService } from "./auth/grpc-guard.js";
export type { InternalCredentials } from "./auth/internal-principal.js";
export {
  INTERNAL_ACCESS_KEY_ID,
  INTERNAL_PRINCIPAL,
  internalPrincipalAllows,
} from "./auth/internal-principal.js";
export type { PolicyDecision, PolicyEffect, PolicyStatement } from "./auth/policy.js";
export { EVERY_PRINCIPAL, Policy } from "./auth/policy.js";
export type { SignedHttpRequest, SigV4Authorization, SigV4VerifierOptions } from "./auth/sigv4.js";
export {
  canonicalRequest,
  deriveSigningKey,
  formatAmzDate,
  parseAmzDate,
  parseAuthorization,
  SigV4Verifier,
} from "./auth/sigv4.js";
export * as constants from "./constants.js";
export { ITERATOR_TTL_MS } from "./constants.js";
// Encryption at rest: the key file, master keys, per-stream data keys, the record cipher.
export * as encryptionConstants from "./encryption/constants.js";
export {
  KeyFileError,
  KeyFileErrorCode,
  KmsKeyUnavailableError,
  KmsNotFoundError,
  RecordDecryptionError,
} from "./encryption/errors.js";
export type { KeyFile } from "./encryption/key-file.js";
export { loadKeyFile, parseKeyFile } from "./encryption/key-file.js";
export { MasterKeys } from "./encryption/master-keys.js";
export type { EncryptionParts } from "./encryption/operations.js";
export { startStreamEncryption, stopStreamEncryption } from "./encryption/operations.js";
export { dataKeyObject, openRecordData, RecordSealer } from "./encryption/record-cipher.js";
export type { StreamKeysOptions, WrappedDataKey } from "./encryption/stream-keys.js";
export { StreamKeys } from "./encryption/stream-keys.js";
export type { AuthenticationErrorCode, ErrorTableEntry } from "./errors.js";
export {
  AccessDeniedError,
  AuthenticationError,
  BROKER_ERROR_CODES,
  ERROR_TABLE,
  ExpiredIteratorError,
  errorTableEntry,
  GatewayError,
  GatewayErrorCode,
  InternalFailureError,
  InvalidArgumentError,
  KinesisErrorName,
  LimitExceededError,
  METADATA_ERROR_CODES,
  ProvisionedThroughputExceededError,
  ResourceInUseError,
  ResourceNotFoundError,
  ValidationError,
} from "./errors.js";
export {
  compareHashKeys,
  formatHashKey,
  HASH_KEY_BYTES,
  HASH_KEY_MAX,
  HASH_KEY_MAX_DECIMAL,
  HASH_KEY_MIN,
  isCanonicalDecimal,
  parseHashKey,
  partitionKeyHash,
} from "./hash-key.js";
export {
  CBOR_TAG_EPOCH_TIME,
  CborError,
  CborErrorCode,
  CborTag,
  decodeCbor,
  encodeCbor,
} from "./http/cbor.js";
export { CBOR_CODEC } from "./http/cbor-codec.js";
// The Kinesis HTTP API (AWS JSON 1.1 over HTTP/1.1 and h2c) over the same operations.
export type { WireCodec } from "./http/codec.js";
export { JSON_CODEC } from "./http/codec.js";
export * as httpConstants from "./http/constants.js";
export { decodeStructure, encodeStructure } from "./http/document.js";
export { HTTP_ERROR_TABLE, HttpErrorCode, httpStatusOf, KinesisHttpError } from "./http/errors.js";
export type { EventStreamHeaderValue, EventStreamMessage } from "./http/event-stream.js";
export {
  EventStreamDecoder,
  EventStreamError,
  EventStreamErrorCode,
  encodeEventStreamMessage,
} from "./http/event-stream.js";
export type {
  AuthenticationRequest,
  Authenticator,
  HttpRequestLike,
  HttpResponseLike,
  KinesisHttpHandler,
  KinesisHttpHandlerOptions,
  StreamingExchange,
  StreamingOperationHandler,
} from "./http/handler.js";
export { createKinesisHttpHandler } from "./http/handler.js";
export type { KinesisHttpServerOptions } from "./http/server.js";
export { KinesisHttpServer } from "./http/server.js";
export type { Member, OperationSpec, ScalarKind, Shape, StructureShape } from "./http/shapes.js";
export { CONSUMER_STATUSES, fieldOf, OPERATIONS, STREAM_STATUSES } from "./http/shapes.js";
export {
  registerEventStreamSubscriptions,
  subscribeToShardOverEventStream,
} from "./http/subscribe-to-shard.js";
export type { TargetHandler, TargetRequest } from "./http/target-registry.js";
export { registerTargetHandler } from "./http/target-registry.js";
export type { ChildShardView, LineageClock, LineageShard } from "./lineage.js";
export {
  childShardsOf,
  filterShardsByLineage,
  isListed,
  isRoutable,
  openedAtMs,
  parentsOf,
} from "./lineage.js";
export type { SequencePosition } from "./sequence-number.js";
export {
  decodeSequenceNumber,
  encodeSequenceNumber,
  SEQUENCE_NUMBER_VERSION,
  startingSequenceNumber,
} from "./sequence-number.js";
export * as serverConstants from "./server/constants.js";
export { isInternalStreamName } from "./server/control-plane.js";
export { ForwardRefusedError, PeerUnavailableError } from "./server/forward-errors.js";
export type { ForwardTargets } from "./server/forward-service.js";
export { createForwardService, createForwardStreamHandler } from "./server/forward-service.js";
export type { ForwardStreamTls } from "./server/forward-stream.js";
export { FORWARD_STREAM_PATH } from "./server/forward-stream.js";
export type { GatewayOptions } from "./server/gateway.js";
export { Gateway } from "./server/gateway.js";
// The gateway of one node: StreamsService and ForwardService over the broker and metadata.
export type { ConsumerGroupGatewayOptions } from "./server/groups-service.js";
export { ConsumerGroupGateway } from "./server/groups-service.js";
export type { MetadataChangeSource, MetadataViewSource } from "./server/metadata-changes.js";
export { MetadataChanges } from "./server/metadata-changes.js";
export type {
  EnhancedMonitoringOutput,
  MonitoringParts,
  ShardMetricsSink,
} from "./server/monitoring.js";
export { setEnhancedMonitoring } from "./server/monitoring.js";
export type {
  OperationRequest,
  OperationResponse,
  OperationsParts,
  StreamsOperations,
  UnaryOperationName,
} from "./server/operations.js";
export { createOperations } from "./server/operations.js";
export type { GrpcPeerForwarderOptions, PeerForwarder } from "./server/peer-forwarder.js";
export { GrpcPeerForwarder } from "./server/peer-forwarder.js";
// PutRecords / PutRecord decoded without copying each record's data (the node registers these).
export {
  decodePutRecordRequest,
  decodePutRecordsRequest,
  encodePutRecordsResponse,
  malformedRequestError,
  rejectMalformedRequests,
  streamsServiceDefinition,
} from "./server/put-codec.js";
export type { ShardIteratorFields } from "./shard-iterator.js";
export { createShardIterator, readShardIterator, SHARD_ITERATOR_VERSION } from "./shard-iterator.js";
export type { RoutableShard } from "./shard-router.js";
export { ShardRouter } from "./shard-router.js";
export type { SequencedShard, ShardLogPosition } from "./shard-sequence.js";
export {
  endingSequenceNumberOf,
  sequenceIndexBaseOf,
  shardPositionOf,
  shardSequenceNumber,
  startingSequenceNumberOf,
} from "./shard-sequence.js";
export type { ErrorDetailView, ResolvedError } from "./status-details.js";
export {
  decodeStatusDetails,
  ERROR_CODE_KEY,
  ERROR_DETAIL_TYPE_URL,
  ERROR_NAME_KEY,
  ERROR_RETRIABLE_KEY,
  encodeStatusDetails,
  INTERNAL_FAILURE_MESSAGE,
  kinesisNameOf,
  readErrorDetail,
  resolveError,
  STATUS_DETAILS_KEY,
  toServiceError,
} from "./status-details.js";
export type { ThrottleLimits, ThrottleRegistryOptions } from "./throttle.js";
export {
  defaultThrottleLimits,
  ShardThrottle,
  ThrottleRegistry,
  UNLIMITED_THROTTLE_LIMITS,
  validateThrottleLimits,
} from "./throttle.js";
export type {
  ScalingTypeName,
  ShardFilterTypeName,
  ShardIteratorStart,
  ShardIteratorTypeName,
  StreamModeName,
  ValidatedRecord,
  ValidatedShardFilter,
} from "./validation.js";
export {
  formatShardId,
  parseShardId,
  SCALING_TYPES,
  SHARD_FILTER_TYPES,
  SHARD_ITERATOR_TYPES,
  STREAM_MODES,
  shardNumberOf,
  streamNameFromArn,
  validateAddTags,
  validateConsumerArn,
  validateConsumerName,
  validateConsumerRef,
  validateCreateStream,
  validateDeleteStream,
  validateDescribeStream,
  validateExplicitHashKey,
  validateGetRecords,
  validateGetShardIterator,
  validateListConsumers,
  validateListShards,
  validateListStreams,
  validateListTags,
  validateMergeShards,
  validatePartitionKey,
  validatePutRecord,
  validatePutRecords,
  validateRecord,
  validateRegisterConsumer,
  validateRemoveTags,
  validateRetentionChange,
  validateRetentionHours,
  validateSequenceNumber,
  validateShardCount,
  validateShardFilter,
  validateShardId,
  validateSplitShard,
  validateStreamName,
  validateStreamRef,
  validateSubscribeToShard,
  validateTagKey,
  validateTagKeys,
  validateTags,
  validateTagValue,
  validateUpdateShardCount,
  validateUpdateStreamMode,
} from "./validation.js";
