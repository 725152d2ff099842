// Proves the package builds, loads and exposes its public entry point.
import { describe, expect, it } from "vitest";
import { PACKAGE_NAME } from "../src/index.js";

describe("@sluice/gateway", () => {
  it("exports its package name from the public entry point", () => {
    expect(PACKAGE_NAME).toBe("@sluice/gateway");
  });
});
