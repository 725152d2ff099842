// Proves durability across real crashes: a child process writes flushes with sync on and is
// killed with SIGKILL at random points; on reopen every flush whose commit() resolved is present,
// the logs equal the state after the last acknowledged flush or the one in flight (a flush is
// atomic), and every entry served passes its CRC and content check. Repeated on the same data
// directory, so recovery also runs on journals that earlier recoveries cut.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NodeStorage } from "../src/index.js";
import type { GroupTip, WriterMessage } from "./fixtures/crash-writer.js";
import { entryIsIntact, makeTempDir, removeDir } from "./helpers.js";

const WRITER = fileURLToPath(new URL("./fixtures/crash-writer.ts", import.meta.url));
const HOOKS = fileURLToPath(new URL("./fixtures/ts-hooks.mjs", import.meta.url));
const ROUNDS = 4;

interface Round {
  ready: GroupTip[];
  intents: Map<number, GroupTip[]>;
  acked: number;
}

function runWriterUntilKilled(dir: string, seed: number, killAfterAcks: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(WRITER, [dir, String(seed)], {
      execArgv: ["--conditions=sluice-source", "--import", HOOKS, "--no-warnings"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const round: Round = { ready: [], intents: new Map(), acked: 0 };
    let killed = false;
    child.on("message", (message: WriterMessage) => {
      if (message.kind === "ready") round.ready = message.tips;
      else if (message.kind === "intent") round.intents.set(message.flush, message.tips);
      else round.acked = message.flush;
      // Odd seeds are killed as a flush begins its write, even ones just after an acknowledgement.
      const trigger = seed % 2 === 1 ? message.kind === "intent" : message.kind === "acked";
      if (!killed && trigger && round.acked >= killAfterAcks) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(round);
      else reject(new Error(`writer exited with code ${code} before it was killed`));
    });
    child.on("error", reject);
  });
}

function tipsOf(storage: NodeStorage, groups: number): GroupTip[] {
  const tips: GroupTip[] = [];
  for (let g = 0; g < groups; g++) {
    const log = storage.group(g);
    const last = log.lastIndex();
    tips.push({ last, lastTerm: log.term(last), hardTerm: log.initialState().hardState.term });
  }
  return tips;
}

describe("crash recovery", () => {
  const dir = makeTempDir("crash");
  afterAll(() => removeDir(dir));

  it("keeps every acknowledged flush and serves nothing torn after SIGKILL, round after round", async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const result = await runWriterUntilKilled(dir, round * 7919 + round, 5 + round * 4);
      expect(result.acked).toBeGreaterThanOrEqual(5 + round * 4);
      const acked = result.intents.get(result.acked)!;
      const inFlight = result.intents.get(result.acked + 1);
      const storage = await NodeStorage.open(dir);
      try {
        const groups = acked.length;
        const recovered = tipsOf(storage, groups);
        const logs = (tips: GroupTip[]) => tips.map((t) => [t.last, t.lastTerm]);
        // The journal frame of a flush is atomic: all groups match one flush.
        const candidates = [acked, ...(inFlight === undefined ? [] : [inFlight])];
        expect(candidates.map(logs)).toContainEqual(logs(recovered));
        // LevelDB is written after the journal sync, so hard state is at most one flush behind.
        for (let g = 0; g < groups; g++) {
          expect(candidates.map((c) => c[g]!.hardTerm)).toContain(recovered[g]!.hardTerm);
        }
        for (let g = 0; g < groups; g++) {
          const log = storage.group(g);
          if (log.lastIndex() < log.firstIndex()) continue;
          for (const entry of log.entries(log.firstIndex(), log.lastIndex() + 1, Infinity)) {
            expect(entryIsIntact(g, entry)).toBe(true);
          }
        }
      } finally {
        await storage.close();
      }
    }
  }, 120_000);
});
