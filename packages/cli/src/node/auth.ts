/**
 * The node's access control from its configuration: the access keys (file or SLUICE_ACCESS_KEYS),
 * the policy and the audit log are loaded once at start, before any port is bound, so a bad file
 * stops the node with one line naming it. Also the periodic warning of a node that serves without
 * authentication.
 */
import { AccessControl, AccessKeyStore, AuthConfigError, FileAuditLog, Policy } from "@sluice/gateway";
import type { AuthConfig } from "./config.js";
import { StartupError, StartupErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";

/** Builds the node's AccessControl; StartupError INVALID_CONFIG when a file is missing or malformed. */
export function openAccessControl(config: AuthConfig, log: Logger, clock: () => number): AccessControl {
  try {
    const keys =
      config.keysFile !== undefined
        ? AccessKeyStore.fromFile(config.keysFile)
        : config.keysText !== undefined
          ? AccessKeyStore.parse(config.keysText, "SLUICE_ACCESS_KEYS")
          : undefined;
    const policy = config.policyFile === undefined ? undefined : Policy.fromFile(config.policyFile);
    const audit =
      config.auditLogFile === undefined
        ? undefined
        : new FileAuditLog({
            path: config.auditLogFile,
            onProblem: (message, error) => log.error(message, { error: String(error ?? "") }),
          });
    return new AccessControl({
      clock,
      ...(keys === undefined ? {} : { keys }),
      ...(policy === undefined ? {} : { policy }),
      ...(audit === undefined ? {} : { audit }),
    });
  } catch (error) {
    if (error instanceof AuthConfigError) {
      throw new StartupError(StartupErrorCode.InvalidConfig, error.message, { cause: error });
    }
    throw new StartupError(
      StartupErrorCode.InvalidConfig,
      `the audit log ${config.auditLogFile ?? ""} cannot be opened (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
}

/**
 * Logs, now and every `intervalMs` until the returned function is called, that the node serves
 * without authentication. Returns the function that stops it.
 */
export function warnWhileInsecure(log: Logger, intervalMs: number, explicit: boolean): () => void {
  const warn = () =>
    log.warn(
      "authentication is off: anyone who reaches this node's ports can read, write and delete streams",
      {
        mode: explicit ? "--insecure" : "no --auth-keys",
        fix: "sluice auth init, then start the node with --auth-keys and --auth-policy",
      },
    );
  warn();
  const timer = setInterval(warn, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
