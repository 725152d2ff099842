/**
 * The audit log of control-plane operations: one JSON object per line, appended to a file, for
 * every control-plane operation (CONTROL_PLANE_OPERATIONS) a node serves, whether allowed,
 * denied or failed:
 *
 *   {"time":"2026-11-27T10:00:00.000Z","principal":"admin","via":"sigv4","action":"kinesis:CreateStream",
 *    "stream":"orders","outcome":"ok"}
 *   {"time":"…","principal":"orders-writer","via":"bearer","action":"kinesis:DeleteStream",
 *    "stream":"orders","outcome":"denied","error":"AccessDeniedException"}
 *
 * `outcome` is "ok", "denied" (the policy refused it) or "error" (it ran and failed; `error` is
 * the Kinesis error name). `stream` is absent for operations naming none. Lines are written
 * through one append stream (no fsync): `close()` flushes what is buffered, and the node calls it
 * on shutdown. Each node writes its own file for the calls it served.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { AUDIT_PENDING_BYTES_WARN } from "./constants.js";

export type AuditOutcome = "ok" | "denied" | "error";

/** One audit line. */
export interface AuditEntry {
  /** ISO 8601, ms precision, UTC. */
  readonly time: string;
  readonly principal: string;
  /** How the principal was authenticated: "sigv4", "bearer", "certificate", "internal" or "none". */
  readonly via: string;
  readonly action: string;
  readonly stream?: string;
  readonly outcome: AuditOutcome;
  /** The Kinesis error name, when the outcome is not "ok". */
  readonly error?: string;
}

/** Where audit entries go: the file log below, or anything else (a test's array). */
export interface AuditSink {
  write(entry: AuditEntry): void;
  close(): Promise<void>;
}

export interface FileAuditLogOptions {
  readonly path: string;
  /** Called once if the disk falls behind or the file fails. @default none */
  readonly onProblem?: (message: string, error?: unknown) => void;
}

/** Appends JSON lines to a file (created with its folder when missing, never truncated). */
export class FileAuditLog implements AuditSink {
  readonly path: string;
  readonly #stream: WriteStream;
  readonly #onProblem: (message: string, error?: unknown) => void;
  #warned = false;
  #closed = false;

  constructor(options: FileAuditLogOptions) {
    this.path = options.path;
    this.#onProblem = options.onProblem ?? (() => {});
    mkdirSync(dirname(options.path), { recursive: true });
    this.#stream = createWriteStream(options.path, { flags: "a", mode: 0o600 });
    this.#stream.on("error", (error) => {
      if (this.#warned) return;
      this.#warned = true;
      this.#onProblem(`audit log ${this.path} cannot be written; audit lines are lost`, error);
    });
  }

  write(entry: AuditEntry): void {
    if (this.#closed) return;
    this.#stream.write(`${JSON.stringify(entry)}\n`);
    if (!this.#warned && this.#stream.writableLength > AUDIT_PENDING_BYTES_WARN) {
      this.#warned = true;
      this.#onProblem(
        `audit log ${this.path} is falling behind (over ${AUDIT_PENDING_BYTES_WARN} bytes pending)`,
      );
    }
  }

  /** Writes what is buffered and closes the file; later writes are dropped. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#stream.end(() => resolve()));
  }
}
