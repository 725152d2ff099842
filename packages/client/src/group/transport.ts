/**
 * What the worker needs of the cluster, and an implementation over the generated gRPC clients
 * (ConsumerGroupService and StreamsService) that spreads calls over a list of node endpoints and
 * moves to the next one when a call fails without the cluster's answer. A small seam: once the
 * SDK's SluiceClient lands, an adapter over it replaces this one.
 *
 * Security is the SluiceClient's: `tls` for nodes started with --tls-* (the cluster CA, and a
 * client certificate when the nodes should authenticate the worker by it), `credentials` for
 * nodes started with --auth-keys (sent as `authorization: Bearer <id>:<secret>` on every call;
 * the principal needs sluice:JoinGroup, Heartbeat, Checkpoint, LeaveGroup, DescribeGroup and
 * kinesis:GetShardIterator, GetRecords on the stream).
 */
import {
  type ChannelCredentials,
  type Client,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { groups, streams } from "@sluice/proto";
import type { SluiceClientCredentials, SluiceClientTls } from "../client.js";
import { serverNameOptions } from "../endpoint-pool.js";
import { StreamsServiceClient } from "../put-codec.js";
import { GROUP_CALL_TIMEOUT_MS } from "./constants.js";
import { groupErrorOf, InvalidGroupOptionsError } from "./errors.js";

export interface GroupTransport {
  joinGroup(request: groups.JoinGroupRequest): Promise<groups.JoinGroupResponse>;
  heartbeat(request: groups.HeartbeatRequest): Promise<groups.HeartbeatResponse>;
  checkpoint(request: groups.CheckpointRequest): Promise<groups.CheckpointResponse>;
  leaveGroup(request: groups.LeaveGroupRequest): Promise<groups.LeaveGroupResponse>;
  describeGroup(request: groups.DescribeGroupRequest): Promise<groups.DescribeGroupResponse>;
  getShardIterator(
    request: Partial<streams.GetShardIteratorRequest>,
  ): Promise<streams.GetShardIteratorResponse>;
  getRecords(request: Partial<streams.GetRecordsRequest>): Promise<streams.GetRecordsResponse>;
  close(): void;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

interface Endpoint {
  readonly groups: groups.ConsumerGroupServiceClient;
  readonly streams: streams.StreamsServiceClient;
}

export interface GrpcGroupTransportOptions {
  /** Deadline of each call, in ms. @default GROUP_CALL_TIMEOUT_MS (10 s) */
  readonly callTimeoutMs?: number;
  /**
   * TLS to the nodes, as SluiceClientOptions.tls: `true` trusts the system's CAs; an object gives
   * the CA (PEM) and optionally a client certificate and key. @default undefined (plaintext)
   */
  readonly tls?: true | SluiceClientTls;
  /** An access key of the cluster, as SluiceClientOptions.credentials. @default undefined (none sent) */
  readonly credentials?: SluiceClientCredentials;
}

/**
 * A GroupTransport over gRPC to `endpoints` ("host:port"), in order, failing over on transport
 * errors. InvalidGroupOptionsError when an option is invalid.
 */
export function grpcGroupTransport(
  endpoints: readonly string[],
  options: GrpcGroupTransportOptions = {},
): GroupTransport {
  if (endpoints.length === 0)
    throw new InvalidGroupOptionsError("grpcGroupTransport needs at least one endpoint");
  const callTimeoutMs = options.callTimeoutMs ?? GROUP_CALL_TIMEOUT_MS;
  if (!(Number.isFinite(callTimeoutMs) && callTimeoutMs > 0)) {
    throw new InvalidGroupOptionsError(`callTimeoutMs must be a positive number of ms, not ${callTimeoutMs}`);
  }
  const authorization = authorizationOf(options.credentials);
  const channelCredentials = channelCredentialsOf(options.tls);
  const nameOptions = serverNameOptions(options.tls === true ? undefined : options.tls?.serverName);
  const pool: Endpoint[] = endpoints.map((address) => ({
    groups: new groups.ConsumerGroupServiceClient(address, channelCredentials, nameOptions),
    streams: new StreamsServiceClient(address, channelCredentials, nameOptions),
  }));
  const metadataOf = (): Metadata => {
    const metadata = new Metadata();
    if (authorization !== undefined) metadata.set("authorization", authorization);
    return metadata;
  };
  let current = 0;
  const call = async <Req, Res>(
    pick: (endpoint: Endpoint) => [Client, Unary<Req, Res>],
    request: Req,
  ): Promise<Res> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < pool.length; attempt++) {
      const endpoint = pool[current % pool.length] as Endpoint;
      const [client, method] = pick(endpoint);
      try {
        return await new Promise<Res>((resolve, reject) => {
          method.call(
            client,
            request,
            metadataOf(),
            { deadline: Date.now() + callTimeoutMs },
            (error, response) => (error === null ? resolve(response) : reject(error)),
          );
        });
      } catch (error) {
        lastError = error;
        const typed = groupErrorOf(error);
        // The cluster answered with its own code: that answer stands wherever we ask.
        if (
          typed.code !== "CALL_FAILED" &&
          typed.code !== "UNAVAILABLE" &&
          typed.code !== "METADATA_UNAVAILABLE"
        )
          throw typed;
        current += 1;
      }
    }
    throw groupErrorOf(lastError);
  };
  return {
    joinGroup: (r) =>
      call((e) => [e.groups, e.groups.joinGroup as never], groups.JoinGroupRequest.fromPartial(r)),
    heartbeat: (r) =>
      call((e) => [e.groups, e.groups.heartbeat as never], groups.HeartbeatRequest.fromPartial(r)),
    checkpoint: (r) =>
      call((e) => [e.groups, e.groups.checkpoint as never], groups.CheckpointRequest.fromPartial(r)),
    leaveGroup: (r) =>
      call((e) => [e.groups, e.groups.leaveGroup as never], groups.LeaveGroupRequest.fromPartial(r)),
    describeGroup: (r) =>
      call((e) => [e.groups, e.groups.describeGroup as never], groups.DescribeGroupRequest.fromPartial(r)),
    getShardIterator: (r) =>
      call(
        (e) => [e.streams, e.streams.getShardIterator as never],
        streams.GetShardIteratorRequest.fromPartial(r),
      ),
    getRecords: (r) =>
      call((e) => [e.streams, e.streams.getRecords as never], streams.GetRecordsRequest.fromPartial(r)),
    close: () => {
      for (const endpoint of pool) {
        endpoint.groups.close();
        endpoint.streams.close();
      }
    },
  };
}

/** `Bearer <id>:<secret>` of valid credentials, undefined without; InvalidGroupOptionsError when malformed. */
function authorizationOf(given: SluiceClientCredentials | undefined): string | undefined {
  if (given === undefined) return undefined;
  if (
    typeof given.accessKeyId !== "string" ||
    !/^[^:\s]+$/.test(given.accessKeyId) ||
    typeof given.secretAccessKey !== "string" ||
    !/^\S+$/.test(given.secretAccessKey)
  ) {
    throw new InvalidGroupOptionsError(
      "credentials need an accessKeyId (no spaces or colons) and a secretAccessKey (no spaces), as in the node's access-key file",
    );
  }
  return `Bearer ${given.accessKeyId}:${given.secretAccessKey}`;
}

/** Plaintext without `tls`; TLS with the system's CAs for `true`; else the given PEM material. */
function channelCredentialsOf(tls: true | SluiceClientTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if (tls === true) return credentials.createSsl();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new InvalidGroupOptionsError("tls.cert and tls.key go together: give both or neither");
  }
  const pem = (value: Buffer | string | undefined): Buffer | null =>
    value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8");
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}
