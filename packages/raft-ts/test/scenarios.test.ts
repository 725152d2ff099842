// Proves whole protocol runs step by step against readable golden traces (etcd's datadriven
// style): each test/testdata/*.txt file is a script of commands with their expected output.
// Run with UPDATE_GOLDEN=1 to rewrite the expected outputs after an intended change.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseScenario, renderScenario, ScenarioRunner } from "./helpers/scenario.js";

const directory = new URL("./testdata/", import.meta.url);
const files = readdirSync(directory)
  .filter((name) => name.endsWith(".txt"))
  .sort();
const update = process.env.UPDATE_GOLDEN === "1";

describe("scenarios", () => {
  it.each(files)("%s", (file) => {
    const path = new URL(file, directory);
    const blocks = parseScenario(readFileSync(path, "utf8"));
    const runner = new ScenarioRunner();
    const outputs: string[] = [];
    for (const block of blocks) {
      const output = runner.run(block.command);
      outputs.push(output);
      if (!update) expect(output, `${file}:${block.line}: ${block.command}`).toBe(block.expected);
    }
    if (update) writeFileSync(path, renderScenario(blocks, outputs));
  });
});
