import { readdirSync, readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

// One vitest project per workspace package; each runs its own test/ folder against the package
// sources (the "sluice-source" export condition), so tests never need a fresh build of a
// neighbour to see its changes.
const packages = readdirSync(new URL("./packages", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => {
    const manifest = JSON.parse(
      readFileSync(new URL(`./packages/${entry.name}/package.json`, import.meta.url), "utf8"),
    ) as { name: string };
    return { dir: entry.name, name: manifest.name };
  });

export default defineConfig({
  test: {
    projects: packages.map(({ dir, name }) => ({
      // Vitest runs test files in Vite's SSR environment, which reads `ssr.resolve.conditions`;
      // without it, workspace imports silently resolve to (possibly stale) dist/ builds.
      resolve: { conditions: ["sluice-source"] },
      ssr: { resolve: { conditions: ["sluice-source"] } },
      test: {
        name,
        root: `packages/${dir}`,
        include: ["test/**/*.test.ts"],
        allowOnly: false,
        testTimeout: 30_000,
        hookTimeout: 60_000,
      },
    })),
  },
});
