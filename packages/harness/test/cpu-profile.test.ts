// Proves that summarizeCpuProfiles sums self time over every profile of a folder, leaves idle
// time out of the shares, and groups frames by workspace package, dependency and Node module.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { summarizeCpuProfiles } from "../src/cpu-profile.js";

const frame = (id: number, functionName: string, url: string) => ({
  id,
  callFrame: { functionName, url, lineNumber: 9 },
});

const profile = {
  nodes: [
    frame(1, "(idle)", ""),
    frame(2, "append", "file:///repo/packages/broker/dist/host.js"),
    frame(
      3,
      "encode",
      "file:///repo/node_modules/.pnpm/@grpc+grpc-js@1.13.4/node_modules/@grpc/grpc-js/build/x.js",
    ),
    frame(4, "digest", "node:internal/crypto/hash"),
  ],
  // 400 µs idle, 300 µs broker, 200 µs grpc-js, 100 µs hash.
  samples: [1, 1, 1, 1, 2, 2, 2, 3, 3, 4],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
};

let directory = "";
afterEach(() => {
  if (directory !== "") rmSync(directory, { recursive: true, force: true });
});

describe("summarizeCpuProfiles", () => {
  it("sums busy self time by package and function over every profile", () => {
    directory = mkdtempSync(join(tmpdir(), "sluice-cpu-profile-"));
    writeFileSync(join(directory, "a.cpuprofile"), JSON.stringify(profile));
    writeFileSync(join(directory, "b.cpuprofile"), JSON.stringify(profile));
    writeFileSync(join(directory, "notes.txt"), "not a profile");
    const summary = summarizeCpuProfiles(directory);
    expect(summary.files).toBe(2);
    expect(summary.idleMs).toBe(1);
    expect(summary.busyMs).toBe(1);
    expect(summary.byPackage.map((entry) => [entry.name, entry.percent])).toEqual([
      ["@sluice/broker", 50],
      ["@grpc/grpc-js", 33.3],
      ["node:internal/crypto/hash", 16.7],
    ]);
    expect(summary.byFunction[0]?.name).toBe("append host.js:10");
  });
});
