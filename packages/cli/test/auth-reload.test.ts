// Proves that a node's access keys and policy are taken again when their files change, without a
// restart: a key added to the file authenticates, a removed key is refused (UnrecognizedClient), a
// policy change applies to the next call, and a malformed or emptied file is logged and the
// previous keys and policy kept.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { type AccessControl, AuthenticationError } from "@sluice/gateway";
import { waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAccessControl, watchAuthFiles } from "../src/node/auth.js";
import type { AuthConfig } from "../src/node/config.js";
import type { Logger } from "../src/node/logger.js";

const POLL_MS = 20;
const WAIT_MS = 10_000;

const dir = mkdtempSync(join(tmpdir(), "sluice-auth-reload-"));
const keysFile = join(dir, "access-keys");
const policyFile = join(dir, "policy.json");
const errors: string[] = [];
const log: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (msg, fields) => errors.push(`${msg} ${String(fields?.error ?? "")}`),
};
let access: AccessControl;
let stop: () => void;

const policyAllowing = (actions: string[]) =>
  JSON.stringify({ principals: { "*": [{ effect: "Allow", actions, resources: ["*"] }] } });

/** The principal a bearer key authenticates as, or the Kinesis name of the refusal. */
function who(accessKeyId: string, secret: string): string {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${accessKeyId}:${secret}`);
  try {
    return access.authenticateGrpc({ metadata }).name;
  } catch (error) {
    if (error instanceof AuthenticationError) return error.kinesisName;
    throw error;
  }
}

/** Whether the principal may list streams under the current policy. */
function mayList(principal: string): boolean {
  try {
    access.authorize({ name: principal, via: "bearer" }, "kinesis", "ListStreams", {});
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  writeFileSync(keysFile, "AKIDFIRST:first-secret-1:alice\n");
  writeFileSync(policyFile, policyAllowing(["kinesis:ListStreams"]));
  const config: AuthConfig = {
    keysFile,
    keysText: undefined,
    policyFile,
    auditLogFile: undefined,
    insecureWarningIntervalMs: 60_000,
  };
  access = openAccessControl(config, log, Date.now);
  stop = watchAuthFiles(config, access, log, POLL_MS);
});
afterAll(() => {
  stop?.();
  rmSync(dir, { recursive: true, force: true });
});

describe("access keys and policy reload", () => {
  it("authenticates a key added to the file, and refuses one removed from it", async () => {
    expect(who("AKIDFIRST", "first-secret-1")).toBe("alice");
    expect(who("AKIDSECOND", "second-secret-2")).toBe("UnrecognizedClientException");

    writeFileSync(keysFile, "AKIDFIRST:first-secret-1:alice\nAKIDSECOND:second-secret-2:bob\n");
    await waitFor(() => who("AKIDSECOND", "second-secret-2") === "bob", {
      timeoutMs: WAIT_MS,
      what: "the added key to authenticate",
    });

    writeFileSync(keysFile, "AKIDSECOND:second-secret-2:bob\n");
    await waitFor(() => who("AKIDFIRST", "first-secret-1") === "UnrecognizedClientException", {
      timeoutMs: WAIT_MS,
      what: "the removed key to be refused",
    });
    expect(who("AKIDSECOND", "second-secret-2")).toBe("bob");
  });

  it("applies a changed policy to the next call", async () => {
    expect(mayList("bob")).toBe(true);
    writeFileSync(policyFile, policyAllowing(["kinesis:PutRecords"]));
    await waitFor(() => !mayList("bob"), { timeoutMs: WAIT_MS, what: "the narrowed policy to deny" });
  });

  it("keeps the previous keys when the file is malformed or empty, and says why", async () => {
    writeFileSync(keysFile, "AKIDSECOND:short\n");
    await waitFor(() => errors.some((line) => line.includes("8 to 256 printable characters")), {
      timeoutMs: WAIT_MS,
      what: "the malformed key file to be logged",
    });
    expect(who("AKIDSECOND", "second-secret-2")).toBe("bob");

    writeFileSync(keysFile, "");
    await waitFor(() => errors.some((line) => line.includes("holds no keys")), {
      timeoutMs: WAIT_MS,
      what: "the empty key file to be logged",
    });
    expect(who("AKIDSECOND", "second-secret-2")).toBe("bob");
  });
});
