#!/usr/bin/env node
// Generates packages/proto/src/gen from proto/ with buf and the ts-proto plugin from
// node_modules (no network). With --check, generates into a temporary folder and fails when the
// committed code differs, so CI catches generated code that is stale against proto/.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const committed = join(root, "packages/proto/src/gen");
const check = process.argv.includes("--check");
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

const out = mkdtempSync(join(tmpdir(), "sluice-proto-"));
try {
  execFileSync("buf", ["generate", "--template", "buf.gen.yaml", "--output", out], {
    cwd: join(root, "proto"),
    env,
    stdio: "inherit",
  });
  // buf writes to <output>/<plugin out>, that is <out>/gen.
  const generated = join(out, "gen");
  execFileSync(join(bin, "biome"), ["format", "--write", generated], { env, stdio: "ignore" });
  if (check) {
    const stale = diffTrees(generated, committed);
    if (stale.length > 0) {
      for (const file of stale) console.error(`proto: ${file} is stale; run \`pnpm proto:gen\` and commit`);
      process.exit(1);
    }
    console.log("proto: generated code is fresh");
  } else {
    rmSync(committed, { recursive: true, force: true });
    cpSync(generated, committed, { recursive: true });
    console.log(`proto: generated ${relative(root, committed)}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

function listFiles(dir, base = dir) {
  let files;
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path, base) : [relative(base, path)];
  });
}

function diffTrees(a, b) {
  const left = new Set(listFiles(a));
  const right = new Set(listFiles(b));
  const stale = [];
  for (const file of new Set([...left, ...right])) {
    if (
      !left.has(file) ||
      !right.has(file) ||
      !readFileSync(join(a, file)).equals(readFileSync(join(b, file)))
    ) {
      stale.push(join("packages/proto/src/gen", file));
    }
  }
  return stale.sort();
}
