/**
 * `sluice analytics create|list|describe|delete|preview`: stream analytics applications (the
 * Analytics part), kept in the cluster's definitions stream through @sluice/analytics'
 * ApplicationStore. Every node follows the applications and one runs each; these commands only
 * change and show the definitions, except `preview`, which runs a query here, over the stream's
 * new records, and prints its first results as they come (writing nothing).
 */
import {
  type ApplicationDefinition,
  type ApplicationInput,
  ApplicationInUseError,
  ApplicationNotFoundError,
  ApplicationStore,
  InvalidApplicationError,
  InvalidSqlError,
  previewQuery,
  UnsupportedSqlError,
} from "@sluice/analytics";
import {
  COMMON_OPTIONS_HELP,
  type CommandContext,
  type DefinitionCommand,
  EXIT_CODES_HELP,
  EXIT_OK,
  type Io,
  isoTime,
  positiveInteger,
  processIo,
  runDefinitionCommand,
  UsageError,
} from "./common.js";

/** Rows `preview` prints unless --rows says otherwise. */
const PREVIEW_ROWS_DEFAULT = 20;

export const ANALYTICS_HELP = `usage: sluice analytics create NAME --sql SQL --output STREAM [--lateness-ms N]
       sluice analytics describe NAME
       sluice analytics list
       sluice analytics delete NAME
       sluice analytics preview --sql SQL [--rows N] [--from-start] [--lateness-ms N]

An application runs one SQL query continuously over the stream its FROM names and writes each
result row, as JSON, to --output (created ON_DEMAND when missing; a delivery stream reading that
stream delivers the results further). One node runs it at a time; another takes over when that
node dies, and every window is written exactly once.

SQL: SELECT … FROM stream [WHERE …] [GROUP BY TUMBLE(time, INTERVAL 'n' UNIT) | HOP(time,
INTERVAL slide, INTERVAL size) [, keys]] with COUNT, SUM, MIN, MAX, AVG, COUNT(DISTINCT …).
time is approximate_arrival_time (or ROWTIME) or a JSON field (ms since the epoch or ISO-8601).
See docs/analytics.md.

options:
  --sql SQL              the query
  --output STREAM        create: where results go
  --lateness-ms N        how late (behind the newest time seen) a record may come and still count (default 0)
  --rows N               preview: stop after N rows (default ${PREVIEW_ROWS_DEFAULT})
  --from-start           preview: read the stream from its oldest record, not only new ones
${COMMON_OPTIONS_HELP}

examples:
  sluice analytics create clicks-per-minute --output clicks-per-minute \\
    --sql "SELECT page, COUNT(*) AS clicks FROM clicks GROUP BY TUMBLE(approximate_arrival_time, INTERVAL '1' MINUTE), page"
  sluice analytics preview --sql "SELECT customer, amount FROM orders WHERE amount > 100"
${EXIT_CODES_HELP}
`;

const OPTIONS = {
  sql: { type: "string" },
  output: { type: "string" },
  "lateness-ms": { type: "string" },
  rows: { type: "string" },
  "from-start": { type: "boolean", default: false },
} as const;

export async function runAnalyticsCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  return runDefinitionCommand(ANALYTICS_COMMAND, args, env, io);
}

const ANALYTICS_COMMAND: DefinitionCommand<ApplicationDefinition, ApplicationInput> = {
  command: "sluice analytics",
  help: ANALYTICS_HELP,
  options: OPTIONS,
  noun: "application",
  helpWithoutAction: true,
  checkFlags: allowedLatenessMsOf,
  openStore: (client) => new ApplicationStore({ client }),
  inputOf: (name, values) => {
    const sql = values.sql as string | undefined;
    const output = values.output as string | undefined;
    if (sql === undefined || output === undefined) throw new UsageError("create needs --sql and --output");
    return { name: name(), sql, outputStream: output, allowedLatenessMs: allowedLatenessMsOf(values) };
  },
  createdDetail: (definition) => `: ${definition.inputStream} → ${definition.outputStream}`,
  summaryOf,
  describeDetail: (definition) => `sql: ${definition.sql}\n`,
  extraActions: { preview },
  errors: {
    notFound: ApplicationNotFoundError,
    inUse: ApplicationInUseError,
    refused: [UnsupportedSqlError, InvalidSqlError, InvalidApplicationError],
  },
};

/** --lateness-ms: a whole number of ms, 0 when not given. */
function allowedLatenessMsOf(values: Record<string, unknown>): number {
  const lateness = values["lateness-ms"] as string | undefined;
  if (lateness !== undefined && !/^\d+$/.test(lateness))
    throw new UsageError("--lateness-ms must be a whole number");
  return lateness === undefined ? 0 : Number(lateness);
}

/** `preview --sql SQL`: runs the query here over the stream's records and prints its first rows. */
async function preview({ io, client, values, positionals, json }: CommandContext): Promise<number> {
  if (positionals.length !== 0) throw new UsageError("expected: preview --sql SQL");
  const sql = values.sql as string | undefined;
  if (sql === undefined) throw new UsageError("preview needs --sql");
  const rows = values.rows === undefined ? PREVIEW_ROWS_DEFAULT : positiveInteger("--rows", values.rows);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  let printed = 0;
  try {
    if (!json) io.stderr.write(`preview: waiting for results (${rows} rows; Ctrl-C stops)\n`);
    await previewQuery({
      client,
      sql,
      allowedLatenessMs: allowedLatenessMsOf(values),
      start: values["from-start"] === true ? "TRIM_HORIZON" : "LATEST",
      signal: abort.signal,
      onRow: (row) => {
        io.stdout.write(`${JSON.stringify(row)}\n`);
        printed += 1;
        return printed < rows;
      },
    });
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
  return EXIT_OK;
}

function summaryOf(definition: ApplicationDefinition): Record<string, unknown> {
  return {
    name: definition.name,
    input: definition.inputStream,
    output: definition.outputStream,
    latenessMs: definition.allowedLatenessMs,
    created: isoTime(definition.createdAtMs),
  };
}
