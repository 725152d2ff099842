// Proves the shared machinery of definitions kept in a stream without a cluster: the fold gives
// every reader the same live definitions (first create of a name wins, delete only by live id,
// re-puts renew), and the per-node runner starts one worker per live definition, stops and
// closes the worker of a deleted or replaced one, retries a failed start at the next poll, and
// reports errors with the definition's name.
import { describe, expect, it } from "vitest";
import { DefinitionFold, DefinitionRunner, type DefinitionWorker } from "../src/index.js";

interface Definition {
  readonly name: string;
  readonly id: string;
}

/** Waits for `condition` with a deadline (the harness's waitFor is above this package). */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("DefinitionFold", () => {
  it("keeps the first create of a name, renews it by id, and deletes only the live id", () => {
    const fold = new DefinitionFold<Definition>();
    fold.apply({ type: "create", definition: { name: "a", id: "1" }, writtenAtMs: 100 });
    fold.apply({ type: "create", definition: { name: "a", id: "2" }, writtenAtMs: 150 });
    expect(fold.get("a")?.id).toBe("1");
    expect(fold.writtenBefore(200, 100).map((d) => d.id)).toEqual(["1"]);
    fold.apply({ type: "create", definition: { name: "a", id: "1" }, writtenAtMs: 180 });
    expect(fold.writtenBefore(200, 100)).toEqual([]);
    const before = fold.definitions();
    fold.apply({ type: "delete", name: "a", id: "2" });
    expect(fold.get("a")?.id).toBe("1");
    fold.apply({ type: "delete", name: "a", id: "1" });
    expect(fold.get("a")).toBeUndefined();
    expect(before.get("a")?.id).toBe("1");
    fold.apply({ type: "create", definition: { name: "a", id: "3" }, writtenAtMs: 300 });
    expect([...fold.definitions().values()]).toEqual([{ name: "a", id: "3" }]);
  });
});

/** A worker that records what happened to it; `failStarts` makes its start reject. */
class RecordingWorker implements DefinitionWorker {
  readonly events: string[] = [];
  constructor(
    readonly definition: Definition,
    readonly memberId: string,
    private readonly failStart: boolean,
    private readonly failStop: boolean,
  ) {}
  async start(): Promise<void> {
    this.events.push("start");
    if (this.failStart) throw new Error(`cannot start ${this.definition.name}`);
  }
  async stop(): Promise<void> {
    this.events.push("stop");
    if (this.failStop) throw new Error(`cannot stop ${this.definition.name}`);
  }
  async close(): Promise<void> {
    this.events.push("close");
  }
}

function setUp(options: { failStarts?: number; failStop?: boolean; failRefresh?: boolean } = {}) {
  const live = new Map<string, Definition>();
  const created: RecordingWorker[] = [];
  const errors: { message: string; name: string | undefined }[] = [];
  let polls = 0;
  let failStarts = options.failStarts ?? 0;
  let failRefresh = options.failRefresh ?? false;
  const runner = new DefinitionRunner<Definition, RecordingWorker>({
    source: {
      refresh: async () => {
        if (failRefresh) {
          failRefresh = false;
          throw new Error("no quorum");
        }
        return new Map(live);
      },
      refreshAged: async () => {
        polls += 1;
      },
    },
    createWorker: (definition, memberId) => {
      const worker = new RecordingWorker(definition, memberId, failStarts > 0, options.failStop ?? false);
      failStarts -= 1;
      created.push(worker);
      return worker;
    },
    memberIdPrefix: "node-1",
    pollIntervalMs: 1,
    onError: (error, name) => errors.push({ message: (error as Error).message, name }),
  });
  return { live, created, errors, runner, polls: () => polls };
}

describe("DefinitionRunner", () => {
  it("runs one worker per live definition and stops and closes the worker of a deleted or replaced one", async () => {
    const { live, created, runner, polls } = setUp();
    live.set("a", { name: "a", id: "1" });
    live.set("b", { name: "b", id: "2" });
    runner.start();
    await until(() => runner.workers().size === 2, "two workers");
    expect(runner.memberId).toMatch(/^node-1-[0-9a-f]{8}$/);
    expect(created.map((w) => [w.definition.name, w.memberId])).toEqual([
      ["a", runner.memberId],
      ["b", runner.memberId],
    ]);

    live.delete("a");
    live.set("b", { name: "b", id: "3" });
    await until(() => runner.workers().get("b")?.definition.id === "3", "b replaced");
    expect(runner.workers().has("a")).toBe(false);
    expect(created[0]?.events).toEqual(["start", "stop", "close"]);
    expect(created[1]?.events).toEqual(["start", "stop", "close"]);
    const seen = polls();
    await until(() => polls() > seen + 2, "more polls");
    expect(created).toHaveLength(3);

    await runner.stop();
    expect(runner.workers().size).toBe(0);
    expect(created[2]?.events).toEqual(["start", "stop", "close"]);
  });

  it("closes a worker whose start failed, reports it by name, and builds a new one at the next poll", async () => {
    const { live, created, errors, runner } = setUp({ failStarts: 1 });
    live.set("a", { name: "a", id: "1" });
    runner.start();
    await until(() => runner.workers().size === 1, "a running");
    await runner.stop();
    expect(created[0]?.events).toEqual(["start", "close"]);
    expect(created[1]?.events).toEqual(["start", "stop", "close"]);
    expect(errors).toEqual([{ message: "cannot start a", name: "a" }]);
  });

  it("survives a failed read and a failed stop, reporting each", async () => {
    const { live, created, errors, runner, polls } = setUp({ failStop: true, failRefresh: true });
    live.set("a", { name: "a", id: "1" });
    runner.start();
    await until(() => runner.workers().size === 1, "a running after a failed read");
    expect(polls()).toBeGreaterThan(0);
    await runner.stop();
    expect(created[0]?.events).toEqual(["start", "stop", "close"]);
    expect(errors).toEqual([
      { message: "no quorum", name: undefined },
      { message: "cannot stop a", name: "a" },
    ]);
  });
});
