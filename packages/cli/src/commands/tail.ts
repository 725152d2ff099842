/**
 * `sluice tail STREAM`: prints a stream's records as they arrive, across reshards (the SDK's
 * StreamReader: parents before children), one JSON line per record with --json or a readable
 * line otherwise. Ctrl-C ends it with exit 0.
 */
import { AbortedError, type StartPosition } from "@sluice/client";
import type { SluiceClient } from "./client-proto.js";
import {
  COMMON_OPTIONS_HELP,
  createClient,
  EXIT_CODES_HELP,
  EXIT_OK,
  type Io,
  parse,
  positiveInteger,
  printJson,
  processIo,
  reportError,
  UsageError,
} from "./common.js";

export const TAIL_HELP = `usage: sluice tail STREAM [options]

Prints STREAM's records as they arrive, every shard, parents before children across reshards.

options:
  --from POSITION        LATEST (default), TRIM_HORIZON or AT_TIMESTAMP
  --timestamp TIME       with AT_TIMESTAMP: ISO 8601 or milliseconds since the epoch
  --no-follow            stop once every shard is read to its tip instead of waiting for more
  --max N                stop after N records
${COMMON_OPTIONS_HELP}

examples:
  sluice tail orders
  sluice tail orders --from TRIM_HORIZON --no-follow --json > orders.jsonl
  sluice tail orders --from AT_TIMESTAMP --timestamp 2025-01-31T12:00:00Z

--json prints {"shardId","sequenceNumber","partitionKey","approximateArrivalTimestamp","data"}
per line; data is the record's text when it is UTF-8, else base64 with "dataEncoding":"base64".
${EXIT_CODES_HELP}
`;

const OPTIONS = {
  from: { type: "string", default: "LATEST" },
  timestamp: { type: "string" },
  "no-follow": { type: "boolean", default: false },
  max: { type: "string" },
} as const;

export async function runTailCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  const what = "sluice tail";
  let client: SluiceClient | undefined;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const { values, positionals } = parse(args, OPTIONS);
    if (values.help === true) {
      io.stdout.write(TAIL_HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError("expected STREAM");
    const streamName = positionals[0] as string;
    const from = String(values.from).toUpperCase();
    let start: StartPosition;
    if (from === "LATEST" || from === "TRIM_HORIZON") start = { type: from };
    else if (from === "AT_TIMESTAMP") {
      const text = values.timestamp as string | undefined;
      if (text === undefined) throw new UsageError("--from AT_TIMESTAMP needs --timestamp TIME");
      const timestamp = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (!Number.isFinite(timestamp))
        throw new UsageError(`--timestamp: cannot read ${JSON.stringify(text)} as ISO 8601 or epoch ms`);
      start = { type: "AT_TIMESTAMP", timestamp };
    } else
      throw new UsageError(
        `--from must be LATEST, TRIM_HORIZON or AT_TIMESTAMP, not ${JSON.stringify(values.from)}`,
      );
    const max = values.max === undefined ? Number.POSITIVE_INFINITY : positiveInteger("--max", values.max);
    const json = values.json === true;
    client = createClient(values, env);
    // Fail fast with "not found" before following.
    await client.describeStreamSummary({ streamName });
    const reader = client.streamReader({
      streamName,
      start,
      follow: values["no-follow"] !== true,
      signal: stop.signal,
    });
    let count = 0;
    for await (const record of reader) {
      const text = decodeUtf8(record.data);
      if (json) {
        printJson(io, {
          shardId: record.shardId,
          sequenceNumber: record.sequenceNumber,
          partitionKey: record.partitionKey,
          approximateArrivalTimestamp: record.approximateArrivalTimestamp,
          data: text ?? record.data.toString("base64"),
          ...(text === undefined ? { dataEncoding: "base64" } : {}),
        });
      } else {
        const time = new Date(record.approximateArrivalTimestamp).toISOString();
        const shown = text ?? `base64:${record.data.toString("base64")}`;
        io.stdout.write(`${time}  ${record.shardId}  ${record.partitionKey}  ${shown}\n`);
      }
      if (++count >= max) break;
    }
    return EXIT_OK;
  } catch (error) {
    if (error instanceof AbortedError && stop.signal.aborted) return EXIT_OK;
    return reportError(io, what, error, TAIL_HELP);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    client?.close();
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The record's text when it is valid UTF-8 without control characters other than tab; else undefined. */
function decodeUtf8(data: Uint8Array): string | undefined {
  try {
    const text = decoder.decode(data);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
    return /[\u0000-\u0008\u000a-\u001f\u007f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}
