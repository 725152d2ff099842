/**
 * @sluice/broker — The multi-Raft host: replicas, the persist/send/apply loop, the peer transport, the shard state machine.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/broker";

// The multi-Raft host and the shard state machine behind the Broker API.
export type {
  AppendRecord,
  AppendResult,
  BrokerMetrics,
  BrokerOptions,
  GroupRole,
  GroupStateMachine,
  GroupStatus,
  ProposeResult,
  ReadLimits,
  ReadRecord,
  ReadResult,
  SealResult,
} from "./broker.js";
export { Broker, defaultBrokerOptions } from "./broker.js";
export * as constants from "./constants.js";
export {
  AppendTimeoutError,
  AppendTooLargeError,
  BrokerBusyError,
  BrokerClosedError,
  BrokerError,
  BrokerErrorCode,
  CorruptBatchError,
  DiskFullError,
  GroupNotFoundError,
  GroupVotersMismatchError,
  InvalidArgumentError,
  InvalidBrokerOptionsError,
  InvalidRecordError,
  LeadershipLostError,
  NotLeaderError,
  ShardSealedError,
  StateMachineFailedError,
  StorageFailedError,
} from "./errors.js";
export { preferredLeader } from "./host/leader-balance.js";
export type {
  DecodedRecord,
  RecordBatchHeader,
  RecordBatchProducer,
  RecordDataSealer,
  SelectableRecord,
} from "./shard/record-batch.js";
export {
  decodeRecordBatch,
  decodeRecordBatchHeader,
  encodeRecordBatch,
  encodeRecordBatchOf,
  encodeSealBatch,
  PRODUCER_ID_BYTES,
  RECORD_BATCH_FLAG_ENCRYPTED,
  RECORD_BATCH_FLAG_PRODUCER,
  RECORD_BATCH_FLAG_SEAL,
  RECORD_BATCH_KEY_VERSION_MAX,
  RECORD_DATA_SEAL_OVERHEAD_BYTES,
  recordBatchPayloadBytes,
  recordBatchPrefix,
  recordBatchProducer,
} from "./shard/record-batch.js";

// The peer transport: the contract, gRPC, the frame codec, and an in-memory hub for tests.
export type { DecodedFrame } from "./transport/codec.js";
export { decodeFrame, encodeFrame } from "./transport/codec.js";
export * as transportConstants from "./transport/constants.js";
export {
  FrameCorruptError,
  FrameTooLargeError,
  FrameVersionUnsupportedError,
  InvalidTransportOptionsError,
  TransportClosedError,
  TransportError,
  TransportErrorCode,
} from "./transport/errors.js";
export { GrpcPeerTransport } from "./transport/grpc-transport.js";
export type { PeerCallTls, PeerSessionOptions } from "./transport/http2-peer-session.js";
export { connectPeerSession } from "./transport/http2-peer-session.js";
export { widenServerReceiveWindow } from "./transport/http2-window.js";
export type {
  InMemoryFilter,
  InMemoryTransport,
  InMemoryTransportHubOptions,
} from "./transport/memory-transport.js";
export { InMemoryTransportHub } from "./transport/memory-transport.js";
export type { PeerMetrics, TransportMetrics } from "./transport/metrics.js";
export type { GrpcPeerTransportOptions, TransportLogger } from "./transport/options.js";
export { defaultTransportOptions } from "./transport/options.js";
export type {
  CallStatus,
  PeerHttp2ServerOptions,
  PeerServerTlsOptions,
  PeerUnaryCall,
} from "./transport/peer-server.js";
export { PeerHttp2Server, PeerServerCall } from "./transport/peer-server.js";
export type { PeerTlsMaterial, PeerTlsOptions } from "./transport/tls.js";
export { nodeIdOfCertificate, PeerTlsRejection, peerIdentityUri } from "./transport/tls.js";
export type { GroupId, GroupMessage, PeerTransport } from "./transport/transport.js";
export { PeerState } from "./transport/transport.js";
export { GRPC_MESSAGE_PREFIX_BYTES, peerServerChannelOptions } from "./transport/wire.js";
