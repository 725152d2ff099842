// Proves MetadataChanges wakes a waiter when a command changes a real metadata state machine — through its change listener, and by polling the view when no listener is given — and that close() ends every wait.
import { encodeCommand, MetadataStateMachine } from "@sluice/metadata";
import { describe, expect, it } from "vitest";
import { MetadataChanges } from "../src/index.js";

/** Far longer than any test may take: a wait that resolves did so because of the change. */
const NEVER_MS = 600_000;

function initCluster(stateMachine: MetadataStateMachine): void {
  stateMachine.apply(
    stateMachine.appliedIndex + 1,
    encodeCommand({ type: "InitCluster", secretHex: "ab".repeat(32) }),
  );
}

describe("MetadataChanges", () => {
  it("wakes a waiter on the state machine's change listener", async () => {
    const stateMachine = new MetadataStateMachine();
    const changes = new MetadataChanges(stateMachine, stateMachine);
    const woken = changes.wait(NEVER_MS);
    initCluster(stateMachine);
    await woken;
    expect(stateMachine.view().clusterSecret.length).toBe(32);
    changes.close();
  });

  it("wakes a waiter by polling the view when there is no listener", async () => {
    const stateMachine = new MetadataStateMachine();
    const changes = new MetadataChanges({ view: () => stateMachine.view() });
    const woken = changes.wait(NEVER_MS);
    initCluster(stateMachine);
    await woken;
    changes.close();
  });

  it("ends every wait on close, and answers later waits at once", async () => {
    const stateMachine = new MetadataStateMachine();
    const changes = new MetadataChanges(stateMachine, stateMachine);
    const woken = changes.wait(NEVER_MS);
    changes.close();
    await woken;
    await changes.wait(NEVER_MS);
  });
});
