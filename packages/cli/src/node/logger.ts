/**
 * Structured logs: one JSON object per line on stderr, with the time, the level, the node and
 * its zone, the message and any fields. Log shippers read them as they are; `jq` makes them
 * readable. Writes are synchronous so that the last lines before a crash are not lost.
 */
import { writeSync } from "node:fs";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  readonly level: LogLevel;
  /** Fields written on every line, such as `node` and `zone`. */
  readonly base: LogFields;
  /** The file descriptor to write to. @default 2 (stderr) */
  readonly fd?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export function createJsonLogger(options: JsonLoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const fd = options.fd ?? 2;
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const line = JSON.stringify(
      { ts: new Date(now()).toISOString(), level, ...options.base, msg, ...fields },
      replacer,
    );
    try {
      writeSync(fd, `${line}\n`);
    } catch {
      // stderr closed (the parent went away): logs are best effort, never a reason to crash.
    }
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}

/** Errors become { name, code, message }; bigints become strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}
