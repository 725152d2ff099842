// Proves the sluice command answers usage errors and unknown commands with a clear exit status.
import { describe, expect, it, vi } from "vitest";
import { main } from "../src/main.js";

describe("sluice command", () => {
  it("prints its version", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    expect(await main(["version"])).toBe(0);
    expect(log).toHaveBeenCalledWith("@sluice/cli 0.1.0");
    log.mockRestore();
  });

  it("rejects an unknown command with the usage status", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["frobnicate"])).toBe(64);
    expect(String(write.mock.calls[0]?.[0])).toContain('unknown command "frobnicate"');
    write.mockRestore();
  });

  it("prints the cluster command's usage for -h and --help, exit 0, without touching a cluster", async () => {
    for (const flag of ["-h", "--help"]) {
      const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
      expect(await main(["cluster", flag, "--data", "/nonexistent/sluice-help-check"])).toBe(0);
      const text = write.mock.calls.map((call) => String(call[0])).join("");
      write.mockRestore();
      expect(text).toContain("usage: sluice cluster up|down|status");
      expect(text).toContain("--base-port");
      expect(text).toContain("examples:");
      expect(text).toContain("exit codes:");
    }
  });

  it("rejects a cluster action other than up, down or status", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["cluster", "explode"])).toBe(64);
    write.mockRestore();
  });
});
