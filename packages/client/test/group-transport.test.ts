// Proves that the consumer-group transport carries the worker's credentials: every call sends
// `authorization: Bearer <id>:<secret>` when credentials are given and no such metadata without,
// over a real loopback gRPC server; and that malformed credentials, half a client certificate,
// or credentials next to a ready-made transport are refused when the worker is built.
import * as grpc from "@grpc/grpc-js";
import { groups, streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsumerGroup, grpcGroupTransport, InvalidGroupOptionsError } from "../src/index.js";

// This file uses port 20280.
const PORT = 20_280;
const ADDRESS = `127.0.0.1:${PORT}`;
const KEY = { accessKeyId: "AKIDGROUPWORKER", secretAccessKey: "group-worker-secret-1" };

let server: grpc.Server;
/** The authorization metadata of each call the server saw, "" for none. */
const seen: string[] = [];

function recording<Res>(response: Res) {
  return (call: grpc.ServerUnaryCall<unknown, Res>, callback: grpc.sendUnaryData<Res>) => {
    seen.push(String(call.metadata.get("authorization")[0] ?? ""));
    callback(null, response);
  };
}

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(groups.ConsumerGroupServiceService, {
    joinGroup: recording(groups.JoinGroupResponse.fromPartial({})),
    heartbeat: recording(groups.HeartbeatResponse.fromPartial({})),
    checkpoint: recording(groups.CheckpointResponse.fromPartial({})),
    leaveGroup: recording(groups.LeaveGroupResponse.fromPartial({})),
    describeGroup: recording(groups.DescribeGroupResponse.fromPartial({})),
  });
  server.addService(streams.StreamsServiceService, {
    getRecords: recording(streams.GetRecordsResponse.fromPartial({})),
  } as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(ADDRESS, grpc.ServerCredentials.createInsecure(), (error) =>
      error === null ? resolve() : reject(error),
    ),
  );
});
afterAll(() => {
  server?.forceShutdown();
});

describe("grpcGroupTransport credentials", () => {
  it("sends the bearer key on group and stream calls when given credentials, nothing without", async () => {
    const keyed = grpcGroupTransport([ADDRESS], { credentials: KEY });
    const anonymous = grpcGroupTransport([ADDRESS]);
    try {
      seen.length = 0;
      await keyed.describeGroup(groups.DescribeGroupRequest.fromPartial({ streamName: "s", groupName: "g" }));
      await keyed.getRecords({ shardIterator: "x" });
      expect(seen).toEqual([
        `Bearer ${KEY.accessKeyId}:${KEY.secretAccessKey}`,
        `Bearer ${KEY.accessKeyId}:${KEY.secretAccessKey}`,
      ]);
      seen.length = 0;
      await anonymous.describeGroup(
        groups.DescribeGroupRequest.fromPartial({ streamName: "s", groupName: "g" }),
      );
      expect(seen).toEqual([""]);
    } finally {
      keyed.close();
      anonymous.close();
    }
  });

  it("refuses malformed credentials, half a client certificate, and credentials beside a transport", () => {
    expect(() =>
      grpcGroupTransport([ADDRESS], {
        credentials: { accessKeyId: "a b", secretAccessKey: "s3cret-secret" },
      }),
    ).toThrow(InvalidGroupOptionsError);
    expect(() => grpcGroupTransport([ADDRESS], { tls: { cert: "PEM" } })).toThrow(/tls.cert and tls.key/);
    expect(() => grpcGroupTransport([])).toThrow(InvalidGroupOptionsError);
    const transport = grpcGroupTransport([ADDRESS]);
    try {
      expect(
        () => new ConsumerGroup({ streamName: "s", groupName: "g", transport, credentials: KEY }),
      ).toThrow(/a given transport carries its own/);
    } finally {
      transport.close();
    }
  });
});
