#!/usr/bin/env node
// Checks that dependencies between workspace packages point one way, as DESIGN.md draws them:
// cli → gateway → metadata → broker → storage → raft-ts; client knows only the generated protobuf
// types (@sluice/proto); raft-ts and @sluice/proto import nothing of ours. A package may depend on
// any package below it in the stack, never on one above or beside it. Exits 1 with one line per
// violation. Also checks that every workspace package is in the root tsconfig references.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

/** For each package: the workspace packages it may depend on. */
const ALLOWED = {
  "raft-ts": [],
  "@sluice/proto": [],
  "@sluice/storage": ["raft-ts"],
  "@sluice/broker": ["@sluice/storage", "raft-ts", "@sluice/proto"],
  "@sluice/metadata": ["@sluice/broker", "@sluice/storage", "raft-ts", "@sluice/proto"],
  "@sluice/gateway": ["@sluice/metadata", "@sluice/broker", "@sluice/storage", "raft-ts", "@sluice/proto"],
  "@sluice/client": ["@sluice/proto"],
  "@sluice/cli": [
    "@sluice/gateway",
    "@sluice/metadata",
    "@sluice/broker",
    "@sluice/storage",
    "raft-ts",
    "@sluice/proto",
    "@sluice/client",
    "@sluice/harness",
    "@sluice/delivery",
    "@sluice/analytics",
  ],
  // Delivery streams (the Firehose part) are clients of the public API; tests start clusters.
  "@sluice/delivery": ["@sluice/client", "@sluice/proto", "@sluice/harness"],
  // Stream analytics (the Analytics part) is a client of the public API, beside delivery.
  "@sluice/analytics": ["@sluice/client", "@sluice/proto", "@sluice/harness"],
  // The test harness starts real clusters; only tests and scripts use it.
  "@sluice/harness": ["@sluice/client", "@sluice/proto"],
};

const problems = [];
const packagesDir = join(root, "packages");
const dirs = readdirSync(packagesDir, { withFileTypes: true }).filter((d) => d.isDirectory());
const names = new Map();
for (const dir of dirs) {
  const manifest = JSON.parse(readFileSync(join(packagesDir, dir.name, "package.json"), "utf8"));
  names.set(manifest.name, dir.name);
}
for (const [name, dir] of names) {
  const manifest = JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8"));
  const allowed = ALLOWED[name];
  if (!allowed) {
    problems.push(
      `packages/${dir}: package ${name} is not in the layering table of scripts/check-layers.mjs`,
    );
    continue;
  }
  for (const field of ["dependencies", "devDependencies", "peerDependencies"]) {
    for (const dependency of Object.keys(manifest[field] ?? {})) {
      if (names.has(dependency) && !allowed.includes(dependency)) {
        problems.push(
          `packages/${dir}: ${name} must not depend on ${dependency} (imports point down the stack only)`,
        );
      }
    }
  }
}
const rootReferences = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8")).references.map(
  (r) => r.path,
);
for (const dir of names.values()) {
  if (!rootReferences.includes(`packages/${dir}`)) {
    problems.push(`tsconfig.json: add { "path": "packages/${dir}" } to the root references`);
  }
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`layering: ${problem}`);
  process.exit(1);
}
console.log(`layering: ${names.size} packages, dependencies point one way`);
