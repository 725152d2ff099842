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

/** The definitions a `sluice delivery|analytics` command changes and shows (a DefinitionsStream). */
export interface DefinitionStoreLike<D, I> {
  create(input: I): Promise<D>;
  describe(name: string): Promise<D>;
  refresh(): Promise<ReadonlyMap<string, D>>;
  delete(name: string): Promise<void>;
}

/** What an action beyond create/describe/list/delete (`analytics preview`) is given. */
export interface CommandContext {
  readonly io: Io;
  readonly client: SluiceClient;
  readonly values: Record<string, unknown>;
  readonly positionals: readonly string[];
  readonly json: boolean;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * A command over definitions kept in the cluster (`sluice delivery`, `sluice analytics`): the
 * actions create NAME, describe NAME, list and delete NAME, and any `extraActions`.
 */
export interface DefinitionCommand<D extends { readonly name: string; readonly id: string }, I> {
  /** "sluice delivery": the start of every error line. */
  readonly command: string;
  readonly help: string;
  /** The command's own flags (the common ones are added). */
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  /** "delivery stream", "application": in the lines create and delete print. */
  readonly noun: string;
  /** Without an action: print the help and exit 2 (true), or refuse it as an unknown action (false). */
  readonly helpWithoutAction: boolean;
  /** Checks flags every action shares before connecting; throws UsageError. */
  readonly checkFlags?: (values: Record<string, unknown>) => void;
  readonly openStore: (client: SluiceClient) => DefinitionStoreLike<D, I>;
  /** The input of `create NAME` from the flags; `name()` throws the UsageError of a missing NAME. */
  readonly inputOf: (name: () => string, values: Record<string, unknown>) => I;
  /** What `create` prints after "created <noun> NAME (ID)" (e.g. ": in → out"). @default "" */
  readonly createdDetail?: (definition: D) => string;
  /** One table row of a definition (describe, list). */
  readonly summaryOf: (definition: D) => Record<string, unknown>;
  /** What --json prints of a definition (without secrets). @default the definition */
  readonly printable?: (definition: D) => unknown;
  /** What `describe` prints after the table row. @default nothing */
  readonly describeDetail?: (definition: D) => string;
  readonly extraActions?: Readonly<Record<string, (context: CommandContext) => Promise<number>>>;
  /** The owner's typed errors: printed as "not found" (exit 3), "exists" (exit 5), "refused" (exit 2). */
  readonly errors: {
    readonly notFound: ErrorClass;
    readonly inUse: ErrorClass;
    readonly refused: readonly ErrorClass[];
  };
}

/** Runs `command` for `args` (the action first); returns the exit code. */
export async function runDefinitionCommand<D extends { readonly name: string; readonly id: string }, I>(
  command: DefinitionCommand<D, I>,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io,
): Promise<number> {
  const action = args[0] ?? "";
  const what = `${command.command} ${action}`.trimEnd();
  const extra = Object.keys(command.extraActions ?? {});
  const actions = ["create", "describe", "list", "delete", ...extra];
  try {
    const { values, positionals } = parse(args.slice(1), command.options);
    if (
      values.help === true ||
      args[0] === "--help" ||
      args[0] === "-h" ||
      (command.helpWithoutAction && action === "")
    ) {
      io.stdout.write(command.help);
      return action === "" ? EXIT_USAGE : EXIT_OK;
    }
    const json = values.json === true;
    const name = positionals[0];
    const needName = (): string => {
      if (name === undefined || positionals.length !== 1) throw new UsageError(`expected: ${action} NAME`);
      return name;
    };
    command.checkFlags?.(values);
    const printable = command.printable ?? ((definition: D) => definition);
    const client = createClient(values, env);
    try {
      const store = command.openStore(client);
      switch (action) {
        case "create": {
          const definition = await store.create(command.inputOf(needName, values));
          if (json) printJson(io, printable(definition));
          else
            io.stdout.write(
              `created ${command.noun} ${definition.name} (${definition.id})${command.createdDetail?.(definition) ?? ""}\n`,
            );
          return EXIT_OK;
        }
        case "describe": {
          const definition = await store.describe(needName());
          if (json) printJson(io, printable(definition));
          else {
            printTable(io, [command.summaryOf(definition)]);
            if (command.describeDetail !== undefined) io.stdout.write(command.describeDetail(definition));
          }
          return EXIT_OK;
        }
        case "list": {
          if (positionals.length !== 0) throw new UsageError("expected: list");
          const definitions = [...(await store.refresh()).values()].sort((a, b) =>
            a.name.localeCompare(b.name),
          );
          if (json) printJson(io, definitions.map(printable));
          else printTable(io, definitions.map(command.summaryOf));
          return EXIT_OK;
        }
        case "delete":
          await store.delete(needName());
          if (json) printJson(io, { deleted: name });
          else io.stdout.write(`deleted ${command.noun} ${name}\n`);
          return EXIT_OK;
        default: {
          const run = command.extraActions?.[action];
          if (run === undefined)
            throw new UsageError(`expected: ${actions.slice(0, -1).join(", ")} or ${actions.at(-1)}`);
          return await run({ io, client, values, positionals, json });
        }
      }
    } finally {
      client.close();
    }
  } catch (error) {
    if (error instanceof command.errors.notFound) {
      io.stderr.write(`${what}: not found: ${error.message}\n`);
      return EXIT_NOT_FOUND;
    }
    if (error instanceof command.errors.inUse) {
      io.stderr.write(`${what}: exists: ${error.message}\n`);
      return EXIT_BUSY;
    }
    if (command.errors.refused.some((refused) => error instanceof refused)) {
      io.stderr.write(`${what}: refused: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    return reportError(io, what, error, command.help);
  }
}
