/**
 * AWS Signature Version 4 verification of a Kinesis HTTP request, as the AWS documentation
 * ("Create a signed AWS API request") defines it, against the configured access keys:
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/kinesis/aws4_request,
 *                  SignedHeaders=h1;h2;…, Signature=<64 hex>
 *
 * 1. The header is parsed (IncompleteSignature when a part is missing or malformed; no header at
 *    all is MissingAuthenticationTokenException). Presigned query strings are not accepted.
 * 2. The access key id must be configured (UnrecognizedClientException).
 * 3. X-Amz-Date (or Date) must be within SIGV4_CLOCK_SKEW_MS_MAX of the server's clock and on the
 *    scope's day; the scope must name the `kinesis` (or `firehose`) service and end in `aws4_request`; `host` and
 *    `x-amz-date` (when sent) must be signed (InvalidSignatureException otherwise).
 * 4. The payload hash is the SHA-256 of the body as received; an X-Amz-Content-Sha256 header
 *    must equal it (UNSIGNED-PAYLOAD is refused), so a body changed in transit fails.
 * 5. The canonical request, string to sign and HMAC chain are recomputed and the signatures
 *    compared in constant time (InvalidSignatureException on a mismatch).
 *
 * Any region is accepted: a Sluice cluster answers for whichever region its clients are
 * configured with. Session tokens (X-Amz-Security-Token) are not checked; only long-term keys
 * exist here.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { AuthenticationError, GatewayErrorCode } from "../errors.js";
import {
  AUTHORIZATION_HEADER_CHARS_MAX,
  SIGNING_KEY_CACHE_ENTRIES_MAX,
  SIGV4_ALGORITHM,
  SIGV4_CLOCK_SKEW_MS_MAX,
  SIGV4_SERVICES,
} from "./constants.js";
import type { AccessKey, AccessKeyStore } from "./credentials.js";

/** What the verifier reads of a request. */
export interface SignedHttpRequest {
  readonly method: string;
  /** The request target as received: path and query, still percent-encoded. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The parts of an Authorization header. */
export interface SigV4Authorization {
  readonly accessKeyId: string;
  /** YYYYMMDD */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  /** 64 lower-case hex digits. */
  readonly signature: string;
}

export interface SigV4VerifierOptions {
  readonly keys: AccessKeyStore;
  /** Wall clock in ms. @default Date.now */
  readonly clock?: () => number;
  /** @default SIGV4_CLOCK_SKEW_MS_MAX */
  readonly clockSkewMsMax?: number;
}

const AUTH_PARAMS = /^\s*([A-Za-z]+)\s*=\s*([^,\s]*)\s*$/;
const AMZ_DATE = /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** Parses an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
export function parseAuthorization(header: string): SigV4Authorization {
  if (header.length > AUTHORIZATION_HEADER_CHARS_MAX) {
    throw incomplete(`the Authorization header is over ${AUTHORIZATION_HEADER_CHARS_MAX} characters`);
  }
  const space = header.indexOf(" ");
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw incomplete(
      `Authorization header requires the ${SIGV4_ALGORITHM} algorithm (AWS Signature Version 4), not ${JSON.stringify(algorithm.slice(0, 32))}`,
    );
  }
  const params = new Map<string, string>();
  for (const part of header.slice(space + 1).split(",")) {
    const match = AUTH_PARAMS.exec(part);
    if (match === null)
      throw incomplete(
        `Authorization header part ${JSON.stringify(part.trim().slice(0, 64))} is not name=value`,
      );
    params.set(match[1] as string, match[2] as string);
  }
  const credential = params.get("Credential");
  const signedHeaders = params.get("SignedHeaders");
  const signature = params.get("Signature");
  const missing = [
    credential === undefined ? "Credential" : "",
    signedHeaders === undefined ? "SignedHeaders" : "",
    signature === undefined ? "Signature" : "",
  ].filter(Boolean);
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incomplete(`Authorization header requires the ${missing.join(", ")} parameter(s)`);
  }
  const scope = credential.split("/");
  if (scope.length !== 5 || scope.some((piece) => piece === "")) {
    throw incomplete("Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request");
  }
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date) || terminator !== "aws4_request") {
    throw incomplete("Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request");
  }
  if (!HEX_SIGNATURE.test(signature)) throw incomplete("Signature must be 64 lower-case hex digits");
  const headers = signedHeaders.split(";");
  if (headers.some((name) => name === "" || name !== name.toLowerCase())) {
    throw incomplete("SignedHeaders must be lower-case header names separated by ;");
  }
  return { accessKeyId, date, region, service, signedHeaders: headers, signature };
}

/**
 * Verifies SigV4 signatures against a key store. `verify` returns the key that signed the
 * request or throws AuthenticationError with the code (and so the Kinesis name) AWS would use.
 */
export class SigV4Verifier {
  readonly #keys: AccessKeyStore;
  readonly #clock: () => number;
  readonly #skewMsMax: number;
  /** scope "AKID/date/region/service" → signing key; cleared when full. */
  readonly #signingKeys = new Map<string, Buffer>();

  constructor(options: SigV4VerifierOptions) {
    this.#keys = options.keys;
    this.#clock = options.clock ?? Date.now;
    this.#skewMsMax = options.clockSkewMsMax ?? SIGV4_CLOCK_SKEW_MS_MAX;
    if (!Number.isSafeInteger(this.#skewMsMax) || this.#skewMsMax < 0) {
      throw new RangeError(`clockSkewMsMax must be a non-negative integer of ms, got ${this.#skewMsMax}`);
    }
  }

  verify(request: SignedHttpRequest): AccessKey {
    const header = headerValue(request.headers.authorization);
    if (header === undefined) {
      throw new AuthenticationError(
        GatewayErrorCode.MissingAuthenticationToken,
        "Missing Authentication Token: sign the request with AWS Signature Version 4 and a configured access key",
      );
    }
    const auth = parseAuthorization(header);
    const key = this.#keys.get(auth.accessKeyId);
    if (key === undefined) {
      throw new AuthenticationError(
        GatewayErrorCode.UnrecognizedClient,
        "The security token included in the request is invalid: the access key id is not configured on this cluster",
      );
    }
    const amzDate = headerValue(request.headers["x-amz-date"]);
    const dateText = amzDate ?? headerValue(request.headers.date);
    if (dateText === undefined) {
      throw incomplete("the request needs an X-Amz-Date header (or a Date header) that is signed");
    }
    const timeMs = amzDate === undefined ? Date.parse(dateText) : parseAmzDate(amzDate);
    if (!Number.isFinite(timeMs) || (amzDate !== undefined && formatAmzDate(timeMs) !== amzDate)) {
      throw incomplete(
        `X-Amz-Date ${JSON.stringify(dateText.slice(0, 32))} is not of the form YYYYMMDDTHHMMSSZ`,
      );
    }
    const isoDate = formatAmzDate(timeMs);
    const now = this.#clock();
    if (timeMs < now - this.#skewMsMax) {
      throw invalidSignature(
        `Signature expired: ${isoDate} is now earlier than ${formatAmzDate(now - this.#skewMsMax)} (${formatAmzDate(now)} - 5 min.); check the client's clock`,
      );
    }
    if (timeMs > now + this.#skewMsMax) {
      throw invalidSignature(
        `Signature not yet current: ${isoDate} is still later than ${formatAmzDate(now + this.#skewMsMax)} (${formatAmzDate(now)} + 5 min.); check the client's clock`,
      );
    }
    if (isoDate.slice(0, 8) !== auth.date) {
      throw invalidSignature(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${isoDate.slice(0, 8)}'`,
      );
    }
    if (!SIGV4_SERVICES.includes(auth.service)) {
      throw invalidSignature(`Credential should be scoped to correct service: '${SIGV4_SERVICES[0]}'`);
    }
    if (!auth.signedHeaders.includes("host")) {
      throw invalidSignature("'Host' must be a signed header");
    }
    if (!auth.signedHeaders.includes(amzDate === undefined ? "date" : "x-amz-date")) {
      throw invalidSignature(`'${amzDate === undefined ? "Date" : "X-Amz-Date"}' must be a signed header`);
    }
    const payloadHash =
      request.body.length === 0 ? EMPTY_SHA256 : createHash("sha256").update(request.body).digest("hex");
    const declaredHash = headerValue(request.headers["x-amz-content-sha256"]);
    if (declaredHash !== undefined && declaredHash !== payloadHash) {
      throw invalidSignature(
        "The provided X-Amz-Content-Sha256 header does not match the body received (UNSIGNED-PAYLOAD is not accepted)",
      );
    }
    const canonical = canonicalRequest(request, auth.signedHeaders, payloadHash);
    const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
    const stringToSign = `${SIGV4_ALGORITHM}\n${isoDate}\n${scope}\n${createHash("sha256").update(canonical).digest("hex")}`;
    const expected = createHmac("sha256", this.#signingKey(key, auth)).update(stringToSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(auth.signature, "hex"))) {
      throw invalidSignature(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method",
      );
    }
    return key;
  }

  #signingKey(key: AccessKey, auth: SigV4Authorization): Buffer {
    const cacheKey = `${key.accessKeyId}/${auth.date}/${auth.region}/${auth.service}`;
    let signingKey = this.#signingKeys.get(cacheKey);
    if (signingKey === undefined) {
      signingKey = deriveSigningKey(key.secretAccessKey, auth.date, auth.region, auth.service);
      if (this.#signingKeys.size >= SIGNING_KEY_CACHE_ENTRIES_MAX) this.#signingKeys.clear();
      this.#signingKeys.set(cacheKey, signingKey);
    }
    return signingKey;
  }
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac("sha256", `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac("sha256", kDate).update(region).digest();
  const kService = createHmac("sha256", kRegion).update(service).digest();
  return createHmac("sha256", kService).update("aws4_request").digest();
}

/**
 * The canonical request: method, canonical URI, canonical query string, canonical headers,
 * signed headers and the payload hash, one per line.
 */
export function canonicalRequest(
  request: Pick<SignedHttpRequest, "method" | "url" | "headers">,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const url = request.url === "" ? "/" : request.url;
  const question = url.indexOf("?");
  const path = question < 0 ? url : url.slice(0, question);
  const query = question < 0 ? "" : url.slice(question + 1);
  let headers = "";
  for (const name of signedHeaders) headers += `${name}:${canonicalHeaderValue(request.headers, name)}\n`;
  return `${request.method.toUpperCase()}\n${canonicalUri(path)}\n${canonicalQuery(query)}\n${headers}\n${signedHeaders.join(";")}\n${payloadHash}`;
}

/**
 * Each path segment URI-encoded once more (the AWS SDKs sign the path they send, which is
 * already encoded once: non-S3 services double-encode).
 */
function canonicalUri(path: string): string {
  if (path === "" || path === "/") return "/";
  return path
    .split("/")
    .map((segment) => uriEncode(segment))
    .join("/");
}

function canonicalQuery(query: string): string {
  if (query === "") return "";
  const pairs = query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair): [string, string] => {
      const equals = pair.indexOf("=");
      const name = equals < 0 ? pair : pair.slice(0, equals);
      const value = equals < 0 ? "" : pair.slice(equals + 1);
      return [uriEncode(safeDecode(name)), uriEncode(safeDecode(value))];
    });
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join("&");
}

function canonicalHeaderValue(headers: IncomingHttpHeaders, name: string): string {
  // HTTP/2 carries the host in the :authority pseudo-header.
  const raw = headers[name] ?? (name === "host" ? headers[":authority"] : undefined);
  const value = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  return String(value).trim().replace(/\s+/g, " ");
}

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ percent-encoded, upper-case hex. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, "%20"));
  } catch {
    return text;
  }
}

/** ms since the epoch of YYYYMMDDTHHMMSSZ, or NaN. */
export function parseAmzDate(text: string): number {
  const match = AMZ_DATE.exec(text);
  if (match === null) return Number.NaN;
  const day = match[1] as string;
  return Date.UTC(
    Number(day.slice(0, 4)),
    Number(day.slice(4, 6)) - 1,
    Number(day.slice(6, 8)),
    Number(match[2]),
    Number(match[3]),
    Number(match[4]),
  );
}

/** YYYYMMDDTHHMMSSZ of a time in ms. */
export function formatAmzDate(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:]/g, "").slice(0, 15)}Z`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

function incomplete(message: string): AuthenticationError {
  return new AuthenticationError(GatewayErrorCode.IncompleteSignature, message);
}

function invalidSignature(message: string): AuthenticationError {
  return new AuthenticationError(GatewayErrorCode.InvalidSignature, message);
}
