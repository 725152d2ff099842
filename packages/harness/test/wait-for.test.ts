// Proves waitFor returns the first truthy value of its condition and, at the deadline, fails with
// a message naming what was awaited and the condition's last error.
import { describe, expect, it } from "vitest";
import { WaitTimeoutError, waitFor } from "../src/wait-for.js";

describe("waitFor", () => {
  it("returns the condition's first value that is not undefined, null or false", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `after ${calls}` : undefined), {
      timeoutMs: 5_000,
      what: "three calls",
      intervalMs: 1,
    });
    expect(value).toBe("after 3");
  });

  it("names what it waited for and the last error when the deadline passes", async () => {
    const failure = await waitFor(
      () => {
        throw new Error("node 2 refused");
      },
      { timeoutMs: 30, what: "node 2 to serve", intervalMs: 5 },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WaitTimeoutError);
    expect(String((failure as Error).message)).toMatch(
      /waiting for node 2 to serve; last error: node 2 refused/,
    );
  });
});
