// The set-up the analytics cluster tests share: a three-node cluster whose dead node's lease
// moves after 3 s (instead of 10 s) and without delivery streams, a client on all three nodes, and
// reading a stream back whole.
import { SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll } from "vitest";

/** What a test file gets: filled by its beforeAll, so read it inside tests. */
export interface AnalyticsCluster {
  cluster: TestCluster;
  client: SluiceClient;
}

/** Registers beforeAll/afterAll that start and stop the cluster on `basePort` (12 ports). */
export function useAnalyticsCluster(basePort: number): AnalyticsCluster {
  const fixture = {} as AnalyticsCluster;
  beforeAll(async () => {
    fixture.cluster = await startCluster({
      basePort,
      env: { ...process.env, SLUICE_DELIVERY: "off", SLUICE_ANALYTICS_SESSION_TIMEOUT_MS: "3000" },
    });
    fixture.client = new SluiceClient({
      endpoints: fixture.cluster.nodeIds.map((nodeId) => `127.0.0.1:${fixture.cluster.ports(nodeId).grpc}`),
    });
  }, 60_000);
  afterAll(async () => {
    fixture.client?.close();
    await fixture.cluster?.stop();
  }, 60_000);
  return fixture;
}

/** What `produceInEventTimeOrder` writes. */
export interface EventTimeProducerOptions {
  readonly streamName: string;
  /** Records to write; record i has key `k${i % keys}`, value `i % valueModulus`, event time base + i·stepMs. */
  readonly total: number;
  readonly keys: number;
  readonly stepMs: number;
  readonly valueModulus: number;
  readonly batchRecords: number;
  /** Between two batches. */
  readonly pauseMs: number;
}

/** A producer running in the background: `written()` records are acknowledged so far. */
export interface EventTimeProducer {
  readonly done: Promise<void>;
  written(): number;
}

/**
 * Writes JSON records `{ k, v, ts }` in event-time order, batch after batch, from the current
 * second on. Records that failed (a leader moving) are written again, in order, before anything
 * newer; a call whose node died is sent again (the client moves to another node).
 */
export function produceInEventTimeOrder(
  client: SluiceClient,
  options: EventTimeProducerOptions,
): EventTimeProducer {
  const { streamName, total, keys, stepMs, valueModulus, batchRecords, pauseMs } = options;
  const base = Math.floor(Date.now() / 1_000) * 1_000;
  let written = 0;
  const done = (async () => {
    while (written < total) {
      const records = [];
      for (let i = written; i < Math.min(total, written + batchRecords); i++) {
        const k = `k${i % keys}`;
        records.push({
          partitionKey: `${k}-${i % 3}`,
          data: Buffer.from(JSON.stringify({ k, v: i % valueModulus, ts: base + i * stepMs })),
        });
      }
      try {
        const response = await client.putRecords(
          streams.PutRecordsRequest.fromPartial({ streamName, records }),
        );
        const failed = response.records.findIndex((entry) => entry.errorCode !== "");
        written += failed < 0 ? records.length : failed;
      } catch {
        // The node answering died; the client moves to another.
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return { done, written: () => written };
}
