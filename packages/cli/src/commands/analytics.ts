/**
 * `sluice analytics create|list|describe|delete|preview`: stream analytics applications (the
 * Analytics part), kept in the cluster's definitions stream through @sluice/analytics'
 * ApplicationStore. Every node follows the applications and one runs each; these commands only
 * change and show the definitions, except `preview`, which runs a query here, over the stream's
 * new records, and prints its first results as they come (writing nothing).
 */
import {
  type ApplicationDefinition,
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
  createClient,
  EXIT_BUSY,
  EXIT_CODES_HELP,
  EXIT_NOT_FOUND,
  EXIT_OK,
  EXIT_USAGE,
  type Io,
  isoTime,
  parse,
  positiveInteger,
  printJson,
  printTable,
  processIo,
  reportError,
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
  const action = args[0] ?? "";
  const what = `sluice analytics ${action}`.trimEnd();
  try {
    const { values, positionals } = parse(args.slice(1), OPTIONS);
    if (values.help === true || args[0] === "--help" || args[0] === "-h" || action === "") {
      io.stdout.write(ANALYTICS_HELP);
      return action === "" ? EXIT_USAGE : EXIT_OK;
    }
    const json = values.json === true;
    const name = positionals[0];
    const needName = (): string => {
      if (name === undefined || positionals.length !== 1) throw new UsageError(`expected: ${action} NAME`);
      return name;
    };
    const lateness = values["lateness-ms"] as string | undefined;
    const allowedLatenessMs = lateness === undefined ? 0 : Number(lateness);
    if (lateness !== undefined && !/^\d+$/.test(lateness))
      throw new UsageError("--lateness-ms must be a whole number");
    const client = createClient(values, env);
    try {
      const store = new ApplicationStore({ client });
      switch (action) {
        case "create": {
          const sql = values.sql as string | undefined;
          const output = values.output as string | undefined;
          if (sql === undefined || output === undefined)
            throw new UsageError("create needs --sql and --output");
          const definition = await store.create({
            name: needName(),
            sql,
            outputStream: output,
            allowedLatenessMs,
          });
          if (json) printJson(io, definition);
          else
            io.stdout.write(
              `created application ${definition.name} (${definition.id}): ${definition.inputStream} → ${definition.outputStream}\n`,
            );
          return EXIT_OK;
        }
        case "describe": {
          const definition = await store.describe(needName());
          if (json) printJson(io, definition);
          else {
            printTable(io, [summaryOf(definition)]);
            io.stdout.write(`sql: ${definition.sql}\n`);
          }
          return EXIT_OK;
        }
        case "list": {
          if (positionals.length !== 0) throw new UsageError("expected: list");
          const definitions = [...(await store.refresh()).values()].sort((a, b) =>
            a.name.localeCompare(b.name),
          );
          if (json) printJson(io, definitions);
          else printTable(io, definitions.map(summaryOf));
          return EXIT_OK;
        }
        case "delete":
          await store.delete(needName());
          if (json) printJson(io, { deleted: name });
          else io.stdout.write(`deleted application ${name}\n`);
          return EXIT_OK;
        case "preview": {
          if (positionals.length !== 0) throw new UsageError("expected: preview --sql SQL");
          const sql = values.sql as string | undefined;
          if (sql === undefined) throw new UsageError("preview needs --sql");
          const rows =
            values.rows === undefined ? PREVIEW_ROWS_DEFAULT : positiveInteger("--rows", values.rows);
          const abort = new AbortController();
          const onSignal = (): void => abort.abort();
          process.once("SIGINT", onSignal);
          let printed = 0;
          try {
            if (!json) io.stderr.write(`preview: waiting for results (${rows} rows; Ctrl-C stops)\n`);
            await previewQuery({
              client,
              sql,
              allowedLatenessMs,
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
        default:
          throw new UsageError("expected: create, describe, list, delete or preview");
      }
    } finally {
      client.close();
    }
  } catch (error) {
    if (error instanceof ApplicationNotFoundError) {
      io.stderr.write(`${what}: not found: ${error.message}\n`);
      return EXIT_NOT_FOUND;
    }
    if (error instanceof ApplicationInUseError) {
      io.stderr.write(`${what}: exists: ${error.message}\n`);
      return EXIT_BUSY;
    }
    if (
      error instanceof UnsupportedSqlError ||
      error instanceof InvalidSqlError ||
      error instanceof InvalidApplicationError
    ) {
      io.stderr.write(`${what}: refused: ${error.message}\n`);
      return EXIT_USAGE;
    }
    return reportError(io, what, error, ANALYTICS_HELP);
  }
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
