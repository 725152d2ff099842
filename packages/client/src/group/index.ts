/**
 * Consumer groups (the KCL equivalent): `ConsumerGroup` shares a stream's shards among workers
 * with leases kept by the cluster, and checkpoints fenced by each lease's epoch.
 */
export type { GroupErrorCode as GroupErrorCodeType } from "./errors.js";
export {
  GroupError,
  GroupErrorCode,
  groupErrorOf,
  InvalidGroupOptionsError,
  LeaseLostError,
} from "./errors.js";
export type { GroupTransport, GrpcGroupTransportOptions } from "./transport.js";
export { grpcGroupTransport } from "./transport.js";
export type {
  ConsumerGroupOptions,
  GroupRecord,
  GroupStartPosition,
  RecordHandler,
  RunOptions,
  ShardContext,
} from "./worker.js";
export { atTimestamp, ConsumerGroup, LATEST, TRIM_HORIZON } from "./worker.js";
