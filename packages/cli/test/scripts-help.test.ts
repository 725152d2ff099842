// Proves that every script of scripts/ that takes options answers -h and --help with its usage
// (its header comment) and exit status 0, at once, without installing or starting anything.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPTS_DIR = join(import.meta.dirname, "..", "..", "..", "scripts");

/** The bash scripts that print their usage through scripts/lib/usage.sh. */
const scripts = readdirSync(SCRIPTS_DIR).filter((name) => {
  const path = join(SCRIPTS_DIR, name);
  return (
    !name.includes(".") && statSync(path).isFile() && readFileSync(path, "utf8").includes("usage_if_asked")
  );
});

describe("scripts' --help", () => {
  it("covers the benchmark scripts", () => {
    expect(scripts).toEqual(expect.arrayContaining(["bench-broker", "bench-streams", "bench-floors"]));
  });

  for (const name of scripts) {
    it(`${name} prints its usage for -h and --help`, () => {
      for (const flag of ["-h", "--help"]) {
        const out = execFileSync(join(SCRIPTS_DIR, name), [flag], { encoding: "utf8", timeout: 10_000 });
        expect(out).toContain(`./scripts/${name}`);
        expect(out).not.toMatch(/^#/m);
      }
    });
  }
});
