/**
 * `sluice put STREAM [RECORD…]`: writes records through the SDK's batching producer. Records are
 * the arguments, or stdin's lines when there are none (or RECORD is "-"). Each record's partition
 * key comes from --key (one key for all) or --key-template, whose placeholders are {n} (the
 * record's number, from 0), {line} (the record's text) and {json.FIELD} (a field of the record
 * parsed as JSON, dotted for nested fields). Records of one key are written in order.
 */
import { createInterface } from "node:readline";
import type { ProducerResult } from "@sluice/client";
import type { SluiceClient } from "./client-proto.js";
import {
  COMMON_OPTIONS_HELP,
  createClient,
  EXIT_CODES_HELP,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  parse,
  printJson,
  printTable,
  processIo,
  reportError,
  UsageError,
} from "./common.js";

export const PUT_HELP = `usage: sluice put STREAM [RECORD...] [options]

Writes RECORDs (or, without any, each line of stdin) to STREAM with the batching producer.

options:
  --key KEY              the partition key of every record
  --key-template TPL     a partition key per record: {n} = record number, {line} = the record,
                         {json.FIELD} = a field of the record parsed as JSON (default "{n}")
${COMMON_OPTIONS_HELP}

examples:
  sluice put orders '{"id":1}' '{"id":2}' --key customer-7
  seq 1 100000 | sluice put orders --key-template 'user-{n}'
  cat events.jsonl | sluice put orders --key-template '{json.user.id}' --json

A progress bar is drawn on stderr while reading stdin when stderr is a terminal.
${EXIT_CODES_HELP}
`;

const OPTIONS = {
  key: { type: "string" },
  "key-template": { type: "string" },
} as const;

const PROGRESS_INTERVAL_MS = 200;

/** Compiles a key template into a function of (record number, record text). */
export function compileKeyTemplate(template: string): (n: number, line: string) => string {
  const parts: ((n: number, line: string) => string)[] = [];
  const pattern = /\{([^}]*)\}/g;
  let last = 0;
  for (let match = pattern.exec(template); match !== null; match = pattern.exec(template)) {
    const literal = template.slice(last, match.index);
    if (literal !== "") parts.push(() => literal);
    const name = match[1] ?? "";
    if (name === "n") parts.push((n) => String(n));
    else if (name === "line") parts.push((_, line) => line);
    else if (name.startsWith("json.") && name.length > 5) {
      const path = name.slice(5).split(".");
      parts.push((n, line) => {
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          throw new UsageError(`record ${n} is not JSON, so {${name}} cannot be read from it`);
        }
        for (const field of path) value = (value as Record<string, unknown> | null)?.[field];
        if (value === undefined || value === null)
          throw new UsageError(`record ${n} has no field ${path.join(".")} for {${name}}`);
        return typeof value === "string" ? value : JSON.stringify(value);
      });
    } else
      throw new UsageError(`--key-template: unknown placeholder {${name}}; use {n}, {line} or {json.FIELD}`);
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  if (tail !== "") parts.push(() => tail);
  if (parts.length === 0) throw new UsageError("--key-template must not be empty");
  return (n, line) => {
    let key = "";
    for (const part of parts) key += part(n, line);
    return key;
  };
}

export async function runPutCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  const what = "sluice put";
  let client: SluiceClient | undefined;
  try {
    const { values, positionals } = parse(args, OPTIONS);
    if (values.help === true) {
      io.stdout.write(PUT_HELP);
      return EXIT_OK;
    }
    const [streamName, ...records] = positionals;
    if (streamName === undefined) throw new UsageError("expected STREAM");
    if (values.key !== undefined && values["key-template"] !== undefined)
      throw new UsageError("give --key or --key-template, not both");
    const fixedKey = values.key as string | undefined;
    if (fixedKey === "") throw new UsageError("--key must not be empty");
    const template =
      fixedKey === undefined
        ? compileKeyTemplate((values["key-template"] as string | undefined) ?? "{n}")
        : undefined;
    const keyOf = (n: number, line: string): string =>
      fixedKey ?? (template as (n: number, line: string) => string)(n, line);
    const json = values.json === true;
    client = createClient(values, env);
    const producer = client.producer({ streamName });
    const fromStdin = records.length === 0 || (records.length === 1 && records[0] === "-");
    const results: Promise<void>[] = [];
    const rows: Record<string, unknown>[] = [];
    let acknowledged = 0;
    let failed = 0;
    let firstError: unknown;
    const startedAt = Date.now();
    const progress =
      fromStdin && io.stderr.isTTY === true
        ? new Progress(io, () => ({ acknowledged, failed, startedAt }))
        : undefined;
    const sendOne = async (n: number, line: string): Promise<void> => {
      const partitionKey = keyOf(n, line);
      await producer.waitForSpace();
      results.push(
        producer.send({ partitionKey, data: line }).then(
          (result: ProducerResult) => {
            acknowledged++;
            if (!fromStdin || json)
              rows.push({ n, partitionKey, shardId: result.shardId, sequenceNumber: result.sequenceNumber });
          },
          (error: unknown) => {
            failed++;
            firstError ??= error;
          },
        ),
      );
    };
    if (fromStdin) {
      const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      let n = 0;
      for await (const line of lines) {
        if (line === "") continue;
        await sendOne(n++, line);
      }
    } else {
      for (const [n, record] of records.entries()) await sendOne(n, record);
    }
    await producer.close();
    await Promise.all(results);
    progress?.stop();
    rows.sort((a, b) => (a.n as number) - (b.n as number));
    const seconds = (Date.now() - startedAt) / 1_000;
    if (json) for (const row of rows) printJson(io, row);
    else if (!fromStdin) printTable(io, rows);
    if (fromStdin && !json) {
      printTable(io, [
        {
          records: acknowledged,
          failed,
          seconds: seconds.toFixed(1),
          "records/s": Math.round(acknowledged / Math.max(seconds, 0.001)),
        },
      ]);
    }
    if (failed > 0) {
      io.stderr.write(
        `${what}: ${failed} record(s) were not written; first error: ${firstError instanceof Error ? firstError.message : String(firstError)}\n`,
      );
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } catch (error) {
    return reportError(io, what, error, PUT_HELP);
  } finally {
    client?.close();
  }
}

/** A one-line progress bar on stderr (only drawn on a terminal). */
class Progress {
  readonly #timer: NodeJS.Timeout;
  readonly #io: Io;
  readonly #read: () => { acknowledged: number; failed: number; startedAt: number };

  constructor(io: Io, read: () => { acknowledged: number; failed: number; startedAt: number }) {
    this.#io = io;
    this.#read = read;
    this.#timer = setInterval(() => this.#draw(), PROGRESS_INTERVAL_MS);
  }

  #draw(): void {
    const { acknowledged, failed, startedAt } = this.#read();
    const seconds = Math.max((Date.now() - startedAt) / 1_000, 0.001);
    const rate = Math.round(acknowledged / seconds);
    const spinner = "|/-\\"[Math.floor(seconds * 5) % 4];
    this.#io.stderr.write(
      `\r${spinner} ${acknowledged} written, ${failed} failed, ${rate} records/s, ${seconds.toFixed(0)} s   `,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#draw();
    this.#io.stderr.write("\n");
  }
}
