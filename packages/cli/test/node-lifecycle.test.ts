// Proves the node process's life cycle around its host, in process with a stand-in host: health
// answers NOT_SERVING while the host opens and SERVING once it is open, admin calls are refused
// as not ready until then, host errors reach the client as typed gRPC errors with the leader
// hint, and a stop reports NOT_SERVING, shuts the host down once and closes the ports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminCallError, AdminClient, waitFor } from "@sluice/harness";
import { afterAll, describe, expect, it } from "vitest";
import type { AdminBackend } from "../src/node/admin-service.js";
import { parseNodeConfig } from "../src/node/config.js";
import { createJsonLogger } from "../src/node/logger.js";
import { type NodeHost, startNode } from "../src/node/node.js";

// This file uses ports 18500-18509.
const dir = mkdtempSync(join(tmpdir(), "sluice-node-lifecycle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class NotLeader extends Error {
  readonly code = "NOT_LEADER";
  readonly retriable = true;
  readonly leaderHint = 3;
}

const backend: AdminBackend = {
  ensureGroup: async () => {},
  append: async (groupId) => {
    if (groupId === 9) throw new NotLeader("this node does not lead group 9; retry at node 3");
    return { term: 2, index: 7, arrivalTimestampMs: 1_000, recordCount: 1 };
  },
  read: () => ({ records: [], nextIndex: 1, nextOffset: 0, commitIndex: 0, firstIndex: 1, lastIndex: 0 }),
  groupStatus: (groupId) => ({
    role: "leader",
    leader: 1,
    term: 2,
    commitIndex: 7,
    appliedIndex: 7,
    lastIndex: 7,
    firstIndex: 1,
    quiesced: groupId === 1,
    voters: [1, 2, 3],
  }),
  committedLogChecksum: () => "abc",
  transferLeader: () => {},
  groupIds: () => [1, 2],
};

describe("node life cycle", () => {
  it("is NOT_SERVING while the host opens, SERVING once open, and stops cleanly", async () => {
    const config = parseNodeConfig(
      [
        "--node-id=1",
        "--peers=1=127.0.0.1:18501,2=127.0.0.1:18505",
        `--data=${join(dir, "node-1")}`,
        "--grpc-listen=127.0.0.1:18500",
        "--http-listen=127.0.0.1:18502",
        "--metrics-listen=127.0.0.1:18503",
        "--log-level=error",
      ],
      {},
    );
    let openHost: (host: NodeHost) => void = () => {};
    let shutdowns = 0;
    const hostOpened = new Promise<NodeHost>((resolve) => {
      openHost = resolve;
    });
    const starting = startNode(config, createJsonLogger({ level: "error", base: {} }), () => hostOpened);
    const client = new AdminClient("127.0.0.1:18500");
    try {
      await waitFor(async () => (await client.health(500)) === "NOT_SERVING", {
        timeoutMs: 10_000,
        what: "health NOT_SERVING while the host opens",
      });
      const early = await client.nodeStatus().catch((error: unknown) => error);
      expect((early as AdminCallError).code).toBe("NODE_NOT_READY");

      openHost({
        backend,
        metrics: () => ({ syncs: 5 }),
        peerStates: () => new Map([[2, "up"]]),
        shutdown: async () => {
          shutdowns += 1;
        },
      });
      const node = await starting;
      expect(await client.health()).toBe("SERVING");
      const status = await client.nodeStatus();
      expect(status).toMatchObject({ nodeId: 1, groupIds: [1, 2], ledGroupIds: [1, 2], quiescedGroups: 1 });
      expect(status.metrics).toEqual({ syncs: 5 });
      expect(status.peers).toEqual({ 2: "up" });
      expect(await client.append(1, [{ partitionKey: "k", data: Buffer.from("x") }])).toMatchObject({
        index: 7,
      });

      const notLeader = await client
        .append(9, [{ partitionKey: "k", data: Buffer.from("x") }])
        .catch((e: unknown) => e);
      expect(notLeader).toBeInstanceOf(AdminCallError);
      expect((notLeader as AdminCallError).code).toBe("NOT_LEADER");
      expect((notLeader as AdminCallError).leaderHint).toBe(3);
      const invalid = await client.append(1, []).catch((e: unknown) => e);
      expect((invalid as AdminCallError).code).toBe("INVALID_ARGUMENT");

      const metrics = await fetch("http://127.0.0.1:18503/metrics").then((response) => response.text());
      expect(metrics).toContain('sluice_syncs{node="1",zone="local"} 5');

      expect(await node.stop("test")).toEqual({ clean: true });
      expect(await node.stop("again")).toEqual({ clean: true });
      expect(shutdowns).toBe(1);
      await expect(client.health(500)).rejects.toThrow();
    } finally {
      client.close();
    }
  });
});
