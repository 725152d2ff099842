// Proves that a non-following ShardReader (`follow: false`, as the delivery definitions store
// reads) ends at the end of the data the answering replica has, on a real three-node cluster:
// read from each node it ends with the records that node has, in order; and it ends too when every
// page reports lag (MillisBehindLatest > 0, as a replica that has not caught up or Kinesis may
// report), where it used to poll forever waiting for a zero.
import { ShardReader, SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payload } from "./support.js";

// This file uses ports 20384-20395.
const BASE_PORT = 20_384;
const STREAM = "reader-end";
const RECORDS = 300;
const PAGE_RECORDS = 40;
/** A reader that does not end within this fails the test instead of hanging it. */
const READ_DEADLINE_MS = 20_000;

let cluster: TestCluster;
let client: SluiceClient;
let shardId: string;
let written: string[];

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((id) => `127.0.0.1:${cluster.ports(id).grpc}`),
  });
  await client.createStream({ streamName: STREAM, shardCount: 1 });
  await waitFor(
    async () =>
      (await client.describeStreamSummary({ streamName: STREAM })).streamDescriptionSummary?.streamStatus ===
      streams.StreamStatus.STREAM_STATUS_ACTIVE,
    { timeoutMs: 20_000, what: `stream ${STREAM} to be ACTIVE` },
  );
  written = [];
  for (let from = 0; from < RECORDS; from += 100) {
    const put = await client.putRecords(
      streams.PutRecordsRequest.fromPartial({
        streamName: STREAM,
        records: Array.from({ length: 100 }, (_, i) => ({ data: payload(from + i), partitionKey: "k" })),
      }),
    );
    expect(put.failedRecordCount).toBe(0);
    for (const entry of put.records) written.push(entry.sequenceNumber);
  }
  shardId = (await client.listAllShards(STREAM))[0]?.shardId ?? "";
}, 90_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
}, 60_000);

type ReaderClient = ConstructorParameters<typeof ShardReader>[0];

/** Reads the shard from the start with follow: false; the sequence numbers read. */
async function readToEnd(api: ReaderClient): Promise<string[]> {
  const reader = new ShardReader(api, {
    streamName: STREAM,
    shardId,
    start: { type: "TRIM_HORIZON" },
    limit: PAGE_RECORDS,
    follow: false,
    signal: AbortSignal.timeout(READ_DEADLINE_MS),
  });
  const read: string[] = [];
  for await (const record of reader) read.push(record.sequenceNumber);
  expect(reader.ended).toBe(false);
  return read;
}

describe("ShardReader with follow: false", () => {
  it("ends on every node at the end of what that replica has, in order", async () => {
    for (const nodeId of cluster.nodeIds) {
      const single = new SluiceClient({ endpoints: [`127.0.0.1:${cluster.ports(nodeId).grpc}`] });
      try {
        // Each read ends; a follower may end before it has caught up, so read until it has.
        await waitFor(
          async () => {
            const read = await readToEnd(single);
            expect(read).toEqual(written.slice(0, read.length));
            return read.length === RECORDS;
          },
          { timeoutMs: 20_000, what: `node ${nodeId} to serve all ${RECORDS} records` },
        );
      } finally {
        single.close();
      }
    }
  });

  it("ends even when every page reports the reader behind", async () => {
    let pages = 0;
    // The real client, but each page claims a minute of lag, as a lagging replica would.
    const lagging: ReaderClient = {
      putRecords: (request, options) => client.putRecords(request, options),
      getShardIterator: (request, options) => client.getShardIterator(request, options),
      getRecords: async (request, options) => {
        pages += 1;
        return { ...(await client.getRecords(request, options)), millisBehindLatest: 60_000 };
      },
      listAllShards: (name, options) => client.listAllShards(name, options),
      pickEndpoint: () => client.pickEndpoint(),
      markEndpointDown: (endpoint) => client.markEndpointDown(endpoint),
    };
    const read = await readToEnd(lagging);
    expect(read).toEqual(written);
    // It stopped at the first empty page rather than polling on (pages are cut by the server).
    expect(pages).toBeGreaterThan(RECORDS / PAGE_RECORDS);
    expect(pages).toBeLessThan(RECORDS);
  });
});
