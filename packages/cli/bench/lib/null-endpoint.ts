/**
 * The null Kinesis endpoint: an HTTP server that answers the Kinesis JSON API's write calls with
 * success and stores nothing, so a workload against it measures what the client (the AWS SDK, its
 * signing, JSON and base64 of 1 KiB records, HTTP/1.1) costs on this machine: the ceiling no
 * Kinesis-API server can beat here. It reads each request in full and counts its records (the
 * occurrences of `"PartitionKey"`, which base64 data cannot contain) so the response has one entry
 * per record, as Kinesis's has. Run as its own process (the bench spawns it):
 *
 *   node packages/cli/bench/lib/null-endpoint.ts PORT
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const PARTITION_KEY = Buffer.from('"PartitionKey"');
const PUT_RECORD_RESPONSE = Buffer.from(
  JSON.stringify({ SequenceNumber: "1", ShardId: "shardId-000000000000", EncryptionType: "NONE" }),
);
const EMPTY_RESPONSE = Buffer.from("{}");
/** PutRecords responses by record count (at most 500 distinct ones). */
const putRecordsResponses = new Map<number, Buffer>();

function putRecordsResponse(count: number): Buffer {
  let response = putRecordsResponses.get(count);
  if (response === undefined) {
    const entry = '{"SequenceNumber":"1","ShardId":"shardId-000000000000"}';
    response = Buffer.from(`{"FailedRecordCount":0,"Records":[${Array(count).fill(entry).join(",")}]}`);
    putRecordsResponses.set(count, response);
  }
  return response;
}

function describeStreamSummary(body: Buffer): Buffer {
  const { StreamName: name } = JSON.parse(body.toString()) as { StreamName?: string };
  return Buffer.from(
    JSON.stringify({
      StreamDescriptionSummary: {
        StreamName: name,
        StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`,
        StreamStatus: "ACTIVE",
        RetentionPeriodHours: 24,
        StreamCreationTimestamp: 0,
        EnhancedMonitoring: [],
        OpenShardCount: 1,
      },
    }),
  );
}

function countRecords(body: Buffer): number {
  let count = 0;
  for (let at = body.indexOf(PARTITION_KEY); at !== -1; at = body.indexOf(PARTITION_KEY, at + 1)) count += 1;
  return count;
}

function answer(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
  const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
  let payload: Buffer;
  switch (operation) {
    case "PutRecords":
      payload = putRecordsResponse(countRecords(body));
      break;
    case "PutRecord":
      payload = PUT_RECORD_RESPONSE;
      break;
    case "CreateStream":
      payload = EMPTY_RESPONSE;
      break;
    case "DescribeStreamSummary":
      payload = describeStreamSummary(body);
      break;
    default:
      response.writeHead(400, { "content-type": CONTENT_TYPE });
      response.end(
        JSON.stringify({ __type: "UnknownOperationException", message: `null endpoint: ${operation}` }),
      );
      return;
  }
  response.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": payload.length });
  response.end(payload);
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: null-endpoint.ts PORT");
const server = createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => answer(request, response, Buffer.concat(chunks)));
});
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});
