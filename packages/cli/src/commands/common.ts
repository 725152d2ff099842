/**
 * What the `sluice stream|put|tail` commands share: exit codes scripts rely on, the
 * `--endpoint` / `--json` options, tables, and one-line errors that say what to do.
 *
 * Exit codes: 0 ok; 1 the operation failed (the cluster refused it, or a record was given up);
 * 2 usage or configuration error (bad flags, bad values); 3 not found (no such stream or shard);
 * 4 the cluster could not be reached (no endpoint answered); 5 the resource is busy
 * (ResourceInUseException, e.g. the stream is UPDATING: try again later).
 */
import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { Metadata } from "@grpc/grpc-js";
import { SluiceCallError, SluiceClient, SluiceClientError } from "@sluice/client";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 3;
export const EXIT_UNREACHABLE = 4;
export const EXIT_BUSY = 5;

/** The local cluster's public gRPC ports (`./scripts/cluster up`). */
export const DEFAULT_ENDPOINTS = ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"] as const;

export const EXIT_CODES_HELP = `exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 cluster unreachable, 5 busy (retry later)`;

export const COMMON_OPTIONS_HELP = `  --endpoint HOST:PORT   a node's public gRPC port; repeat for several (default: the local
                         cluster, ${DEFAULT_ENDPOINTS.join(", ")}; or SLUICE_ENDPOINTS=a,b,c)
  --json                 print JSON instead of tables
  --tls-ca FILE          TLS: the CA of the nodes' certificates (or SLUICE_CA; certs/ca.crt)
  --tls-cert FILE, --tls-key FILE
                         TLS: a client certificate and its key (or SLUICE_CERT, SLUICE_KEY)
  --access-key ID, --secret-key SECRET
                         an access key of a cluster with auth on (or SLUICE_ACCESS_KEY_ID and
                         SLUICE_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
  --help                 this help`;

/** A usage error: the message is printed with the command's help, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const COMMON_PARSE_OPTIONS = {
  endpoint: { type: "string", multiple: true },
  json: { type: "boolean", default: false },
  // TLS flags carry the tls- prefix of the node's own (--tls-ca, …): a bare --key would clash
  // with `sluice put --key` (the partition key), and scripts need one meaning per flag.
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "access-key": { type: "string" },
  "secret-key": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

/** Parses flags with node:util parseArgs; unknown flags are a UsageError. */
export function parse(
  args: readonly string[],
  options: NonNullable<ParseArgsConfig["options"]>,
): { values: Record<string, unknown>; positionals: string[] } {
  for (const name of Object.keys(options)) {
    // Our bug, not the user's: a command flag must not shadow a common one (it did: --key).
    if (Object.hasOwn(COMMON_PARSE_OPTIONS, name)) {
      throw new Error(`the command flag --${name} shadows the common flag of that name`);
    }
  }
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { ...COMMON_PARSE_OPTIONS, ...options },
      allowPositionals: true,
    });
    return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function endpointsOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const given = values.endpoint as string[] | undefined;
  if (given !== undefined && given.length > 0)
    return given.flatMap((value) => value.split(",")).filter(Boolean);
  const fromEnv = env.SLUICE_ENDPOINTS;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return fromEnv.split(",").map((value) => value.trim());
  return [...DEFAULT_ENDPOINTS];
}

export function createClient(values: Record<string, unknown>, env: NodeJS.ProcessEnv): SluiceClient {
  try {
    const tls = tlsOf(values, env);
    const credentials = credentialsOf(values, env);
    return new SluiceClient({
      endpoints: endpointsOf(values, env),
      ...(tls === undefined ? {} : { tls }),
      ...(credentials === undefined ? {} : { credentials }),
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The access key to send: --access-key/--secret-key, else SLUICE_ACCESS_KEY_ID and
 * SLUICE_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; undefined when none.
 */
export function credentialsOf(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { accessKeyId: string; secretAccessKey: string } | undefined {
  const flagId = values["access-key"] as string | undefined;
  const flagSecret = values["secret-key"] as string | undefined;
  if ((flagId === undefined) !== (flagSecret === undefined)) {
    throw new UsageError("--access-key and --secret-key go together");
  }
  const pairs: [string | undefined, string | undefined][] = [
    [flagId, flagSecret],
    [env.SLUICE_ACCESS_KEY_ID, env.SLUICE_SECRET_ACCESS_KEY],
    [env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY],
  ];
  for (const [accessKeyId, secretAccessKey] of pairs) {
    if (accessKeyId?.trim() && secretAccessKey?.trim()) {
      return { accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim() };
    }
  }
  return undefined;
}

/** The gRPC metadata carrying the access key as `authorization: Bearer ID:SECRET` (empty without one). */
export function callMetadataOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Metadata {
  const metadata = new Metadata();
  const credentials = credentialsOf(values, env);
  if (credentials !== undefined) {
    metadata.set("authorization", `Bearer ${credentials.accessKeyId}:${credentials.secretAccessKey}`);
  }
  return metadata;
}

/** TLS from --tls-ca/--tls-cert/--tls-key or SLUICE_CA/SLUICE_CERT/SLUICE_KEY: any of them turns TLS on. */
function tlsOf(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  const path = (flag: string, variable: string): string | undefined => {
    const value = (values[flag] as string | undefined) ?? env[variable];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const files = {
    ca: path("tls-ca", "SLUICE_CA"),
    cert: path("tls-cert", "SLUICE_CERT"),
    key: path("tls-key", "SLUICE_KEY"),
  };
  if (files.ca === undefined && files.cert === undefined && files.key === undefined) return undefined;
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const name of ["ca", "cert", "key"] as const) {
    const file = files[name];
    if (file === undefined) continue;
    try {
      tls[name] = readFileSync(file);
    } catch (error) {
      throw new UsageError(
        `--tls-${name} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  }
  return tls;
}

export function positiveInteger(name: string, text: unknown): number {
  const value = Number(text);
  if (typeof text !== "string" || !/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** Prints rows as an aligned table (columns from the first row's keys). */
export function printTable(io: Io, rows: readonly Record<string, unknown>[], empty = "(none)"): void {
  if (rows.length === 0) {
    io.stdout.write(`${empty}\n`);
    return;
  }
  const columns = Object.keys(rows[0] as object);
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? "")));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((line) => (line[index] as string).length)),
  );
  const format = (line: readonly string[]) =>
    line
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join("  ")
      .trimEnd();
  io.stdout.write(`${format(columns.map((column) => column.toUpperCase()))}\n`);
  for (const line of cells) io.stdout.write(`${format(line)}\n`);
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Reports an error in one line on stderr, with what to do, and returns the exit code. `what` is
 * the command ("sluice stream create").
 */
export function reportError(io: Io, what: string, error: unknown, help?: string): number {
  if (error instanceof UsageError) {
    io.stderr.write(`${what}: ${error.message} (see ${what} --help)\n`);
    if (help !== undefined && process.env.SLUICE_VERBOSE === "1") io.stderr.write(help);
    return EXIT_USAGE;
  }
  if (error instanceof SluiceCallError) {
    const detail = error.message.replace(/^\w+ on [^:]+:\d+: /, "");
    switch (error.errorName) {
      case "ResourceNotFoundException":
        io.stderr.write(`${what}: not found: ${detail} (check the name with: sluice stream list)\n`);
        return EXIT_NOT_FOUND;
      case "ResourceInUseException":
        io.stderr.write(`${what}: busy: ${detail} (wait until the stream is ACTIVE and retry)\n`);
        return EXIT_BUSY;
      case "ValidationException":
      case "InvalidArgumentException":
        io.stderr.write(`${what}: refused: ${detail}\n`);
        return EXIT_USAGE;
      case "ServiceUnavailable":
        io.stderr.write(
          `${what}: no node answered (${error.endpoint}: ${detail}); start the cluster (./scripts/cluster up) or pass --endpoint HOST:PORT\n`,
        );
        return EXIT_UNREACHABLE;
      default:
        io.stderr.write(
          `${what}: ${error.errorName}: ${detail}${error.retriable ? " (retriable: try again)" : ""}\n`,
        );
        return EXIT_FAILURE;
    }
  }
  if (error instanceof SluiceClientError) {
    io.stderr.write(`${what}: ${error.message}\n`);
    return error.code === "INVALID_OPTIONS" ? EXIT_USAGE : EXIT_FAILURE;
  }
  io.stderr.write(`${what}: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_FAILURE;
}

/** Milliseconds since the epoch → ISO 8601, or "" for 0. */
export function isoTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : "";
}
