// Proves the authorization rules: a principal gets only what its statements (and those of "*")
// allow, an explicit Deny wins, anything else is denied; action wildcards, stream globs and ARNs;
// the access-key formats; the resource each request names; and that AccessControl writes one
// audit line per control-plane call — allowed, denied or failed — and none for data-plane calls.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import {
  AccessControl,
  AccessDeniedError,
  AccessKeyStore,
  type AuditEntry,
  AuthConfigError,
  AuthenticationError,
  createShardIterator,
  FileAuditLog,
  Policy,
  streamOf,
} from "../src/index.js";

const policy = Policy.parse(
  JSON.stringify({
    principals: {
      "orders-writer": [
        { effect: "Allow", actions: ["kinesis:PutRecord", "kinesis:PutRecords"], resources: ["orders-*"] },
      ],
      reader: [
        {
          effect: "Allow",
          actions: ["kinesis:Get*", "kinesis:Describe*"],
          resources: ["arn:aws:kinesis:*:*:stream/*"],
        },
        { effect: "Deny", actions: ["kinesis:GetRecords"], resources: ["secret-?"] },
      ],
      admin: [{ effect: "Allow", actions: ["kinesis:*", "sluice:*"], resources: ["*"] }],
      "*": [{ effect: "Deny", actions: ["kinesis:DeleteStream"], resources: ["prod-*"] }],
    },
  }),
  "test policy",
);

describe("Policy", () => {
  it("allows only the actions and streams a statement names; default deny", () => {
    expect(policy.evaluate("orders-writer", "kinesis:PutRecords", "orders-eu")).toBe("allow");
    expect(policy.evaluate("orders-writer", "kinesis:GetRecords", "orders-eu")).toBe("implicit-deny");
    expect(policy.evaluate("orders-writer", "kinesis:PutRecords", "payments")).toBe("implicit-deny");
    expect(policy.evaluate("nobody", "kinesis:ListStreams", undefined)).toBe("implicit-deny");
  });

  it("matches action wildcards case-insensitively and stream ARNs by their name part", () => {
    expect(policy.evaluate("reader", "kinesis:GetShardIterator", "orders-eu")).toBe("allow");
    expect(policy.evaluate("reader", "KINESIS:describestreamsummary", "x")).toBe("allow");
    expect(policy.evaluate("reader", "kinesis:PutRecord", "orders-eu")).toBe("implicit-deny");
  });

  it("lets an explicit Deny win, its own or the one every principal shares", () => {
    expect(policy.evaluate("reader", "kinesis:GetRecords", "secret-1")).toBe("explicit-deny");
    expect(policy.evaluate("reader", "kinesis:GetRecords", "secret-10")).toBe("allow");
    expect(policy.evaluate("admin", "kinesis:DeleteStream", "prod-orders")).toBe("explicit-deny");
    expect(policy.evaluate("admin", "kinesis:DeleteStream", "dev-orders")).toBe("allow");
  });

  it("matches operations that name no stream only with the resource * (or stream/*)", () => {
    expect(policy.evaluate("admin", "kinesis:ListStreams", undefined)).toBe("allow");
    expect(policy.evaluate("reader", "kinesis:DescribeLimits", undefined)).toBe("allow");
    const narrow = new Policy({
      lister: [{ effect: "Allow", actions: ["kinesis:List*"], resources: ["orders-*"] }],
    });
    expect(narrow.evaluate("lister", "kinesis:ListShards", "orders-eu")).toBe("allow");
    expect(narrow.evaluate("lister", "kinesis:ListStreams", undefined)).toBe("implicit-deny");
  });

  it("refuses malformed statements with the place at fault", () => {
    expect(() =>
      Policy.parse(
        '{"principals":{"a":[{"effect":"allow","actions":["kinesis:*"],"resources":["*"]}]}}',
        "p.json",
      ),
    ).toThrow(/p.json: principals.a\[0\]: effect/);
    expect(() =>
      Policy.parse(
        '{"principals":{"a":[{"effect":"Allow","actions":["PutRecords"],"resources":["*"]}]}}',
        "p.json",
      ),
    ).toThrow(AuthConfigError);
    expect(() => Policy.parse("[]", "p.json")).toThrow(/expected \{"principals"/);
  });
});

describe("AccessKeyStore", () => {
  it("reads the line and JSON formats; the principal defaults to the key id", () => {
    const lines = AccessKeyStore.parse(
      "# comment, with a comma: and colons\nAKIDONE1:secret-one-1:alice\n\nAKIDTWO2:secret-two-2\n",
      "keys",
    );
    expect(lines.get("AKIDONE1")?.principal).toBe("alice");
    expect(lines.get("AKIDTWO2")?.principal).toBe("AKIDTWO2");
    const inline = AccessKeyStore.parse(
      "AKIDONE1:secret-one-1:alice,AKIDTWO2:secret-two-2:bob",
      "SLUICE_ACCESS_KEYS",
    );
    expect(inline.size).toBe(2);
    const json = AccessKeyStore.parse(
      JSON.stringify({
        keys: [{ accessKeyId: "AKIDJSON", secretAccessKey: "json-secret-1", principal: "carol" }],
      }),
      "keys.json",
    );
    expect(json.check("AKIDJSON", "json-secret-1")).toMatchObject({ principal: "carol" });
    expect(json.check("AKIDJSON", "json-secret-2")).toBe("mismatch");
    expect(json.check("AKIDNONE", "json-secret-1")).toBe("unknown");
  });

  it("refuses duplicate ids, short secrets and bad lines, naming the entry", () => {
    expect(() => AccessKeyStore.parse("AKIDONE1:secret-one-1\nAKIDONE1:secret-one-2", "k")).toThrow(
      /listed twice/,
    );
    expect(() => AccessKeyStore.parse("AKIDONE1:short", "k")).toThrow(/k entry 1 \(AKIDONE1\): the secret/);
    expect(() => AccessKeyStore.parse("just-one-field", "k")).toThrow(/k line 1/);
  });
});

describe("streamOf", () => {
  it("finds the stream by name, stream ARN, consumer ARN or inside a shard iterator", () => {
    expect(streamOf({ streamName: "orders", streamArn: "" })).toBe("orders");
    expect(
      streamOf({ streamName: "", streamArn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders" }),
    ).toBe("orders");
    expect(
      streamOf({
        consumerArn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders/consumer/c1:1700000000",
      }),
    ).toBe("orders");
    const iterator = createShardIterator(
      {
        streamId: 1,
        streamName: "orders-eu",
        shardNumber: 0,
        groupId: 7,
        index: 1,
        offset: 0,
        expiresAtMs: 1,
      },
      Buffer.alloc(32, 1),
    );
    expect(streamOf({ shardIterator: iterator, limit: 0 })).toBe("orders-eu");
    expect(streamOf({ shardIterator: "garbage!" })).toBeUndefined();
    expect(streamOf({ limit: 10 })).toBeUndefined();
  });
});

describe("AccessControl", () => {
  const keys = AccessKeyStore.parse(
    "AKIDWRITER:writer-secret-1:orders-writer\nAKIDADMIN:admin-secret-1:admin",
    "k",
  );
  const entries: AuditEntry[] = [];
  const access = new AccessControl({
    keys,
    policy,
    audit: { write: (entry) => entries.push(entry), close: async () => {} },
    clock: () => Date.UTC(2026, 10, 27),
  });

  it("authenticates gRPC bearer keys and certificate names, and refuses the rest", () => {
    const bearer = (value: string) => {
      const metadata = new Metadata();
      metadata.set("authorization", value);
      return { metadata };
    };
    expect(access.authenticateGrpc(bearer("Bearer AKIDWRITER:writer-secret-1"))).toEqual({
      name: "orders-writer",
      via: "bearer",
    });
    const codeOf = (call: Parameters<AccessControl["authenticateGrpc"]>[0]) => {
      try {
        access.authenticateGrpc(call);
      } catch (error) {
        expect(error).toBeInstanceOf(AuthenticationError);
        return (error as AuthenticationError).kinesisName;
      }
      return "accepted";
    };
    expect(codeOf(bearer("Bearer AKIDWRITER:wrong-secret-1"))).toBe("InvalidSignatureException");
    expect(codeOf(bearer("Bearer AKIDNOBODY:writer-secret-1"))).toBe("UnrecognizedClientException");
    expect(codeOf(bearer("Basic abc"))).toBe("IncompleteSignature");
    expect(codeOf({ metadata: new Metadata() })).toBe("MissingAuthenticationTokenException");
    expect(
      access.authenticateGrpc({
        metadata: new Metadata(),
        getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: "admin" } } }),
      }),
    ).toEqual({ name: "admin", via: "certificate" });
  });

  it("audits control-plane calls with their outcome, and never data-plane calls", () => {
    entries.length = 0;
    const admin = { name: "admin", via: "sigv4" } as const;
    const writer = { name: "orders-writer", via: "bearer" } as const;
    access.authorize(admin, "kinesis", "CreateStream", { streamName: "orders-eu" })();
    access.authorize(admin, "kinesis", "DeleteStream", { streamName: "gone" })("ResourceNotFoundException");
    expect(() => access.authorize(writer, "kinesis", "DeleteStream", { streamName: "orders-eu" })).toThrow(
      AccessDeniedError,
    );
    access.authorize(writer, "kinesis", "PutRecords", { streamName: "orders-eu" })();
    expect(() => access.authorize(writer, "kinesis", "GetRecords", { streamName: "orders-eu" })).toThrow(
      /orders-writer is not authorized to perform: kinesis:GetRecords/,
    );
    expect(entries).toEqual([
      {
        time: "2026-11-27T00:00:00.000Z",
        principal: "admin",
        via: "sigv4",
        action: "kinesis:CreateStream",
        stream: "orders-eu",
        outcome: "ok",
      },
      {
        time: "2026-11-27T00:00:00.000Z",
        principal: "admin",
        via: "sigv4",
        action: "kinesis:DeleteStream",
        stream: "gone",
        outcome: "error",
        error: "ResourceNotFoundException",
      },
      {
        time: "2026-11-27T00:00:00.000Z",
        principal: "orders-writer",
        via: "bearer",
        action: "kinesis:DeleteStream",
        stream: "orders-eu",
        outcome: "denied",
        error: "AccessDeniedException",
      },
    ]);
  });

  it("without keys serves everyone as anonymous, allowed, and still audits", () => {
    const seen: AuditEntry[] = [];
    const open = new AccessControl({ audit: { write: (entry) => seen.push(entry), close: async () => {} } });
    expect(open.enabled).toBe(false);
    const principal = open.authenticateGrpc({ metadata: new Metadata() });
    expect(principal).toEqual({ name: "anonymous", via: "none" });
    open.authorize(principal, "kinesis", "DeleteStream", { streamName: "prod-orders" })();
    open.authorize(principal, "kinesis", "GetRecords", { streamName: "prod-orders" })();
    expect(seen.map((entry) => [entry.principal, entry.action, entry.outcome])).toEqual([
      ["anonymous", "kinesis:DeleteStream", "ok"],
    ]);
  });
});

describe("FileAuditLog", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-audit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("appends one JSON line per entry and flushes them on close", async () => {
    const path = join(dir, "nested", "audit.log");
    for (const round of [1, 2]) {
      const log = new FileAuditLog({ path });
      log.write({
        time: `t${round}`,
        principal: "admin",
        via: "sigv4",
        action: "kinesis:CreateStream",
        outcome: "ok",
      });
      await log.close();
    }
    const lines = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditEntry);
    expect(lines.map((line) => line.time)).toEqual(["t1", "t2"]);
  });
});
