// Proves a node's code loads the S3 SDK, the PostgreSQL driver and the SQL parser only when a delivery stream or an analytics application needs them: importing the node's entry module resolves none of them (a module resolution hook in a fresh Node process records every specifier), and making an S3 destination, a PostgreSQL destination and planning a query then loads each.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const PACKAGES_DIR = join(import.meta.dirname, "..", "..");
const url = (path: string) => pathToFileURL(join(PACKAGES_DIR, path)).href;

/** The libraries kept out of a node's start (see packages/delivery/src/lazy-sdk.ts, analytics' plan.ts). */
const LAZY = ["@aws-sdk/client-s3", "pg", "pg-copy-streams", "node-sql-parser"];

/** Runs `body` in a fresh Node process after a hook that records every resolved specifier; returns those in LAZY. */
function lazyLibrariesLoadedBy(body: string): string[] {
  const script = `
    import { registerHooks } from "node:module";
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { seen.add(specifier); return next(specifier, context); } });
    ${body}
    process.stdout.write(JSON.stringify(${JSON.stringify(LAZY)}.filter((name) => seen.has(name))));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return JSON.parse(out) as string[];
}

describe("a node's start", () => {
  it("loads no S3 SDK, PostgreSQL driver or SQL parser", () => {
    expect(
      lazyLibrariesLoadedBy(`
        await import(${JSON.stringify(url("cli/dist/node/run.js"))});
        await import(${JSON.stringify(url("delivery/dist/index.js"))});
        await import(${JSON.stringify(url("analytics/dist/index.js"))});
      `),
    ).toEqual([]);
  });

  it("loads each when a destination or a query needs it", () => {
    const loaded = lazyLibrariesLoadedBy(`
      const delivery = await import(${JSON.stringify(url("delivery/dist/index.js"))});
      const analytics = await import(${JSON.stringify(url("analytics/dist/index.js"))});
      const base = { name: "d", source: { kind: "direct" }, buffering: { sizeMiB: 1, intervalSeconds: 1 }, compression: "none", recordFormat: "raw" };
      const s3 = delivery.destinationFor({ ...base, destination: { kind: "s3", bucket: "b", prefix: "", errorPrefix: "errors/", endpoint: "http://127.0.0.1:9" } });
      await s3.close();
      const postgres = delivery.destinationFor({ ...base, destination: { kind: "postgres", connectionString: "postgres://127.0.0.1:9/db", table: "t", errorTable: "e" } });
      await postgres.deliver({ shardId: "shardId-000000000000", firstSequenceNumber: "1", lastSequenceNumber: "1", firstArrivalMs: 0, records: [], lines: [], bytes: 0 }).catch(() => {});
      await postgres.close();
      analytics.planQuery("SELECT partition_key FROM input");
    `);
    expect(loaded.sort()).toEqual([...LAZY].sort());
  });
});
