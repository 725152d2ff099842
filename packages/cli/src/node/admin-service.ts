/**
 * The admin service (sluice.admin.v1.AdminService) of the public gRPC port: a thin, validating
 * layer over the node's multi-Raft host. Requests are checked here (bad input gets
 * INVALID_ARGUMENT and changes nothing); the host's typed errors become gRPC status codes, with
 * the stable error code in the trailing metadata `sluice-error-code` and, for NOT_LEADER, the
 * leader's node id in `sluice-leader-hint`.
 */
import { status as GrpcStatus, Metadata, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { widenServerReceiveWindow } from "@sluice/broker";
import { constants as metadataConstants } from "@sluice/metadata";
import { admin } from "@sluice/proto";
import {
  APPEND_BYTES_MAX,
  APPEND_RECORDS_MAX,
  GRPC_STREAM_WINDOW_BYTES,
  PARTITION_KEY_LENGTH_MAX,
  READ_BYTES_DEFAULT,
  READ_BYTES_MAX,
  READ_RECORDS_DEFAULT,
  READ_RECORDS_MAX,
} from "../constants.js";
import type { Logger } from "./logger.js";

/** What the admin service needs of the multi-Raft host; `Broker` of @sluice/broker has it. */
export interface AdminBackend {
  ensureGroup(groupId: number, voters: readonly number[]): Promise<void>;
  append(
    groupId: number,
    records: readonly { partitionKey: string; data: Buffer; explicitHashKey?: string }[],
  ): Promise<{ term: number; index: number; arrivalTimestampMs: number; recordCount: number }>;
  read(
    groupId: number,
    fromIndex: number,
    limits: { maxRecords: number; maxBytes: number },
    fromOffset?: number,
  ): {
    records: readonly {
      index: number;
      offset: number;
      arrivalTimestampMs: number;
      partitionKey: string;
      data: Uint8Array;
    }[];
    nextIndex: number;
    nextOffset: number;
    commitIndex: number;
    firstIndex: number;
    lastIndex: number;
  };
  groupStatus(groupId: number): {
    role: number | string;
    leader: number;
    term: number;
    commitIndex: number;
    appliedIndex: number;
    lastIndex: number;
    firstIndex: number;
    quiesced: boolean;
    voters: readonly number[];
  };
  committedLogChecksum(groupId: number, upToIndex: number): string;
  transferLeader(groupId: number, to: number): void;
  groupIds(): readonly number[];
}

/**
 * Decodes an AppendRequest (wire-compatible with admin.proto) without copying record data: each
 * `data` is a view of `buffer`, the message grpc-js assembled for this call alone, so the views
 * stay valid for as long as they are referenced. The generated decoder copies every record
 * (`Buffer.from(reader.bytes())`): 16 allocations and a 64 KiB copy per 64 KiB batch, measured
 * at about 4% of the leader's CPU. Unknown fields are skipped; malformed input throws, which
 * grpc-js reports to the caller as a failed call, as it does for the generated decoder.
 */
export function decodeAppendRequest(buffer: Buffer): admin.AppendRequest {
  let position = 0;
  const varint = (end: number): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (position >= end) throw new Error("AppendRequest: truncated varint");
      const byte = buffer[position++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error("AppendRequest: varint longer than 10 bytes");
  };
  /** A varint's low 32 bits, exactly (as protobuf reads a tag or a uint32): `varint` sums in a double, which loses them past 2^53. */
  const varint32 = (end: number): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (position >= end) throw new Error("AppendRequest: truncated varint");
      const byte = buffer[position++] as number;
      if (i < 5) value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value % 4_294_967_296;
      scale *= 128;
    }
    throw new Error("AppendRequest: varint longer than 10 bytes");
  };
  /** Reads a length prefix; returns where the field's bytes end (they start at `position`). */
  const lengthDelimited = (end: number): number => {
    const length = varint(end);
    if (length > end - position) throw new Error("AppendRequest: length overruns the message");
    return position + length;
  };
  const skip = (wireType: number, end: number): void => {
    if (wireType === 0) varint(end);
    else if (wireType === 2) position = lengthDelimited(end);
    else if (wireType === 1 || wireType === 5) {
      position += wireType === 1 ? 8 : 4;
      if (position > end) throw new Error("AppendRequest: truncated fixed field");
    } else throw new Error(`AppendRequest: unsupported wire type ${wireType}`);
  };
  const request: admin.AppendRequest = { groupId: 0, records: [] };
  const end = buffer.length;
  while (position < end) {
    const tag = varint32(end);
    if (tag === 8) {
      // uint32 group_id: protobuf keeps the low 32 bits of a longer varint.
      request.groupId = varint32(end);
    } else if (tag === 18) {
      const recordEnd = lengthDelimited(end);
      const record: admin.Record = { partitionKey: "", data: EMPTY_DATA, explicitHashKey: "" };
      while (position < recordEnd) {
        const recordTag = varint32(recordEnd);
        if (recordTag === 10 || recordTag === 18 || recordTag === 26) {
          const fieldEnd = lengthDelimited(recordEnd);
          if (recordTag === 18) record.data = buffer.subarray(position, fieldEnd);
          else if (recordTag === 10) record.partitionKey = buffer.toString("utf8", position, fieldEnd);
          else record.explicitHashKey = buffer.toString("utf8", position, fieldEnd);
          position = fieldEnd;
        } else {
          skip(recordTag & 7, recordEnd);
        }
      }
      request.records.push(record);
    } else {
      skip(tag & 7, end);
    }
  }
  return request;
}

const EMPTY_DATA = Buffer.alloc(0);

/**
 * The admin service definition for grpc-js: the generated one, with the zero-copy
 * `decodeAppendRequest` for Append. Register this rather than admin.AdminServiceService.
 */
export const adminServiceDefinition: typeof admin.AdminServiceService = {
  ...admin.AdminServiceService,
  append: { ...admin.AdminServiceService.append, requestDeserialize: decodeAppendRequest },
};

/** The node's own facts for NodeStatus. */
export interface NodeFacts {
  readonly nodeId: number;
  readonly zone: string;
  readonly clusterId: string;
  readonly startedAtMs: number;
  readonly now: () => number;
  /** Flattened numeric counters of the host. */
  readonly metrics: () => Readonly<Record<string, number>>;
  readonly peerStates: () => ReadonlyMap<number, string>;
}

/** raft-ts's StateRole numbers, named as the admin API reports them. */
const ROLE_NAMES: Readonly<Record<number, string>> = {
  0: "follower",
  1: "pre-candidate",
  2: "candidate",
  3: "leader",
};

export function roleName(role: number | string): string {
  return typeof role === "number" ? (ROLE_NAMES[role] ?? `role-${role}`) : role.toLowerCase();
}

/** A request the service refuses before it reaches the host. */
class InvalidArgument extends Error {
  readonly code = "INVALID_ARGUMENT";
}

export function createAdminService(
  backend: () => AdminBackend | undefined,
  facts: NodeFacts,
  log: Logger,
): admin.AdminServiceServer {
  /** Runs one call: validates, calls the host, maps its errors. */
  const unary =
    <Req, Res>(name: string, handler: (request: Req, host: AdminBackend) => Promise<Res> | Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      widenServerReceiveWindow(call, GRPC_STREAM_WINDOW_BYTES, 4 * GRPC_STREAM_WINDOW_BYTES);
      const host = backend();
      if (host === undefined) {
        callback(
          failure(GrpcStatus.UNAVAILABLE, "NODE_NOT_READY", "the node is starting or stopping", undefined),
        );
        return;
      }
      let result: Promise<Res>;
      try {
        result = Promise.resolve(handler(call.request, host));
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => callback(null, response),
        (error: unknown) => {
          const mapped = mapError(error);
          if (mapped.code === GrpcStatus.INTERNAL) log.error("admin call failed", { call: name, error });
          callback(mapped);
        },
      );
    };

  return {
    ensureGroup: unary<admin.EnsureGroupRequest, admin.EnsureGroupResponse>(
      "EnsureGroup",
      async (request, host) => {
        checkGroupId(request.groupId);
        if (
          request.groupId === metadataConstants.METADATA_GROUP_ID ||
          request.groupId >= metadataConstants.FIRST_SHARD_GROUP_ID
        ) {
          throw new InvalidArgument(
            `group ${request.groupId} is managed by the metadata service (group ${metadataConstants.METADATA_GROUP_ID} and stream shards from ${metadataConstants.FIRST_SHARD_GROUP_ID}); use an id from 1 to ${metadataConstants.FIRST_SHARD_GROUP_ID - 1}`,
          );
        }
        if (request.voters.length === 0) throw new InvalidArgument("voters is empty");
        if (new Set(request.voters).size !== request.voters.length)
          throw new InvalidArgument("voters names a node twice");
        if (!request.voters.includes(facts.nodeId)) {
          throw new InvalidArgument(
            `voters ${request.voters.join(",")} do not include this node (${facts.nodeId})`,
          );
        }
        await host.ensureGroup(request.groupId, request.voters);
        return {};
      },
    ),

    append: unary<admin.AppendRequest, admin.AppendResponse>("Append", async (request, host) => {
      checkGroupId(request.groupId);
      const count = request.records.length;
      if (count === 0 || count > APPEND_RECORDS_MAX) {
        throw new InvalidArgument(`a batch holds 1 to ${APPEND_RECORDS_MAX} records, not ${count}`);
      }
      let bytes = 0;
      const records = request.records.map((record, position) => {
        const keyLength = record.partitionKey.length;
        if (keyLength === 0 || keyLength > PARTITION_KEY_LENGTH_MAX) {
          throw new InvalidArgument(
            `record ${position}: partition_key must have 1 to ${PARTITION_KEY_LENGTH_MAX} characters`,
          );
        }
        if (record.explicitHashKey !== "" && !/^\d{1,39}$/.test(record.explicitHashKey)) {
          throw new InvalidArgument(`record ${position}: explicit_hash_key must be a decimal integer`);
        }
        bytes += record.data.length + Buffer.byteLength(record.partitionKey);
        return record.explicitHashKey === ""
          ? { partitionKey: record.partitionKey, data: record.data }
          : { partitionKey: record.partitionKey, data: record.data, explicitHashKey: record.explicitHashKey };
      });
      if (bytes > APPEND_BYTES_MAX) {
        throw new InvalidArgument(`a batch holds at most ${APPEND_BYTES_MAX} bytes, not ${bytes}`);
      }
      const result = await host.append(request.groupId, records);
      return {
        groupId: request.groupId,
        term: result.term,
        index: result.index,
        arrivalTimestampMs: result.arrivalTimestampMs,
        recordCount: result.recordCount,
      };
    }),

    read: unary<admin.ReadRequest, admin.ReadResponse>("Read", (request, host) => {
      checkGroupId(request.groupId);
      const maxRecords =
        request.maxRecords === 0 ? READ_RECORDS_DEFAULT : Math.min(request.maxRecords, READ_RECORDS_MAX);
      const maxBytes =
        request.maxBytes === 0 ? READ_BYTES_DEFAULT : Math.min(request.maxBytes, READ_BYTES_MAX);
      const result = host.read(
        request.groupId,
        request.fromIndex,
        { maxRecords, maxBytes },
        request.fromOffset,
      );
      return {
        records: result.records.map((record) => ({
          index: record.index,
          offset: record.offset,
          arrivalTimestampMs: record.arrivalTimestampMs,
          partitionKey: record.partitionKey,
          data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength),
        })),
        nextIndex: result.nextIndex,
        nextOffset: result.nextOffset,
        commitIndex: result.commitIndex,
        firstIndex: result.firstIndex,
        lastIndex: result.lastIndex,
      };
    }),

    groupStatus: unary<admin.GroupStatusRequest, admin.GroupStatusResponse>(
      "GroupStatus",
      (request, host) => {
        checkGroupId(request.groupId, true);
        const status = host.groupStatus(request.groupId);
        return {
          groupId: request.groupId,
          role: roleName(status.role),
          leader: status.leader,
          term: status.term,
          commitIndex: status.commitIndex,
          appliedIndex: status.appliedIndex,
          lastIndex: status.lastIndex,
          firstIndex: status.firstIndex,
          quiesced: status.quiesced,
          voters: [...status.voters],
        };
      },
    ),

    logChecksum: unary<admin.LogChecksumRequest, admin.LogChecksumResponse>(
      "LogChecksum",
      (request, host) => {
        checkGroupId(request.groupId);
        return {
          groupId: request.groupId,
          upToIndex: request.upToIndex,
          checksum: host.committedLogChecksum(request.groupId, request.upToIndex),
        };
      },
    ),

    nodeStatus: unary<admin.NodeStatusRequest, admin.NodeStatusResponse>("NodeStatus", (_request, host) => {
      const groupIds = [...host.groupIds()].sort((a, b) => a - b);
      const led: number[] = [];
      let quiesced = 0;
      for (const groupId of groupIds) {
        const status = host.groupStatus(groupId);
        if (roleName(status.role) === "leader") led.push(groupId);
        if (status.quiesced) quiesced += 1;
      }
      return {
        nodeId: facts.nodeId,
        zone: facts.zone,
        clusterId: facts.clusterId,
        pid: process.pid,
        uptimeMs: Math.max(0, facts.now() - facts.startedAtMs),
        groupIds,
        ledGroupIds: led,
        quiescedGroups: quiesced,
        metrics: { ...facts.metrics() },
        peers: Object.fromEntries(facts.peerStates()),
      };
    }),

    transferLeader: unary<admin.TransferLeaderRequest, admin.TransferLeaderResponse>(
      "TransferLeader",
      (request, host) => {
        checkGroupId(request.groupId, true);
        if (request.toNodeId === 0) throw new InvalidArgument("to_node_id is required");
        host.transferLeader(request.groupId, request.toNodeId);
        return {};
      },
    ),
  };
}

/** Shard and admin-made groups are 1 or more; `withMetadata` also admits group 0 (status, transfers). */
function checkGroupId(groupId: number, withMetadata = false): void {
  const min = withMetadata ? 0 : 1;
  if (!Number.isInteger(groupId) || groupId < min)
    throw new InvalidArgument(`group_id must be ${min} or more`);
}

/** gRPC status for each stable error code of the host; anything else is INTERNAL or UNAVAILABLE. */
const STATUS_BY_CODE: Readonly<Record<string, GrpcStatus>> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  INVALID_RECORD: GrpcStatus.INVALID_ARGUMENT,
  APPEND_TOO_LARGE: GrpcStatus.INVALID_ARGUMENT,
  GROUP_VOTERS_MISMATCH: GrpcStatus.FAILED_PRECONDITION,
  NOT_LEADER: GrpcStatus.FAILED_PRECONDITION,
  GROUP_NOT_FOUND: GrpcStatus.NOT_FOUND,
  BUSY: GrpcStatus.RESOURCE_EXHAUSTED,
  BROKER_CLOSED: GrpcStatus.UNAVAILABLE,
  // The outcome is unknown: the batch may or may not be in the log.
  APPEND_TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  LEADERSHIP_LOST: GrpcStatus.ABORTED,
  STORAGE_FAILED: GrpcStatus.INTERNAL,
  CORRUPT_BATCH: GrpcStatus.DATA_LOSS,
};

interface MappedError {
  code: GrpcStatus;
  details: string;
  metadata: Metadata;
}

export function mapError(error: unknown): MappedError {
  const typed = error as { code?: unknown; retriable?: unknown; leaderHint?: unknown; message?: unknown };
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof typed?.code === "string" ? typed.code : undefined;
  const leaderHint = typeof typed?.leaderHint === "number" ? typed.leaderHint : undefined;
  if (error instanceof InvalidArgument)
    return failure(GrpcStatus.INVALID_ARGUMENT, "INVALID_ARGUMENT", message, undefined);
  if (code === undefined) return failure(GrpcStatus.INTERNAL, "INTERNAL", message, undefined);
  const status =
    STATUS_BY_CODE[code] ?? (typed.retriable === true ? GrpcStatus.UNAVAILABLE : GrpcStatus.INTERNAL);
  return failure(status, code, message, leaderHint);
}

function failure(
  code: GrpcStatus,
  errorCode: string,
  details: string,
  leaderHint: number | undefined,
): MappedError {
  const metadata = new Metadata();
  metadata.set("sluice-error-code", errorCode);
  if (leaderHint !== undefined) metadata.set("sluice-leader-hint", String(leaderHint));
  return { code, details: `${errorCode}: ${details}`, metadata };
}
