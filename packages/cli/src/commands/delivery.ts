/**
 * `sluice delivery create|describe|list|delete`: delivery streams (the Firehose part), kept in
 * the cluster's definitions stream through @sluice/delivery's DefinitionStore. Every node runs
 * the deliveries; these commands only change and show the definitions.
 */
import {
  DefinitionStore,
  type DeliveryDestination,
  type DeliveryStreamDefinition,
  type DeliveryStreamInput,
  DeliveryStreamInUseError,
  DeliveryStreamNotFoundError,
  InvalidDefinitionError,
} from "@sluice/delivery";
import {
  COMMON_OPTIONS_HELP,
  type DefinitionCommand,
  EXIT_CODES_HELP,
  type Io,
  isoTime,
  positiveInteger,
  processIo,
  runDefinitionCommand,
  UsageError,
} from "./common.js";

export const DELIVERY_HELP = `usage: sluice delivery create NAME --destination files|s3|postgres [options]
       sluice delivery describe NAME
       sluice delivery list
       sluice delivery delete NAME

Delivery streams read a Sluice stream (--source-stream) or take direct puts (Firehose PutRecord
and PutRecordBatch on the Kinesis HTTP port), buffer records per shard, and write them to files,
S3-compatible objects or PostgreSQL, each batch once, checkpointed after the destination
acknowledged it. Batches close at --size-mib or --interval-s, whichever comes first.

create options:
  --destination KIND     files, s3 or postgres
  --source-stream NAME   read this stream through a consumer group (default: direct puts)
  --shards N             shards of a direct-put stream's backing stream (default 2)
  --directory DIR        files: an absolute directory
  --bucket NAME          s3: the bucket; --s3-endpoint URL, --region, --s3-access-key, --s3-secret-key
  --connection URL       postgres: postgres://user:password@host:port/database
  --table NAME           postgres: the table (created when missing); --error-table (default TABLE_errors)
  --prefix P             files/s3: key prefix (default ""); --error-prefix (default "errors/")
  --size-mib N           1-128 (default 5)
  --interval-s N         0-900 (default 300)
  --gzip                 compress objects (files, s3)
  --format F             raw (record and a newline; default) or json-lines
${COMMON_OPTIONS_HELP}

examples:
  sluice delivery create clicks-archive --destination files --directory /var/lib/archive --source-stream clicks --size-mib 64 --interval-s 60 --gzip
  sluice delivery create events-s3 --destination s3 --bucket events --s3-endpoint http://127.0.0.1:9000 --prefix raw/
  sluice delivery create orders-pg --destination postgres --connection postgres://sluice@127.0.0.1/warehouse --table orders --source-stream orders
  sluice delivery list --json
${EXIT_CODES_HELP}
`;

const CREATE_OPTIONS = {
  destination: { type: "string" },
  "source-stream": { type: "string" },
  shards: { type: "string" },
  directory: { type: "string" },
  bucket: { type: "string" },
  "s3-endpoint": { type: "string" },
  region: { type: "string" },
  "s3-access-key": { type: "string" },
  "s3-secret-key": { type: "string" },
  connection: { type: "string" },
  table: { type: "string" },
  "error-table": { type: "string" },
  prefix: { type: "string" },
  "error-prefix": { type: "string" },
  "size-mib": { type: "string" },
  "interval-s": { type: "string" },
  gzip: { type: "boolean", default: false },
  format: { type: "string" },
} as const;

export async function runDeliveryCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  return runDefinitionCommand(DELIVERY_COMMAND, args, env, io);
}

const DELIVERY_COMMAND: DefinitionCommand<DeliveryStreamDefinition, DeliveryStreamInput> = {
  command: "sluice delivery",
  help: DELIVERY_HELP,
  options: CREATE_OPTIONS,
  noun: "delivery stream",
  helpWithoutAction: false,
  openStore: (client) => new DefinitionStore({ client }),
  inputOf: (name, values) => inputOf(name(), values),
  summaryOf,
  printable: redact,
  errors: {
    notFound: DeliveryStreamNotFoundError,
    inUse: DeliveryStreamInUseError,
    refused: [InvalidDefinitionError],
  },
};

function text(values: Record<string, unknown>, name: string): string | undefined {
  return values[name] as string | undefined;
}

function required(values: Record<string, unknown>, name: string, forWhat: string): string {
  const value = text(values, name);
  if (value === undefined || value === "") throw new UsageError(`--${name} is required for ${forWhat}`);
  return value;
}

function inputOf(name: string, values: Record<string, unknown>): DeliveryStreamInput {
  const kind = required(values, "destination", "create");
  const prefix = text(values, "prefix") ?? "";
  const errorPrefix = text(values, "error-prefix") ?? "errors/";
  let destination: DeliveryDestination;
  if (kind === "files") {
    destination = { kind, directory: required(values, "directory", "files"), prefix, errorPrefix };
  } else if (kind === "s3") {
    const endpoint = text(values, "s3-endpoint");
    const region = text(values, "region");
    const accessKeyId = text(values, "s3-access-key");
    const secretAccessKey = text(values, "s3-secret-key");
    destination = {
      kind,
      bucket: required(values, "bucket", "s3"),
      prefix,
      errorPrefix,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(region === undefined ? {} : { region }),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
      ...(secretAccessKey === undefined ? {} : { secretAccessKey }),
    };
  } else if (kind === "postgres") {
    const table = required(values, "table", "postgres");
    destination = {
      kind,
      connectionString: required(values, "connection", "postgres"),
      table,
      errorTable: text(values, "error-table") ?? `${table}_errors`,
    };
  } else {
    throw new UsageError(`--destination must be files, s3 or postgres, not ${kind}`);
  }
  const sourceStream = text(values, "source-stream");
  const shards = text(values, "shards");
  const sizeMib = text(values, "size-mib");
  const intervalS = text(values, "interval-s");
  const format = text(values, "format");
  if (format !== undefined && format !== "raw" && format !== "json-lines") {
    throw new UsageError(`--format must be raw or json-lines, not ${format}`);
  }
  return {
    name,
    source:
      sourceStream !== undefined
        ? { kind: "stream", streamName: sourceStream }
        : { kind: "direct-put", shardCount: shards === undefined ? 2 : positiveInteger("shards", shards) },
    destination,
    ...(sizeMib === undefined ? {} : { bufferSizeBytes: positiveInteger("size-mib", sizeMib) * 1_048_576 }),
    ...(intervalS === undefined ? {} : { bufferIntervalMs: nonNegativeSeconds(intervalS) * 1_000 }),
    compression: values.gzip === true ? "gzip" : "none",
    ...(format === undefined ? {} : { format }),
  };
}

function nonNegativeSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new UsageError(`--interval-s must be a whole number of seconds, not ${value}`);
  }
  return seconds;
}

/** A definition without its secrets (S3 secret key, PostgreSQL password), for printing. */
function redact(definition: DeliveryStreamDefinition): DeliveryStreamDefinition {
  const destination = definition.destination;
  if (destination.kind === "s3" && destination.secretAccessKey !== undefined) {
    return { ...definition, destination: { ...destination, secretAccessKey: "***" } };
  }
  if (destination.kind === "postgres") {
    return {
      ...definition,
      destination: {
        ...destination,
        connectionString: destination.connectionString.replace(/:[^:@/]*@/, ":***@"),
      },
    };
  }
  return definition;
}

function summaryOf(definition: DeliveryStreamDefinition): Record<string, unknown> {
  const destination = definition.destination;
  const target =
    destination.kind === "files"
      ? `${destination.directory}/${destination.prefix}`
      : destination.kind === "s3"
        ? `s3://${destination.bucket}/${destination.prefix}`
        : `postgres ${destination.table}`;
  return {
    name: definition.name,
    source: definition.source.kind === "stream" ? definition.source.streamName : "direct put",
    destination: target,
    sizeMiB: definition.bufferSizeBytes / 1_048_576,
    intervalS: definition.bufferIntervalMs / 1_000,
    compression: definition.compression,
    format: definition.format,
    created: isoTime(definition.createdAtMs),
  };
}
