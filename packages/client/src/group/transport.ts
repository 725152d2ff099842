/**
 * What the worker needs of the cluster, and an implementation over the generated gRPC clients
 * (ConsumerGroupService and StreamsService) that spreads calls over a list of node endpoints and
 * moves to the next one when a call fails without the cluster's answer. A small seam: once the
 * SDK's SluiceClient lands, an adapter over it replaces this one.
 */
import { type Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { groups, streams } from "@sluice/proto";
import { GROUP_CALL_TIMEOUT_MS } from "./constants.js";
import { groupErrorOf } from "./errors.js";

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

/** A GroupTransport over gRPC to `endpoints` ("host:port"), in order, failing over on transport errors. */
export function grpcGroupTransport(
  endpoints: readonly string[],
  callTimeoutMs = GROUP_CALL_TIMEOUT_MS,
): GroupTransport {
  if (endpoints.length === 0) throw new RangeError("grpcGroupTransport needs at least one endpoint");
  const pool: Endpoint[] = endpoints.map((address) => ({
    groups: new groups.ConsumerGroupServiceClient(address, credentials.createInsecure()),
    streams: new streams.StreamsServiceClient(address, credentials.createInsecure()),
  }));
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
            new Metadata(),
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
