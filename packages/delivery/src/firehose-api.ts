/**
 * The Firehose operations that matter (Firehose_20150804: Create/Describe/List/Delete
 * DeliveryStream, PutRecord, PutRecordBatch) over JSON documents, as the AWS SDK and CLI send
 * them. Destinations are named as Firehose names them, read the Sluice way:
 *
 * - ExtendedS3DestinationConfiguration / S3DestinationConfiguration with `BucketARN`
 *   `arn:aws:s3:::<bucket>` → S3 at the node's S3 endpoint (`s3` option), or
 *   `arn:sluice:files:::<absolute directory>` → files.
 * - RedshiftDestinationConfiguration (`ClusterJDBCURL` `jdbc:postgresql://host:port/db`,
 *   `Username`, `Password`, `CopyCommand.DataTableName`) → PostgreSQL.
 * - `ProcessingConfiguration` with an enabled `MetadataExtraction` processor selects JSON lines;
 *   otherwise records are written raw with a newline (AppendDelimiterToRecord).
 * - A `KinesisStreamAsSource` stream's source is the Sluice stream named by the ARN's
 *   `stream/<name>`; a `DirectPut` one gets a backing stream.
 */
import type { SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import {
  BYTES_PER_MIB,
  DIRECT_PUT_SHARD_COUNT_DEFAULT,
  FIREHOSE_BATCH_BYTES_MAX,
  FIREHOSE_BATCH_RECORDS_MAX,
  FIREHOSE_RECORD_BYTES_MAX,
} from "./constants.js";
import {
  type DeliveryDestination,
  type DeliveryStreamDefinition,
  type DeliveryStreamInput,
  sourceStreamName,
} from "./definition.js";
import type { DefinitionStore } from "./definition-store.js";
import { DeliveryUnavailableError, InvalidArgumentError, UnknownOperationError } from "./errors.js";

/** The service prefix of `X-Amz-Target`. */
export const FIREHOSE_TARGET_PREFIX = "Firehose_20150804";

export interface FirehoseApiOptions {
  readonly client: SluiceClient;
  readonly store: DefinitionStore;
  /** Where `arn:aws:s3:::` buckets live (an S3-compatible endpoint and its credentials). */
  readonly s3?: {
    readonly endpoint?: string;
    readonly region?: string;
    readonly accessKeyId?: string;
    readonly secretAccessKey?: string;
  };
  /** Account id and region in ARNs. @default "000000000000", "us-east-1" */
  readonly accountId?: string;
  readonly region?: string;
}

type Document = Readonly<Record<string, unknown>>;

/** What the HTTP layer knows of the caller of one operation. */
export interface FirehoseCallContext {
  /**
   * Throws (AccessDeniedException) unless the caller may also run `operation` of `namespace` on
   * `stream`. A delivery stream reads its source with the node's internal principal, so creating
   * one that reads a Kinesis stream checks here that its creator may read that stream
   * (`kinesis:GetRecords`); otherwise `firehose:CreateDeliveryStream` alone would copy any stream
   * out. Absent: no such check (authentication off, or a caller inside the node).
   */
  readonly authorize?: (namespace: "kinesis", operation: string, stream: string) => void;
}

export class FirehoseApi {
  private readonly options: FirehoseApiOptions;
  private putCounter = 0;

  constructor(options: FirehoseApiOptions) {
    this.options = options;
  }

  /** Answers one operation; throws an error with a Firehose `errorName` to refuse. */
  async handle(operation: string, document: unknown, context: FirehoseCallContext = {}): Promise<Document> {
    const input = (typeof document === "object" && document !== null ? document : {}) as Document;
    switch (operation) {
      case "CreateDeliveryStream":
        return this.create(input, context);
      case "DescribeDeliveryStream":
        return this.describe(input);
      case "ListDeliveryStreams":
        return this.list(input);
      case "DeleteDeliveryStream":
        await this.options.store.delete(text(input, "DeliveryStreamName"));
        return {};
      case "PutRecord":
        return this.putRecord(input);
      case "PutRecordBatch":
        return this.putRecordBatch(input);
      default:
        throw new UnknownOperationError(
          `${FIREHOSE_TARGET_PREFIX}.${operation} is not served; served: CreateDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams, DeleteDeliveryStream, PutRecord, PutRecordBatch`,
        );
    }
  }

  private arn(name: string): string {
    return `arn:aws:firehose:${this.options.region ?? "us-east-1"}:${this.options.accountId ?? "000000000000"}:deliverystream/${name}`;
  }

  private async create(input: Document, context: FirehoseCallContext): Promise<Document> {
    const name = text(input, "DeliveryStreamName");
    const type = optionalText(input, "DeliveryStreamType") ?? "DirectPut";
    let source: DeliveryStreamInput["source"];
    if (type === "KinesisStreamAsSource") {
      const arn = text(object(input, "KinesisStreamSourceConfiguration"), "KinesisStreamARN");
      const at = arn.indexOf(":stream/");
      if (at < 0) throw new InvalidArgumentError(`KinesisStreamARN ${arn} must end in :stream/<name>`);
      source = { kind: "stream", streamName: arn.slice(at + ":stream/".length) };
      context.authorize?.("kinesis", "GetRecords", source.streamName);
    } else if (type === "DirectPut") {
      source = { kind: "direct-put", shardCount: DIRECT_PUT_SHARD_COUNT_DEFAULT };
    } else {
      throw new InvalidArgumentError(
        `DeliveryStreamType ${type} is not served; use DirectPut or KinesisStreamAsSource`,
      );
    }
    const s3 = (input.ExtendedS3DestinationConfiguration ?? input.S3DestinationConfiguration) as
      | Document
      | undefined;
    const redshift = input.RedshiftDestinationConfiguration as Document | undefined;
    let destination: DeliveryDestination;
    let hintsFrom: Document | undefined;
    let compression: "none" | "gzip" = "none";
    let format: "raw" | "json-lines" = "raw";
    if (s3 !== undefined) {
      const bucketArn = text(s3, "BucketARN");
      const prefix = optionalText(s3, "Prefix") ?? "";
      const errorPrefix = optionalText(s3, "ErrorOutputPrefix") ?? "errors/";
      if (bucketArn.startsWith("arn:sluice:files:::")) {
        destination = {
          kind: "files",
          directory: bucketArn.slice("arn:sluice:files:::".length),
          prefix,
          errorPrefix,
        };
      } else if (bucketArn.startsWith("arn:aws:s3:::")) {
        const s3Options = this.options.s3 ?? {};
        destination = {
          kind: "s3",
          bucket: bucketArn.slice("arn:aws:s3:::".length),
          prefix,
          errorPrefix,
          ...s3Options,
        };
      } else {
        throw new InvalidArgumentError(
          `BucketARN ${bucketArn} must be arn:aws:s3:::<bucket> or arn:sluice:files:::<directory>`,
        );
      }
      hintsFrom = s3;
      const compressionFormat = optionalText(s3, "CompressionFormat") ?? "UNCOMPRESSED";
      if (compressionFormat === "GZIP") compression = "gzip";
      else if (compressionFormat !== "UNCOMPRESSED") {
        throw new InvalidArgumentError(
          `CompressionFormat ${compressionFormat} is not served; use GZIP or UNCOMPRESSED`,
        );
      }
      const processors = ((s3.ProcessingConfiguration as Document | undefined)?.Processors ??
        []) as Document[];
      if (processors.some((processor) => processor.Type === "MetadataExtraction")) format = "json-lines";
    } else if (redshift !== undefined) {
      const url = text(redshift, "ClusterJDBCURL");
      const match = /^jdbc:(?:postgresql|redshift):\/\/([^/]+)\/(.+)$/.exec(url);
      if (match === null)
        throw new InvalidArgumentError(`ClusterJDBCURL ${url} must be jdbc:postgresql://host:port/database`);
      const user = encodeURIComponent(text(redshift, "Username"));
      const password = encodeURIComponent(text(redshift, "Password"));
      const table = text(object(redshift, "CopyCommand"), "DataTableName");
      destination = {
        kind: "postgres",
        connectionString: `postgres://${user}:${password}@${match[1]}/${match[2]}`,
        table,
        errorTable: `${table}_errors`,
      };
      hintsFrom = redshift.S3Configuration as Document | undefined;
    } else {
      throw new InvalidArgumentError(
        "give ExtendedS3DestinationConfiguration (S3 or files) or RedshiftDestinationConfiguration (PostgreSQL)",
      );
    }
    const hints = (hintsFrom?.BufferingHints ?? {}) as Document;
    const definition = await this.options.store.create({
      name,
      source,
      destination,
      ...(typeof hints.SizeInMBs === "number" ? { bufferSizeBytes: hints.SizeInMBs * BYTES_PER_MIB } : {}),
      ...(typeof hints.IntervalInSeconds === "number"
        ? { bufferIntervalMs: hints.IntervalInSeconds * 1_000 }
        : {}),
      compression,
      format,
    });
    return { DeliveryStreamARN: this.arn(definition.name) };
  }

  private async describe(input: Document): Promise<Document> {
    const definition = await this.options.store.describe(text(input, "DeliveryStreamName"));
    return { DeliveryStreamDescription: this.description(definition) };
  }

  private description(definition: DeliveryStreamDefinition): Document {
    const hints = {
      SizeInMBs: Math.round(definition.bufferSizeBytes / BYTES_PER_MIB),
      IntervalInSeconds: Math.round(definition.bufferIntervalMs / 1_000),
    };
    const destination = definition.destination;
    const described =
      destination.kind === "postgres"
        ? {
            RedshiftDestinationDescription: {
              ClusterJDBCURL: `jdbc:postgresql://${destination.connectionString.replace(/^postgres(ql)?:\/\/([^@]*@)?/, "")}`,
              CopyCommand: { DataTableName: destination.table },
              Username: "",
              RoleARN: "",
              S3DestinationDescription: { BufferingHints: hints },
            },
          }
        : {
            ExtendedS3DestinationDescription: {
              BucketARN:
                destination.kind === "s3"
                  ? `arn:aws:s3:::${destination.bucket}`
                  : `arn:sluice:files:::${destination.directory}`,
              Prefix: destination.prefix,
              ErrorOutputPrefix: destination.errorPrefix,
              BufferingHints: hints,
              CompressionFormat: definition.compression === "gzip" ? "GZIP" : "UNCOMPRESSED",
              RoleARN: "",
            },
          };
    return {
      DeliveryStreamName: definition.name,
      DeliveryStreamARN: this.arn(definition.name),
      DeliveryStreamStatus: "ACTIVE",
      DeliveryStreamType: definition.source.kind === "stream" ? "KinesisStreamAsSource" : "DirectPut",
      VersionId: "1",
      CreateTimestamp: definition.createdAtMs / 1_000,
      ...(definition.source.kind === "stream"
        ? {
            Source: {
              KinesisStreamSourceDescription: {
                KinesisStreamARN: `arn:aws:kinesis:${this.options.region ?? "us-east-1"}:${this.options.accountId ?? "000000000000"}:stream/${definition.source.streamName}`,
              },
            },
          }
        : {}),
      Destinations: [{ DestinationId: "destinationId-000000000001", ...described }],
      HasMoreDestinations: false,
    };
  }

  private async list(input: Document): Promise<Document> {
    const limit = typeof input.Limit === "number" ? input.Limit : 10_000;
    const after = optionalText(input, "ExclusiveStartDeliveryStreamName") ?? "";
    const type = optionalText(input, "DeliveryStreamType");
    const names = [...(await this.options.store.refresh()).values()]
      .filter(
        (definition) =>
          type === undefined || (type === "DirectPut") === (definition.source.kind === "direct-put"),
      )
      .map((definition) => definition.name)
      .filter((name) => name > after)
      .sort();
    return { DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit };
  }

  private async directPutStream(name: string): Promise<string> {
    let definition = this.options.store.definitions().get(name);
    definition ??= await this.options.store.describe(name);
    if (definition.source.kind !== "direct-put") {
      throw new InvalidArgumentError(
        `delivery stream ${name} reads stream ${sourceStreamName(definition)}; put records into that stream instead`,
      );
    }
    return sourceStreamName(definition);
  }

  private async putRecord(input: Document): Promise<Document> {
    const response = await this.putRecordBatch({
      DeliveryStreamName: input.DeliveryStreamName,
      Records: [object(input, "Record")],
    });
    const first = (response.RequestResponses as Document[])[0] as Document;
    if (first.ErrorCode !== undefined) throw new DeliveryUnavailableError(String(first.ErrorMessage));
    return { RecordId: first.RecordId, Encrypted: false };
  }

  private async putRecordBatch(input: Document): Promise<Document> {
    const streamName = await this.directPutStream(text(input, "DeliveryStreamName"));
    const records = input.Records;
    if (!Array.isArray(records) || records.length === 0 || records.length > FIREHOSE_BATCH_RECORDS_MAX) {
      throw new InvalidArgumentError(`Records must hold 1 to ${FIREHOSE_BATCH_RECORDS_MAX} records`);
    }
    let total = 0;
    const entries = records.map((record: unknown, index) => {
      const data = (record as Document | null)?.Data;
      if (typeof data !== "string")
        throw new InvalidArgumentError(`Records[${index}].Data must be base64 text`);
      const bytes = Buffer.from(data, "base64");
      if (bytes.length > FIREHOSE_RECORD_BYTES_MAX) {
        throw new InvalidArgumentError(`Records[${index}].Data is over ${FIREHOSE_RECORD_BYTES_MAX} bytes`);
      }
      total += bytes.length;
      this.putCounter = (this.putCounter + 1) % 1_000_000_007;
      return { data: bytes, partitionKey: String(this.putCounter), explicitHashKey: "" };
    });
    if (total > FIREHOSE_BATCH_BYTES_MAX)
      throw new InvalidArgumentError(`Records are over ${FIREHOSE_BATCH_BYTES_MAX} bytes in all`);
    const response = await this.options.client.putRecords(
      streams.PutRecordsRequest.fromPartial({ streamName, records: entries }),
    );
    let failed = 0;
    const answers = response.records.map((entry) => {
      if (entry.errorCode !== "") {
        failed += 1;
        return {
          ErrorCode: "ServiceUnavailableException",
          ErrorMessage: `${entry.errorCode}: ${entry.errorMessage}`,
        };
      }
      return { RecordId: `${entry.shardId}:${entry.sequenceNumber}` };
    });
    return { FailedPutCount: failed, Encrypted: false, RequestResponses: answers };
  }
}

function text(document: Document, field: string): string {
  const value = document[field];
  if (typeof value !== "string" || value === "")
    throw new InvalidArgumentError(`${field} is required (a string)`);
  return value;
}

function optionalText(document: Document, field: string): string | undefined {
  const value = document[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new InvalidArgumentError(`${field} must be a string`);
  return value;
}

function object(document: Document, field: string): Document {
  const value = document[field];
  if (typeof value !== "object" || value === null)
    throw new InvalidArgumentError(`${field} is required (an object)`);
  return value as Document;
}
