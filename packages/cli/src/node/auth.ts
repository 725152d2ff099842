/**
 * The node's access control from its configuration: the access keys (file or SLUICE_ACCESS_KEYS),
 * the policy and the audit log are loaded at start, before any port is bound, so a bad file
 * stops the node with one line naming it. While the node runs, the key and policy files are
 * polled (`watchAuthFiles`) and taken again when they change. Also the periodic warning of a
 * node that serves without authentication. And the internal principal's key for the node's own
 * clients (`internalCredentialsOf`).
 */
import { unwatchFile, watchFile } from "node:fs";
import {
  AccessControl,
  AccessKeyStore,
  AuthConfigError,
  authConstants,
  FileAuditLog,
  type InternalCredentials,
  Policy,
} from "@sluice/gateway";
import type { AuthConfig } from "./config.js";
import { StartupError, StartupErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";

/**
 * The AccessControl each node built, by its AuthConfig: how the node's in-process clients, which
 * the host builds from the same NodeConfig, find the internal key (a node process serves one
 * config; in-process test clusters hold several, each found by its own).
 */
const accessControls = new WeakMap<AuthConfig, AccessControl>();

/**
 * The internal principal's key for this node's own clients (see the gateway's
 * internal-principal.ts), made on the first call by the AccessControl `openAccessControl` built
 * for `config`; undefined when authentication is off. The key is not in the key file, so
 * reloading that file (`watchAuthFiles`) never drops it. Error when called before
 * `openAccessControl` with authentication configured (a bug in the wiring).
 */
export function internalCredentialsOf(config: AuthConfig): InternalCredentials | undefined {
  const access = accessControls.get(config);
  if (access === undefined) {
    if (config.keysFile === undefined && config.keysText === undefined) return undefined;
    throw new Error("internalCredentialsOf: no AccessControl was opened for this configuration yet");
  }
  return access.registerInternalPrincipal();
}

/** Builds the node's AccessControl; StartupError INVALID_CONFIG when a file is missing or malformed. */
export function openAccessControl(config: AuthConfig, log: Logger, clock: () => number): AccessControl {
  const access = buildAccessControl(config, log, clock);
  accessControls.set(config, access);
  return access;
}

function buildAccessControl(config: AuthConfig, log: Logger, clock: () => number): AccessControl {
  try {
    const keys = loadKeys(config);
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

/** The configured keys (file, else SLUICE_ACCESS_KEYS), or undefined; AuthConfigError when malformed. */
function loadKeys(config: AuthConfig): AccessKeyStore | undefined {
  if (config.keysFile !== undefined) return AccessKeyStore.fromFile(config.keysFile);
  if (config.keysText !== undefined) return AccessKeyStore.parse(config.keysText, "SLUICE_ACCESS_KEYS");
  return undefined;
}

/**
 * Polls the access-key file and the policy file (fs.watchFile every `pollIntervalMs`, like the
 * TLS files: polling also sees a file replaced by rename or a swapped symlink) and, when either
 * changes, reads both again and hands them to `access.replace`: a new key works and a removed
 * key stops working from the next call, without a restart. Files that do not load (half written,
 * malformed, deleted) are logged with the reason and the previous keys and policy kept; the next
 * change is tried again. Keys given inline (SLUICE_ACCESS_KEYS) are not reloaded. Returns the
 * function that stops polling. Call it only when authentication is on.
 */
export function watchAuthFiles(
  config: AuthConfig,
  access: AccessControl,
  log: Logger,
  pollIntervalMs: number = authConstants.AUTH_RELOAD_POLL_MS,
): () => void {
  const files = [config.keysFile, config.policyFile].filter((file): file is string => file !== undefined);
  let stopped = false;
  const reload = (): void => {
    if (stopped) return;
    try {
      const keys = loadKeys(config);
      if (keys === undefined || config.policyFile === undefined) return;
      // An empty file is most likely one being rewritten; it would lock every client out.
      if (keys.size === 0) throw new Error(`${config.keysFile ?? "SLUICE_ACCESS_KEYS"} holds no keys`);
      const policy = Policy.fromFile(config.policyFile);
      access.replace(keys, policy);
      log.info("access keys and policy reloaded", {
        keys: keys.size,
        principals: keys.principals().length,
      });
    } catch (error) {
      log.error("access keys or policy changed but do not load; keeping the previous ones", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  for (const file of files) watchFile(file, { interval: pollIntervalMs, persistent: false }, reload);
  return () => {
    if (stopped) return;
    stopped = true;
    for (const file of files) unwatchFile(file, reload);
  };
}
