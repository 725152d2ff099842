/**
 * The error of a bad access-key or policy file (or SLUICE_ACCESS_KEYS): raised when the node
 * loads its configuration, before it serves anything. Never reaches a client.
 */

export const AuthConfigErrorCode = {
  /** The file or variable is not in a format described in docs/security.md, or a value breaks a rule. */
  Invalid: "AUTH_CONFIG_INVALID",
  /** The file cannot be read (missing, unreadable, too large). */
  Unreadable: "AUTH_CONFIG_UNREADABLE",
} as const;
export type AuthConfigErrorCode = (typeof AuthConfigErrorCode)[keyof typeof AuthConfigErrorCode];

/** The message names the file (or variable), the line or entry at fault, and the rule it breaks. */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
  readonly code: AuthConfigErrorCode;
  readonly retriable = false;
  constructor(code: AuthConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
