// Proves the shared definitions command (runDefinitionCommand) behind `sluice delivery` and
// `sluice analytics` answers help and usage errors as each command did, without a cluster: help
// exits 0 (analytics without an action prints it and exits 2), an unknown action names the
// command's actions, and create checks its flags before anything is sent.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runAnalyticsCommand } from "../src/commands/analytics.js";
import type { Io } from "../src/commands/common.js";
import { runDeliveryCommand } from "../src/commands/delivery.js";

function capture(): { io: Io; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on("data", (chunk: Buffer) => chunks.out.push(chunk));
  stderr.on("data", (chunk: Buffer) => chunks.err.push(chunk));
  return {
    io: { stdout, stderr, stdin: new PassThrough() },
    out: () => Buffer.concat(chunks.out).toString(),
    err: () => Buffer.concat(chunks.err).toString(),
  };
}

// No endpoint is dialled: every case fails or answers before the first call.
const env = { SLUICE_ENDPOINTS: "127.0.0.1:1" };

describe("sluice delivery|analytics (shared definitions command)", () => {
  it("prints help with exit 0, and analytics' help without an action with exit 2", async () => {
    const delivery = capture();
    expect(await runDeliveryCommand(["--help"], env, delivery.io)).toBe(0);
    expect(delivery.out()).toContain("usage: sluice delivery create NAME");
    const analytics = capture();
    expect(await runAnalyticsCommand([], env, analytics.io)).toBe(2);
    expect(analytics.out()).toContain("usage: sluice analytics create NAME");
  });

  it("refuses an unknown action by naming each command's actions", async () => {
    const delivery = capture();
    expect(await runDeliveryCommand([], env, delivery.io)).toBe(2);
    expect(delivery.err()).toContain("sluice delivery: expected: create, describe, list or delete");
    const analytics = capture();
    expect(await runAnalyticsCommand(["stop"], env, analytics.io)).toBe(2);
    expect(analytics.err()).toContain(
      "sluice analytics stop: expected: create, describe, list, delete or preview",
    );
  });

  it("checks create's flags and the shared ones before sending anything", async () => {
    const analytics = capture();
    expect(await runAnalyticsCommand(["create", "a", "--output", "o"], env, analytics.io)).toBe(2);
    expect(analytics.err()).toContain("create needs --sql and --output");
    const lateness = capture();
    expect(await runAnalyticsCommand(["list", "--lateness-ms", "soon"], env, lateness.io)).toBe(2);
    expect(lateness.err()).toContain("--lateness-ms must be a whole number");
    const delivery = capture();
    expect(await runDeliveryCommand(["create", "d", "--destination", "ftp"], env, delivery.io)).toBe(2);
    expect(delivery.err()).toContain("--destination must be files, s3 or postgres, not ftp");
    const noName = capture();
    expect(await runDeliveryCommand(["describe"], env, noName.io)).toBe(2);
    expect(noName.err()).toContain("expected: describe NAME");
  });
});
