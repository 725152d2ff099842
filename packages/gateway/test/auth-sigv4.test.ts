// Proves that the SigV4 verifier follows the AWS specification — the canonical request, signing
// key and signature of the example in AWS's documentation — and refuses, with the error a client
// of AWS expects, a missing or malformed Authorization header, an unknown key, a wrong secret, a
// request outside the five-minute window, a tampered body and a wrong service scope.
import { createHash, createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import {
  AccessKeyStore,
  AuthenticationError,
  canonicalRequest,
  deriveSigningKey,
  formatAmzDate,
  parseAuthorization,
  SigV4Verifier,
} from "../src/index.js";

const AKID = "AKIDEXAMPLE1234";
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const NOW_MS = Date.UTC(2026, 10, 27, 10, 0, 0);
const keys = AccessKeyStore.parse(`${AKID}:${SECRET}:orders-writer`, "test keys");

/** A second, independent signer written from the spec for these tests (the SDK's is tested in the cli package). */
function sign(
  body: string,
  options: { secret?: string; timeMs?: number; service?: string; accessKeyId?: string } = {},
): { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer } {
  const amzDate = formatAmzDate(options.timeMs ?? NOW_MS);
  const date = amzDate.slice(0, 8);
  const service = options.service ?? "kinesis";
  const headers: Record<string, string> = {
    host: "127.0.0.1:4567",
    "content-type": "application/x-amz-json-1.1",
    "x-amz-date": amzDate,
    "x-amz-target": "Kinesis_20131202.PutRecord",
  };
  const signed = Object.keys(headers).sort();
  const hash = (text: string) => createHash("sha256").update(text).digest("hex");
  const canonical = [
    "POST",
    "/",
    "",
    ...signed.map((name) => `${name}:${headers[name]}`),
    "",
    signed.join(";"),
    hash(body),
  ].join("\n");
  const scope = `${date}/us-west-2/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash(canonical)}`;
  let key: Buffer | string = `AWS4${options.secret ?? SECRET}`;
  for (const part of [date, "us-west-2", service, "aws4_request"])
    key = createHmac("sha256", key).update(part).digest();
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${options.accessKeyId ?? AKID}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`;
  return { method: "POST", url: "/", headers, body: Buffer.from(body) };
}

const verifier = new SigV4Verifier({ keys, clock: () => NOW_MS });

function refusal(request: ReturnType<typeof sign>): { code: string; name: string } {
  try {
    verifier.verify(request);
  } catch (error) {
    expect(error).toBeInstanceOf(AuthenticationError);
    return { code: (error as AuthenticationError).code, name: (error as AuthenticationError).kinesisName };
  }
  throw new Error("the request was accepted");
}

describe("SigV4 primitives", () => {
  it("reproduce the GET Object example of the AWS documentation", () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (GET Object)
    const headers = {
      host: "examplebucket.s3.amazonaws.com",
      range: "bytes=0-9",
      "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "x-amz-date": "20130524T000000Z",
    };
    const canonical = canonicalRequest(
      { method: "GET", url: "/test.txt", headers },
      ["host", "range", "x-amz-content-sha256", "x-amz-date"],
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(canonical).toBe(
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n" +
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    const stringToSign = `AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n${createHash("sha256").update(canonical).digest("hex")}`;
    expect(stringToSign.endsWith("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")).toBe(
      true,
    );
    const key = deriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
    expect(createHmac("sha256", key).update(stringToSign).digest("hex")).toBe(
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("parse an Authorization header into its scope, headers and signature", () => {
    const parsed = parseAuthorization(
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261127/eu-west-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"a".repeat(64)}`,
    );
    expect(parsed).toEqual({
      accessKeyId: AKID,
      date: "20261127",
      region: "eu-west-1",
      service: "kinesis",
      signedHeaders: ["host", "x-amz-date"],
      signature: "a".repeat(64),
    });
  });
});

describe("SigV4Verifier", () => {
  const body = '{"StreamName":"orders-eu","Data":"aGk=","PartitionKey":"k"}';

  it("accepts a correctly signed request and names the key's principal", () => {
    expect(verifier.verify(sign(body)).principal).toBe("orders-writer");
    expect(verifier.verify(sign(body, { service: "firehose" })).principal).toBe("orders-writer");
  });

  it("accepts a request up to five minutes either side of the server's clock", () => {
    expect(verifier.verify(sign(body, { timeMs: NOW_MS - 299_000 })).accessKeyId).toBe(AKID);
    expect(verifier.verify(sign(body, { timeMs: NOW_MS + 299_000 })).accessKeyId).toBe(AKID);
  });

  it("refuses a missing or malformed Authorization header", () => {
    const request = sign(body);
    delete request.headers.authorization;
    expect(refusal(request)).toEqual({
      code: "MISSING_AUTHENTICATION_TOKEN",
      name: "MissingAuthenticationTokenException",
    });
    const partial = sign(body);
    partial.headers.authorization = `AWS4-HMAC-SHA256 Credential=${AKID}/20261127/us-west-2/kinesis/aws4_request`;
    expect(refusal(partial)).toEqual({ code: "INCOMPLETE_SIGNATURE", name: "IncompleteSignature" });
    const other = sign(body);
    other.headers.authorization = "Basic dXNlcjpwYXNz";
    expect(refusal(other).name).toBe("IncompleteSignature");
  });

  it("refuses an unknown access key id as UnrecognizedClientException", () => {
    expect(refusal(sign(body, { accessKeyId: "AKIDNOTCONFIGURED" }))).toEqual({
      code: "UNRECOGNIZED_CLIENT",
      name: "UnrecognizedClientException",
    });
  });

  it("refuses a wrong secret as InvalidSignatureException", () => {
    expect(refusal(sign(body, { secret: "not-the-secret-at-all" })).name).toBe("InvalidSignatureException");
  });

  it("refuses a request signed six minutes off the server's clock, either way", () => {
    expect(refusal(sign(body, { timeMs: NOW_MS - 360_000 })).name).toBe("InvalidSignatureException");
    expect(refusal(sign(body, { timeMs: NOW_MS + 360_000 })).name).toBe("InvalidSignatureException");
  });

  it("refuses a body changed after signing, and a payload hash header that does not match the body", () => {
    const tampered = sign(body);
    expect(refusal({ ...tampered, body: Buffer.from(body.replace("orders-eu", "payments")) }).name).toBe(
      "InvalidSignatureException",
    );
    const unsigned = sign(body);
    unsigned.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    expect(refusal(unsigned).name).toBe("InvalidSignatureException");
  });

  it("refuses a changed signed header and a scope for another service", () => {
    const changed = sign(body);
    changed.headers["x-amz-target"] = "Kinesis_20131202.DeleteStream";
    expect(refusal(changed).name).toBe("InvalidSignatureException");
    expect(refusal(sign(body, { service: "dynamodb" })).name).toBe("InvalidSignatureException");
  });

  it("reads the host of an HTTP/2 request from :authority", () => {
    const request = sign(body);
    const { host, ...rest } = request.headers;
    expect(verifier.verify({ ...request, headers: { ...rest, ":authority": host } }).accessKeyId).toBe(AKID);
  });
});
