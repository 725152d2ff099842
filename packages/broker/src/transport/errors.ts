/**
 * Typed errors of the peer transport. Each has a stable `code` from `TransportErrorCode` and says
 * whether retrying can succeed. None of them escapes to the host from `send`: a frame that fails
 * to decode closes the stream it came on, and the peer reconnects.
 */
export const TransportErrorCode = {
  /** A received frame is malformed (truncated, out of range, trailing bytes, bad checksum). */
  FrameCorrupt: "FRAME_CORRUPT",
  /** A received frame was written by a codec version this node does not speak. */
  FrameVersionUnsupported: "FRAME_VERSION_UNSUPPORTED",
  /** A frame to encode (or one received) is larger than the configured limit. */
  FrameTooLarge: "FRAME_TOO_LARGE",
  /** The options given to a transport are invalid; the message says which and why. */
  InvalidOptions: "INVALID_OPTIONS",
  /** The transport was closed. */
  Closed: "TRANSPORT_CLOSED",
} as const;
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

export class TransportError extends Error {
  override readonly name: string = "TransportError";
  readonly code: TransportErrorCode;
  readonly retriable: boolean;
  constructor(code: TransportErrorCode, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = retriable;
  }
}

export class FrameCorruptError extends TransportError {
  override readonly name = "FrameCorruptError";
  /** Byte offset in the frame where decoding failed. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(TransportErrorCode.FrameCorrupt, `corrupt peer frame at byte ${offset}: ${message}`, false);
    this.offset = offset;
  }
}

export class FrameVersionUnsupportedError extends TransportError {
  override readonly name = "FrameVersionUnsupportedError";
  readonly version: number;
  constructor(version: number, supported: number) {
    super(
      TransportErrorCode.FrameVersionUnsupported,
      `peer frame version ${version} is not supported (this node speaks version ${supported})`,
      false,
    );
    this.version = version;
  }
}

export class FrameTooLargeError extends TransportError {
  override readonly name = "FrameTooLargeError";
  constructor(bytes: number, limitBytes: number) {
    super(
      TransportErrorCode.FrameTooLarge,
      `peer frame of ${bytes} bytes exceeds the limit of ${limitBytes} bytes`,
      false,
    );
  }
}

export class InvalidTransportOptionsError extends TransportError {
  override readonly name = "InvalidTransportOptionsError";
  constructor(message: string) {
    super(TransportErrorCode.InvalidOptions, `invalid peer transport options: ${message}`, false);
  }
}

export class TransportClosedError extends TransportError {
  override readonly name = "TransportClosedError";
  constructor() {
    super(TransportErrorCode.Closed, "the peer transport is closed", false);
  }
}
