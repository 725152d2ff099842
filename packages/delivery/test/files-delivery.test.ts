// Proves a direct-put delivery stream into files through the Firehose API (the AWS SDK's
// Firehose client on the Kinesis HTTP port) on a real three-node cluster: 100,000 records put
// with PutRecordBatch all arrive, once each, in objects no larger than the size hint plus one
// record, under the yyyy/MM/dd/HH key layout; Describe/List/Delete answer as Firehose does.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  FirehoseClient,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from "@aws-sdk/client-firehose";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payload, readDirectoryObjects, tally } from "./support.js";

// This file uses ports 20300-20311.
const BASE_PORT = 20_300;
const RECORDS = 100_000;
const RECORD_BYTES = 64;
const SIZE_HINT_BYTES = 1_048_576;

let cluster: TestCluster;
let firehose: FirehoseClient;
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "sluice-delivery-files-"));
  cluster = await startCluster({ basePort: BASE_PORT });
  firehose = new FirehoseClient({
    endpoint: `http://127.0.0.1:${cluster.ports(1).http}`,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
}, 60_000);
afterAll(async () => {
  firehose?.destroy();
  await cluster?.stop();
  rmSync(directory, { recursive: true, force: true });
}, 60_000);

describe("files delivery through the Firehose API", () => {
  it("delivers 100,000 put records once each, within the size hint", async () => {
    const name = "files-direct";
    const created = await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamType: "DirectPut",
        ExtendedS3DestinationConfiguration: {
          BucketARN: `arn:sluice:files:::${directory}`,
          RoleARN: "arn:aws:iam::000000000000:role/none",
          Prefix: "out/",
          ErrorOutputPrefix: "failed/",
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 5 },
        },
      }),
    );
    expect(created.DeliveryStreamARN).toContain(`deliverystream/${name}`);
    await expect(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          ExtendedS3DestinationConfiguration: {
            BucketARN: `arn:sluice:files:::${directory}`,
            RoleARN: "arn:aws:iam::000000000000:role/none",
          },
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceInUseException);
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(described.DeliveryStreamDescription?.DeliveryStreamStatus).toBe("ACTIVE");
    expect(
      described.DeliveryStreamDescription?.Destinations?.[0]?.ExtendedS3DestinationDescription
        ?.BufferingHints,
    ).toEqual({ SizeInMBs: 1, IntervalInSeconds: 5 });
    const listed = await firehose.send(new ListDeliveryStreamsCommand({}));
    expect(listed.DeliveryStreamNames).toContain(name);

    // Eight PutRecordBatch calls in flight, so each shard fills its 1 MiB before the interval.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let start = next; start < RECORDS; start = next) {
          next += 500;
          const records = Array.from({ length: 500 }, (_, i) => ({ Data: payload(start + i, RECORD_BYTES) }));
          const answer = await firehose.send(
            new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records }),
          );
          expect(answer.FailedPutCount).toBe(0);
        }
      }),
    );

    const objects = await waitFor(
      async () => {
        const found = await readDirectoryObjects(join(directory, "out"));
        return tally(found).distinct === RECORDS ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "every record delivered to files" },
    );
    expect(tally(objects).duplicates).toBe(0);
    for (const object of objects) {
      expect(object.key).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{2}\/files-direct-shardId-\d+-\d+-\d+$/);
      expect(object.bytes).toBeLessThan(SIZE_HINT_BYTES + RECORD_BYTES);
    }
    // How many batches the size hint closed depends on the put rate (the interval closes the
    // others), so it is reported, not asserted.
    const sizeClosed = objects.filter((object) => object.bytes >= SIZE_HINT_BYTES).length;
    console.log(`files delivery: ${objects.length} objects, ${sizeClosed} closed by the size hint`);

    // The nodes' Prometheus endpoints count what they delivered (a node's share is counted once
    // its batch is acknowledged, so the sum reaches every record).
    await waitFor(
      async () => {
        let delivered = 0;
        for (const nodeId of cluster.nodeIds) {
          const text = await (
            await fetch(`http://127.0.0.1:${cluster.ports(nodeId).metrics}/metrics`)
          ).text();
          const line = text
            .split("\n")
            .find((l) => l.startsWith(`sluice_delivery_records_delivered_total{delivery="${name}"}`));
          delivered += Number(line?.split(" ")[1] ?? 0);
        }
        return delivered >= RECORDS;
      },
      { timeoutMs: 10_000, what: "sluice_delivery_records_delivered_total to count every record" },
    );

    await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
    await expect(
      firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  }, 120_000);
});
