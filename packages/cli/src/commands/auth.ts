/**
 * `sluice auth init`: an access key and an admin policy for a cluster with authentication on,
 * written into one directory:
 *
 *   access-keys    ACCESS_KEY_ID:SECRET:admin (mode 0600): the node's --auth-keys
 *   policy.json    the principal "admin" may do everything (kinesis:*, firehose:*, sluice:*): --auth-policy
 *   client.env     SLUICE_ACCESS_KEY_ID=…, SLUICE_SECRET_ACCESS_KEY=…, AWS_ACCESS_KEY_ID=…,
 *                  AWS_SECRET_ACCESS_KEY=… (mode 0600), for clients: `set -a; . client.env`
 *
 * A directory that already holds access-keys is left as it is (exit 0), so an entrypoint may run
 * this on every start; `--force` writes a new key and policy.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { authConstants } from "@sluice/gateway";
import { EXIT_OK, EXIT_USAGE } from "./common.js";

/** The file names `auth init` writes. */
export const ACCESS_KEYS_FILE = "access-keys";
export const POLICY_FILE = "policy.json";
export const CLIENT_ENV_FILE = "client.env";
/** The principal of the key `auth init` makes. */
export const ADMIN_PRINCIPAL = "admin";
/** Access key ids start with this (AWS's start with AKIA), 20 characters in all. */
const ACCESS_KEY_ID_PREFIX = "SLKI";
const ACCESS_KEY_ID_CHARS = 20;
/** Random bytes of a secret: 30, so 40 base64url characters like AWS secrets. */
const SECRET_BYTES = 30;

export const AUTH_HELP = `usage: sluice auth init [options]

Creates an access key and an admin policy for nodes started with --auth-keys and --auth-policy.

options:
  --out DIR            where to write access-keys, policy.json and client.env
                       (default ./auth, or SLUICE_AUTH_DIR)
  --principal NAME     the principal of the key (default ${ADMIN_PRINCIPAL}); the policy lets it do everything
  --force              write a new key and policy even if --out already holds access-keys
  --help               this help
`;

export interface AuthInitOptions {
  readonly outDir: string;
  readonly principal: string;
  readonly force: boolean;
}

/** What `initAuth` wrote. */
export interface AuthInitResult {
  readonly accessKeysFile: string;
  readonly policyFile: string;
  readonly clientEnvFile: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A new access key id: the prefix and random upper-case letters and digits. */
export function newAccessKeyId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = randomBytes(ACCESS_KEY_ID_CHARS - ACCESS_KEY_ID_PREFIX.length);
  let id = ACCESS_KEY_ID_PREFIX;
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

/** A new secret access key: 40 base64url characters. */
export function newSecretAccessKey(): string {
  return randomBytes(SECRET_BYTES).toString("base64url");
}

/** The policy that lets `principal` do everything. */
export function adminPolicy(principal: string): string {
  return `${JSON.stringify(
    {
      principals: {
        [principal]: [
          { effect: "Allow", actions: ["kinesis:*", "firehose:*", "sluice:*"], resources: ["*"] },
        ],
      },
    },
    null,
    2,
  )}\n`;
}

/**
 * Writes a new key, the admin policy and client.env; returns undefined (writing nothing) when the
 * directory already holds access-keys and `force` is off.
 */
export function initAuth(options: AuthInitOptions): AuthInitResult | undefined {
  if (!authConstants.PRINCIPAL_PATTERN.test(options.principal)) {
    throw new RangeError(
      `--principal must be 1 to 128 of [A-Za-z0-9_.@+=-], not ${JSON.stringify(options.principal)}`,
    );
  }
  const dir = resolve(options.outDir);
  const accessKeysFile = join(dir, ACCESS_KEYS_FILE);
  if (existsSync(accessKeysFile) && !options.force) return undefined;
  mkdirSync(dir, { recursive: true });
  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecretAccessKey();
  const policyFile = join(dir, POLICY_FILE);
  const clientEnvFile = join(dir, CLIENT_ENV_FILE);
  writeFileSync(policyFile, adminPolicy(options.principal), { mode: 0o644 });
  writeFileSync(
    clientEnvFile,
    `SLUICE_ACCESS_KEY_ID=${accessKeyId}\nSLUICE_SECRET_ACCESS_KEY=${secretAccessKey}\nAWS_ACCESS_KEY_ID=${accessKeyId}\nAWS_SECRET_ACCESS_KEY=${secretAccessKey}\n`,
    { mode: 0o600 },
  );
  // The key file last: its presence is what marks the directory complete.
  writeFileSync(
    accessKeysFile,
    `# ACCESS_KEY_ID:SECRET:PRINCIPAL, one key a line (sluice auth init)\n${accessKeyId}:${secretAccessKey}:${options.principal}\n`,
    { mode: 0o600 },
  );
  return { accessKeysFile, policyFile, clientEnvFile, accessKeyId, secretAccessKey };
}

export async function runAuthCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let values: { out?: string; principal?: string; force?: boolean; help?: boolean };
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: "string" },
        principal: { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (error) {
    process.stderr.write(`sluice auth: ${(error as Error).message}\n${AUTH_HELP}`);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    process.stdout.write(AUTH_HELP);
    return EXIT_OK;
  }
  if (positionals[0] !== "init" || positionals.length !== 1) {
    process.stderr.write(`sluice auth: expected "init"\n${AUTH_HELP}`);
    return EXIT_USAGE;
  }
  const outDir = values.out ?? env.SLUICE_AUTH_DIR ?? "./auth";
  let result: AuthInitResult | undefined;
  try {
    result = initAuth({
      outDir,
      principal: values.principal ?? ADMIN_PRINCIPAL,
      force: values.force === true,
    });
  } catch (error) {
    process.stderr.write(`sluice auth init: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  if (result === undefined) {
    process.stdout.write(
      `sluice auth init: ${resolve(outDir)} already holds ${ACCESS_KEYS_FILE}; kept (--force writes a new key)\n`,
    );
    return EXIT_OK;
  }
  process.stdout.write(
    `sluice auth init: wrote ${result.accessKeysFile}, ${result.policyFile} and ${result.clientEnvFile}\n` +
      `  nodes:   --auth-keys ${result.accessKeysFile} --auth-policy ${result.policyFile}\n` +
      `  clients: set -a; . ${result.clientEnvFile}; set +a   (access key id ${result.accessKeyId})\n`,
  );
  return EXIT_OK;
}
