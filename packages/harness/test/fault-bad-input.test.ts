// Proves invariant 5 on a real three-node cluster: a seeded fuzzer's malformed, truncated,
// oversize and random messages to the public gRPC API, the Kinesis HTTP port and the peer port
// are each answered with a typed error (or, on the peer port, a refused or closed connection),
// no node crashes, and the cluster's state (streams, the canary stream's shards and records) does
// not change. The seed is fixed; SLUICE_FUZZ_SEED runs another, and a failure names it.
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "../src/cluster.js";
import { runBadInputCampaign } from "../src/fault/fuzz.js";

// This file uses ports 20440-20451.
const BASE_PORT = 20_440;
const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 20_260_101);
const CASES = Number(process.env.SLUICE_FUZZ_CASES ?? 1_000);

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** Sends raw bytes as the request message of a public-API method. */
function rawUnary(method: string, bytes: Buffer): Promise<ServiceError | Buffer> {
  const client = new Client(`127.0.0.1:${cluster.ports(1).grpc}`, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/sluice.v1.StreamsService/${method}`,
      (message: Buffer) => message,
      (message: Buffer) => message,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (error, response) => {
        client.close();
        resolve(error ?? (response as Buffer));
      },
    );
  });
}

describe("bad input", () => {
  // Regression (found by this campaign, seed 7): every method but PutRecord(s) answered a
  // protobuf it could not decode with INTERNAL, grpc-js's answer to a throwing deserializer.
  it("answers a truncated DescribeStream, ListShards and GetRecords with INVALID_ARGUMENT", async () => {
    // Field 1 (a string) announcing 5 bytes, with 1 present.
    const truncated = Buffer.from([0x0a, 0x05, 0x61]);
    for (const method of ["DescribeStream", "ListShards", "GetRecords", "UpdateShardCount"]) {
      const answer = await rawUnary(method, truncated);
      expect(answer, method).toBeInstanceOf(Error);
      const error = answer as ServiceError;
      expect(status[error.code], `${method}: ${error.details}`).toBe("INVALID_ARGUMENT");
      expect(error.metadata.get("sluice-error-name")[0], method).toBe("ValidationException");
    }
  });

  it(`answers ${CASES} fuzzed requests with typed errors, without a crash or a state change`, async () => {
    const result = await runBadInputCampaign({ seed: SEED, cases: CASES, basePort: BASE_PORT, cluster });
    console.log(result.report);
    expect(result.crashes, `seed ${SEED}:\n${result.report}`).toEqual([]);
    expect(result.stateChanged, `seed ${SEED}:\n${result.report}`).toEqual([]);
    expect(result.ok, `seed ${SEED} (rerun with SLUICE_FUZZ_SEED=${SEED}):\n${result.report}`).toBe(true);
  }, 600_000);
});
