// Proves the internal principal of a node's own clients: its key authenticates as `sluice:internal`
// and keeps working when the key and policy files are reloaded (even to a policy that names it
// nowhere); it may run stream and consumer-group actions on any stream but not sluice:Admin; its
// audit lines name it; a wrong internal secret, a node without authentication, a configured key
// file or a client certificate cannot produce it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import {
  type AccessControl,
  AccessDeniedError,
  AccessKeyStore,
  AuthConfigError,
  AuthenticationError,
  INTERNAL_ACCESS_KEY_ID,
  INTERNAL_PRINCIPAL,
  Policy,
  type Principal,
} from "@sluice/gateway";
import { waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalCredentialsOf, openAccessControl, watchAuthFiles } from "../src/node/auth.js";
import type { AuthConfig } from "../src/node/config.js";
import type { Logger } from "../src/node/logger.js";

const POLL_MS = 20;
const WAIT_MS = 10_000;

const dir = mkdtempSync(join(tmpdir(), "sluice-internal-key-"));
const keysFile = join(dir, "access-keys");
const policyFile = join(dir, "policy.json");
const auditFile = join(dir, "audit.log");
const log: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const config: AuthConfig = {
  keysFile,
  keysText: undefined,
  policyFile,
  auditLogFile: auditFile,
  insecureWarningIntervalMs: 60_000,
};
let access: AccessControl;
let stop: () => void;

const policyFor = (principal: string, actions: string[]) =>
  JSON.stringify({ principals: { [principal]: [{ effect: "Allow", actions, resources: ["*"] }] } });

/** The principal a bearer key authenticates as, or the Kinesis name of the refusal. */
function authenticate(control: AccessControl, accessKeyId: string, secret: string): Principal | string {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${accessKeyId}:${secret}`);
  try {
    return control.authenticateGrpc({ metadata });
  } catch (error) {
    if (error instanceof AuthenticationError) return error.kinesisName;
    throw error;
  }
}

/** Whether `principal` may run `operation` of `namespace` on `stream`. */
function allowed(principal: Principal, namespace: "kinesis" | "sluice", operation: string, stream?: string) {
  try {
    access.authorize(principal, namespace, operation, stream === undefined ? {} : { streamName: stream })();
    return true;
  } catch (error) {
    if (error instanceof AccessDeniedError) return false;
    throw error;
  }
}

beforeAll(() => {
  writeFileSync(keysFile, "AKIDADMIN:admin-secret-1:admin\n");
  writeFileSync(policyFile, policyFor("admin", ["kinesis:*", "sluice:*"]));
  access = openAccessControl(config, log, Date.now);
  stop = watchAuthFiles(config, access, log, POLL_MS);
});
afterAll(async () => {
  stop?.();
  await access?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the internal principal", () => {
  it("authenticates the node's own clients and survives a reload of the key and policy files", async () => {
    const internal = internalCredentialsOf(config);
    if (internal === undefined) throw new Error("authentication is on: expected internal credentials");
    expect(internal.accessKeyId).toBe(INTERNAL_ACCESS_KEY_ID);
    expect(internalCredentialsOf(config)).toEqual(internal);
    expect(authenticate(access, internal.accessKeyId, internal.secretAccessKey)).toEqual({
      name: INTERNAL_PRINCIPAL,
      via: "internal",
    });

    // New files: the admin key is gone, a reader arrives, the policy names neither admin nor internal.
    writeFileSync(keysFile, "AKIDREADER:reader-secret-1:reader\n");
    writeFileSync(policyFile, policyFor("reader", ["kinesis:DescribeStream"]));
    await waitFor(() => typeof authenticate(access, "AKIDREADER", "reader-secret-1") === "object", {
      timeoutMs: WAIT_MS,
      what: "the reloaded key file to be in use",
    });
    expect(authenticate(access, "AKIDADMIN", "admin-secret-1")).toBe("UnrecognizedClientException");
    const principal = authenticate(access, internal.accessKeyId, internal.secretAccessKey);
    expect(principal).toEqual({ name: INTERNAL_PRINCIPAL, via: "internal" });
    const self = principal as Principal;
    expect(allowed(self, "kinesis", "PutRecords", "__firehose-logs")).toBe(true);
    expect(allowed(self, "kinesis", "CreateStream", "anything")).toBe(true);
    expect(allowed(self, "sluice", "JoinGroup", "orders")).toBe(true);
    expect(allowed(self, "kinesis", "ListStreams")).toBe(true);
    expect(allowed(self, "sluice", "Admin")).toBe(false);
  });

  it("names sluice:internal in the audit log", async () => {
    const internal = internalCredentialsOf(config);
    const self = authenticate(access, INTERNAL_ACCESS_KEY_ID, internal?.secretAccessKey ?? "") as Principal;
    access.authorize(self, "kinesis", "CreateStream", { streamName: "__firehose-audit" })();
    await access.close();
    const lines = readFileSync(auditFile, "utf8").trim().split("\n");
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({
        principal: INTERNAL_PRINCIPAL,
        via: "internal",
        action: "kinesis:CreateStream",
        stream: "__firehose-audit",
        outcome: "ok",
      }),
    );
  });

  it("cannot be claimed with a wrong secret, a configured key, a certificate or on a node without auth", () => {
    expect(authenticate(access, INTERNAL_ACCESS_KEY_ID, "0".repeat(64))).toBe("InvalidSignatureException");
    // A node that never handed the key out knows none.
    const other = openAccessControl({ ...config, auditLogFile: undefined }, log, Date.now);
    expect(authenticate(other, INTERNAL_ACCESS_KEY_ID, "0".repeat(64))).toBe("UnrecognizedClientException");
    // Neither its key id nor its name can be configured.
    expect(() => AccessKeyStore.parse(`${INTERNAL_ACCESS_KEY_ID}:some-secret-1`, "keys")).toThrow(
      AuthConfigError,
    );
    expect(() => AccessKeyStore.parse(`AKIDX:some-secret-1:${INTERNAL_PRINCIPAL}`, "keys")).toThrow(
      AuthConfigError,
    );
    expect(() => Policy.parse(policyFor(INTERNAL_PRINCIPAL, ["sluice:Admin"]), "policy")).toThrow(
      AuthConfigError,
    );
    // A client certificate naming it is not taken as it.
    expect(() =>
      access.authenticateGrpc({
        metadata: new Metadata(),
        getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: INTERNAL_PRINCIPAL } } }),
      }),
    ).toThrow(AuthenticationError);
    // Without authentication there is nothing to present.
    const open: AuthConfig = {
      ...config,
      keysFile: undefined,
      policyFile: undefined,
      auditLogFile: undefined,
    };
    openAccessControl(open, log, Date.now);
    expect(internalCredentialsOf(open)).toBeUndefined();
  });
});
