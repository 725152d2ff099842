// Proves the error table covers every code of the gateway, the metadata service and the broker, and that toServiceError carries the Kinesis name, code and retriable in the status details without leaking unknown errors.
import { readFileSync } from "node:fs";
import { Metadata, status } from "@grpc/grpc-js";
import { BrokerErrorCode, NotLeaderError } from "@sluice/broker";
import { MetadataErrorCode } from "@sluice/metadata";
import { describe, expect, it } from "vitest";
import {
  BROKER_ERROR_CODES,
  decodeStatusDetails,
  ERROR_TABLE,
  ExpiredIteratorError,
  GatewayErrorCode,
  INTERNAL_FAILURE_MESSAGE,
  InternalFailureError,
  METADATA_ERROR_CODES,
  ProvisionedThroughputExceededError,
  readErrorDetail,
  STATUS_DETAILS_KEY,
  toServiceError,
  ValidationError,
} from "../src/index.js";

describe("ERROR_TABLE", () => {
  it("covers every code of the gateway, the metadata service and the broker", () => {
    expect([...METADATA_ERROR_CODES].sort()).toEqual(Object.values(MetadataErrorCode).sort());
    expect([...BROKER_ERROR_CODES].sort()).toEqual(Object.values(BrokerErrorCode).sort());
    for (const code of [...Object.values(GatewayErrorCode), ...METADATA_ERROR_CODES, ...BROKER_ERROR_CODES]) {
      expect(ERROR_TABLE[code], code).toBeDefined();
    }
  });

  it("is rendered row for row in the README", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const [code, entry] of Object.entries(ERROR_TABLE)) {
      const row = `| \`${code}\` | ${entry.kinesisName} | ${status[entry.grpcStatus]} | ${entry.retriable ? "yes" : "no"} | ${entry.meaning} |`;
      expect(readme, code).toContain(row);
    }
  });

  it("gives retriable server faults UNAVAILABLE and the others INTERNAL", () => {
    expect(new InternalFailureError("x", { retriable: true }).grpcStatus).toBe(status.UNAVAILABLE);
    expect(new InternalFailureError("x").grpcStatus).toBe(status.INTERNAL);
    expect(new ProvisionedThroughputExceededError("x").grpcStatus).toBe(status.RESOURCE_EXHAUSTED);
    expect(new ValidationError("x").kinesisName).toBe("ValidationException");
  });
});

describe("toServiceError", () => {
  it("carries the Kinesis name, code and retriable in the status details and the plain pair", () => {
    const serviceError = toServiceError(new ExpiredIteratorError("the iterator expired; get a new one"));
    expect(serviceError.code).toBe(status.FAILED_PRECONDITION);
    expect(serviceError.details).toBe("the iterator expired; get a new one");
    const [bin] = serviceError.metadata.get(STATUS_DETAILS_KEY);
    const decoded = decodeStatusDetails(bin as Buffer);
    expect(decoded).toEqual({
      code: status.FAILED_PRECONDITION,
      message: "the iterator expired; get a new one",
      detail: { errorName: "ExpiredIteratorException", code: "EXPIRED_ITERATOR", retriable: false },
    });
    expect(readErrorDetail(serviceError.metadata)).toEqual({
      errorName: "ExpiredIteratorException",
      code: "EXPIRED_ITERATOR",
      retriable: false,
      message: "the iterator expired; get a new one",
    });
    expect(serviceError.metadata.get("sluice-error-name")).toEqual(["ExpiredIteratorException"]);
  });

  it("maps other packages' errors through the table", () => {
    const serviceError = toServiceError(new NotLeaderError(7, 0));
    expect(serviceError.code).toBe(status.UNAVAILABLE);
    expect(readErrorDetail(serviceError.metadata)).toMatchObject({
      errorName: "InternalFailure",
      code: "NOT_LEADER",
      retriable: true,
    });
  });

  it("hides unknown errors behind a generic InternalFailure", () => {
    for (const thrown of [
      new Error("secret path /etc/x"),
      Object.assign(new Error("odd"), { code: "ENOENT" }),
      "a string",
      undefined,
    ]) {
      const serviceError = toServiceError(thrown);
      expect(serviceError.code).toBe(status.INTERNAL);
      expect(serviceError.details).toBe(INTERNAL_FAILURE_MESSAGE);
      expect(readErrorDetail(serviceError.metadata)).toMatchObject({
        errorName: "InternalFailure",
        code: "INTERNAL_FAILURE",
      });
    }
  });

  it("passes on what a peer said for a forwarded call", () => {
    const fromPeer = toServiceError(new ValidationError("PartitionKey must be 1 to 256 characters, got 257"));
    const again = toServiceError(fromPeer);
    expect(again.code).toBe(status.INVALID_ARGUMENT);
    expect(again.details).toBe("PartitionKey must be 1 to 256 characters, got 257");
    expect(readErrorDetail(again.metadata)?.code).toBe("VALIDATION_FAILED");
  });

  it("reads the plain pair when there are no status details, and null when there is nothing", () => {
    const metadata = new Metadata();
    expect(readErrorDetail(metadata)).toBeNull();
    metadata.set("sluice-error-name", "ResourceNotFoundException");
    metadata.set("sluice-error-code", "STREAM_NOT_FOUND");
    expect(readErrorDetail(metadata)).toEqual({
      errorName: "ResourceNotFoundException",
      code: "STREAM_NOT_FOUND",
      retriable: false,
    });
  });
});
