// Proves that a put stops retrying at the caller's gRPC deadline when that comes before the
// gateway's own PUT_DEADLINE_MS: the unary handler hands the deadline a real grpc-js client set
// (over loopback) to the operation, and the put's deadline is the earlier of the two.
import {
  credentials,
  type handleUnaryCall,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUT_DEADLINE_MS } from "../src/server/constants.js";
import { deadlineAtMsOf, unaryCall } from "../src/server/grpc-calls.js";
import { putDeadlineAtMs } from "../src/server/operations.js";

describe("putDeadlineAtMs", () => {
  const nowMs = 1_800_000_000_000;

  it("is PUT_DEADLINE_MS after arrival when the caller set no deadline", () => {
    expect(putDeadlineAtMs(nowMs, undefined)).toBe(nowMs + PUT_DEADLINE_MS);
    expect(putDeadlineAtMs(nowMs, {})).toBe(nowMs + PUT_DEADLINE_MS);
    expect(putDeadlineAtMs(nowMs, { deadlineAtMs: Number.POSITIVE_INFINITY })).toBe(nowMs + PUT_DEADLINE_MS);
  });

  it("is the caller's deadline when that comes first", () => {
    expect(putDeadlineAtMs(nowMs, { deadlineAtMs: nowMs + 1_500 })).toBe(nowMs + 1_500);
  });

  it("stays PUT_DEADLINE_MS after arrival when the caller's deadline is later", () => {
    expect(putDeadlineAtMs(nowMs, { deadlineAtMs: nowMs + 10 * PUT_DEADLINE_MS })).toBe(
      nowMs + PUT_DEADLINE_MS,
    );
  });
});

describe("deadlineAtMsOf", () => {
  it("reads a Date, a number and no deadline (Infinity)", () => {
    expect(deadlineAtMsOf({ getDeadline: () => new Date(1_234) })).toBe(1_234);
    expect(deadlineAtMsOf({ getDeadline: () => 5_678 })).toBe(5_678);
    expect(deadlineAtMsOf({ getDeadline: () => Number.POSITIVE_INFINITY })).toBeUndefined();
  });
});

/** A one-method service with JSON messages, so the test needs no generated code. */
const ECHO_SERVICE: ServiceDefinition = {
  echo: {
    path: "/sluice.test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
    requestDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
    responseSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
    responseDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
  },
};

describe("unaryCall over real gRPC", () => {
  const server = new Server();

  /** The echo client: grpc-js's generic client over the service definition. */
  type EchoClient = {
    echo(
      request: unknown,
      options: { deadline?: Date },
      callback: (error: Error | null, response?: { deadlineAtMs: number | null }) => void,
    ): void;
    close(): void;
  };
  let client: EchoClient;

  beforeAll(async () => {
    const handler: handleUnaryCall<unknown, { deadlineAtMs: number | null }> = unaryCall(
      "Echo",
      async (_request, context) => ({ deadlineAtMs: context.deadlineAtMs ?? null }),
      Date.now,
      undefined,
    );
    server.addService(ECHO_SERVICE, { echo: handler });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
    const Client = makeGenericClientConstructor(ECHO_SERVICE, "Echo");
    client = new Client(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as EchoClient;
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const call = (options: { deadline?: Date }) =>
    new Promise<{ deadlineAtMs: number | null }>((resolve, reject) =>
      client.echo({}, options, (error, response) =>
        error === null && response !== undefined ? resolve(response) : reject(error),
      ),
    );

  it("hands the operation the deadline the client set", async () => {
    const deadline = new Date(Date.now() + 60_000);
    const answer = await call({ deadline });
    // gRPC carries a timeout, not an instant: the server's deadline is within clock-reading error.
    expect(answer.deadlineAtMs).not.toBeNull();
    expect(Math.abs((answer.deadlineAtMs as number) - deadline.getTime())).toBeLessThan(5_000);
  });

  it("hands no deadline when the client set none", async () => {
    expect((await call({})).deadlineAtMs).toBeNull();
  });
});
