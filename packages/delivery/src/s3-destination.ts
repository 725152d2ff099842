/**
 * S3-compatible object storage through @aws-sdk/client-s3 (path-style addressing when an
 * endpoint is given; the SDK is loaded by the first S3 destination, see lazy-sdk.ts). A
 * PutObject is atomic: readers see the whole object or none, and a retried batch's PutObject
 * replaces it. The per-shard intent is a small object under
 * `.sluice-intents/<delivery>/<shard>.json`, put before the batch's object.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { batchBody, batchKey, type DeliveryBatch, errorDocument } from "./batch.js";
import { INTENTS_FOLDER } from "./constants.js";
import type { DeliveryStreamDefinition } from "./definition.js";
import type { Destination, PendingBatch } from "./destination.js";
import { DestinationError } from "./errors.js";
import { s3Sdk } from "./lazy-sdk.js";

/** S3 error codes that no retry will fix; anything else (5xx, throttling, network) is retried. */
const PERMANENT_S3_CODES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidBucketName",
]);

export class S3Destination implements Destination {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly errorPrefix: string;

  constructor(private readonly definition: DeliveryStreamDefinition) {
    const destination = definition.destination;
    if (destination.kind !== "s3") throw new TypeError("S3Destination needs an s3 destination");
    this.bucket = destination.bucket;
    this.prefix = destination.prefix;
    this.errorPrefix = destination.errorPrefix;
    this.client = new (s3Sdk().S3Client)({
      region: destination.region ?? "us-east-1",
      // The worker retries with its own backoff (and counts failures); the SDK tries once.
      maxAttempts: 1,
      ...(destination.endpoint === undefined ? {} : { endpoint: destination.endpoint, forcePathStyle: true }),
      ...(destination.accessKeyId === undefined || destination.secretAccessKey === undefined
        ? {}
        : {
            credentials: {
              accessKeyId: destination.accessKeyId,
              secretAccessKey: destination.secretAccessKey,
            },
          }),
    });
  }

  private intentKey(shardId: string): string {
    return `${INTENTS_FOLDER}/${this.definition.name}/${shardId}.json`;
  }

  async pendingBatch(shardId: string): Promise<PendingBatch | undefined> {
    try {
      const response = await this.client.send(
        new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: this.intentKey(shardId) }),
      );
      const text = (await response.Body?.transformToString("utf8")) ?? "";
      return JSON.parse(text) as PendingBatch;
    } catch (error) {
      if (
        error instanceof s3Sdk().S3ServiceException &&
        (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)
      ) {
        return undefined;
      }
      throw this.wrap(error, `reading the intent of shard ${shardId}`);
    }
  }

  async announce(batch: DeliveryBatch): Promise<void> {
    const intent: PendingBatch = {
      firstSequenceNumber: batch.firstSequenceNumber,
      lastSequenceNumber: batch.lastSequenceNumber,
    };
    await this.put(this.intentKey(batch.shardId), Buffer.from(JSON.stringify(intent)), "application/json");
  }

  async deliver(batch: DeliveryBatch): Promise<void> {
    await this.put(
      batchKey(this.definition, batch, this.prefix),
      batchBody(batch, this.definition.compression),
    );
  }

  async deliverFailed(batch: DeliveryBatch, reason: string): Promise<void> {
    const key = batchKey(this.definition, batch, this.errorPrefix);
    await this.put(key, batchBody(batch, this.definition.compression));
    await this.put(`${key}.error.json`, errorDocument(this.definition, batch, reason), "application/json");
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async put(key: string, body: Buffer, contentType = "application/octet-stream"): Promise<void> {
    try {
      await this.client.send(
        new (s3Sdk().PutObjectCommand)({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
        }),
      );
    } catch (error) {
      throw this.wrap(error, `putting s3://${this.bucket}/${key}`);
    }
  }

  private wrap(error: unknown, what: string): DestinationError {
    const code = error instanceof s3Sdk().S3ServiceException ? error.name : "";
    return new DestinationError(`${what}: ${String(error)}`, {
      permanent: PERMANENT_S3_CODES.has(code),
      cause: error,
    });
  }
}
