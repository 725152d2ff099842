/**
 * The authorization policy: which principal may run which actions on which streams. A JSON file
 * (`--auth-policy`):
 *
 *   {
 *     "principals": {
 *       "orders-writer": [
 *         { "effect": "Allow", "actions": ["kinesis:PutRecord", "kinesis:PutRecords"], "resources": ["orders-*"] }
 *       ],
 *       "admin": [{ "effect": "Allow", "actions": ["kinesis:*", "sluice:*"], "resources": ["*"] }],
 *       "*": [{ "effect": "Deny", "actions": ["kinesis:DeleteStream"], "resources": ["prod-*"] }]
 *     }
 *   }
 *
 * Statements of the principal and of "*" (every authenticated principal) apply. An action is
 * allowed when some Allow statement matches and no Deny statement does: an explicit Deny wins,
 * and anything not allowed is denied. Actions are IAM action names (`kinesis:PutRecords`,
 * `sluice:JoinGroup`), matched case-insensitively, with `*` and `?` wildcards (`kinesis:Get*`).
 * Resources are stream-name globs (`orders-*`) or stream ARNs (`arn:aws:kinesis:*:*:stream/orders-*`,
 * and for delivery streams `arn:aws:firehose:*:*:deliverystream/logs-*`);
 * an operation that names no stream (ListStreams, DescribeLimits) matches only the resource `*`.
 */
import { AuthConfigError, AuthConfigErrorCode } from "./config-error.js";
import { POLICY_STATEMENTS_MAX, PRINCIPAL_PATTERN } from "./constants.js";
import { readAuthFile } from "./credentials.js";

export type PolicyEffect = "Allow" | "Deny";

/** One statement as written in the file. */
export interface PolicyStatement {
  readonly effect: PolicyEffect;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

/** What evaluation decided, and why (for the error message and the audit log). */
export type PolicyDecision = "allow" | "explicit-deny" | "implicit-deny";

/** The principal key whose statements apply to every principal. */
export const EVERY_PRINCIPAL = "*";

interface CompiledStatement {
  readonly allow: boolean;
  readonly actions: readonly RegExp[];
  /** Stream-name globs; "*" alone also matches operations with no stream. */
  readonly resources: readonly RegExp[];
  readonly anyResource: boolean;
}

export class Policy {
  readonly #byPrincipal: ReadonlyMap<string, readonly CompiledStatement[]>;

  constructor(principals: Readonly<Record<string, readonly PolicyStatement[]>>, source = "policy") {
    const compiled = new Map<string, CompiledStatement[]>();
    let total = 0;
    for (const [principal, statements] of Object.entries(principals)) {
      if (principal !== EVERY_PRINCIPAL && !PRINCIPAL_PATTERN.test(principal)) {
        throw invalid(
          `${source}: principal ${JSON.stringify(principal)} must be "*" or 1 to 128 of [A-Za-z0-9_.@+=-]`,
        );
      }
      if (!Array.isArray(statements))
        throw invalid(`${source}: principals.${principal} must be an array of statements`);
      total += statements.length;
      if (total > POLICY_STATEMENTS_MAX)
        throw invalid(`${source}: more than ${POLICY_STATEMENTS_MAX} statements`);
      compiled.set(
        principal,
        statements.map((statement, index) =>
          compile(statement, `${source}: principals.${principal}[${index}]`),
        ),
      );
    }
    this.#byPrincipal = compiled;
  }

  /** Parses the JSON format (see the module comment). */
  static parse(text: string, source: string): Policy {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw invalid(`${source} is not valid JSON (${(error as Error).message})`);
    }
    const principals = (document as { principals?: unknown } | null)?.principals;
    if (principals === null || typeof principals !== "object" || Array.isArray(principals)) {
      throw invalid(`${source}: expected {"principals": {"<principal>": [statements]}}`);
    }
    return new Policy(principals as Record<string, PolicyStatement[]>, source);
  }

  static fromFile(path: string): Policy {
    return Policy.parse(readAuthFile(path, "policy file"), path);
  }

  /** The principals the policy names (without "*"). */
  principals(): string[] {
    return [...this.#byPrincipal.keys()].filter((name) => name !== EVERY_PRINCIPAL);
  }

  /** Whether `principal` may run `action` on `stream` (undefined: an operation naming no stream). */
  evaluate(principal: string, action: string, stream: string | undefined): PolicyDecision {
    let allowed = false;
    for (const statements of [this.#byPrincipal.get(principal), this.#byPrincipal.get(EVERY_PRINCIPAL)]) {
      for (const statement of statements ?? []) {
        if (!statement.actions.some((pattern) => pattern.test(action))) continue;
        const matches =
          stream === undefined
            ? statement.anyResource
            : statement.resources.some((pattern) => pattern.test(stream));
        if (!matches) continue;
        if (!statement.allow) return "explicit-deny";
        allowed = true;
      }
    }
    return allowed ? "allow" : "implicit-deny";
  }
}

function compile(statement: PolicyStatement, where: string): CompiledStatement {
  const { effect, actions, resources } = (statement ?? {}) as Partial<PolicyStatement>;
  if (effect !== "Allow" && effect !== "Deny") throw invalid(`${where}: effect must be "Allow" or "Deny"`);
  if (!isStringList(actions)) throw invalid(`${where}: actions must be a non-empty array of strings`);
  if (!isStringList(resources)) throw invalid(`${where}: resources must be a non-empty array of strings`);
  for (const action of actions) {
    if (!/^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/.test(action)) {
      throw invalid(
        `${where}: action ${JSON.stringify(action)} must be "service:Action" (wildcards * and ?), e.g. kinesis:PutRecords`,
      );
    }
  }
  return {
    allow: effect === "Allow",
    actions: actions.map((action) => glob(action, "i")),
    resources: resources.map((resource) => glob(streamPattern(resource), "")),
    anyResource: resources.some((resource) => streamPattern(resource) === "*"),
  };
}

/** A stream ARN pattern → its stream-name part; a plain name pattern as is. */
function streamPattern(resource: string): string {
  if (!resource.startsWith("arn:")) return resource;
  const delivery = resource.indexOf(":deliverystream/");
  if (delivery >= 0) return resource.slice(delivery + ":deliverystream/".length).split("/")[0] ?? "";
  const at = resource.indexOf(":stream/");
  if (at < 0) return resource === "arn:*" || resource === "arn:aws:kinesis:*" ? "*" : resource;
  return resource.slice(at + ":stream/".length).split("/")[0] ?? "";
}

/** `*` any run of characters, `?` one character, everything else literal; the whole string. */
export function glob(pattern: string, flags: string): RegExp {
  const source = pattern
    .split("")
    .map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, `${flags}s`);
}

function isStringList(value: unknown): value is readonly string[] {
  return (
    Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string" && item !== "")
  );
}

function invalid(message: string): AuthConfigError {
  return new AuthConfigError(AuthConfigErrorCode.Invalid, message);
}
