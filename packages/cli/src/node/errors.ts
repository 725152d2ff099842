/**
 * Why a node refused to start. Each condition has a stable code; the message is one line that
 * names the flag or the path at fault and what to do, because it is all the operator sees.
 */
export const StartupErrorCode = {
  /** A flag or environment variable is missing, malformed or out of range. */
  InvalidConfig: "INVALID_CONFIG",
  /** The peer list is missing, malformed, lacks this node, or names a node or address twice. */
  InvalidPeers: "INVALID_PEERS",
  /** The data directory cannot be created or written. */
  DataDirNotWritable: "DATA_DIR_NOT_WRITABLE",
  /** Another process has the data directory open. */
  DataDirLocked: "DATA_DIR_LOCKED",
  /** The data directory belongs to another node id or another cluster. */
  DataDirForeign: "DATA_DIR_FOREIGN",
  /** A listen address is taken by another process, or cannot be bound on this machine. */
  PortUnavailable: "PORT_UNAVAILABLE",
} as const;
export type StartupErrorCode = (typeof StartupErrorCode)[keyof typeof StartupErrorCode];

export class StartupError extends Error {
  override readonly name = "StartupError";
  readonly code: StartupErrorCode;
  /** A configuration error does not go away by retrying; a locked directory or port may. */
  readonly retriable: boolean;
  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}
