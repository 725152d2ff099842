/**
 * The planner: SQL text → a `QueryPlan`, through node-sql-parser (FlinkSQL dialect). Supported:
 *
 *   SELECT <columns, expressions, aggregates> FROM <stream> [WHERE <filter>]
 *     [GROUP BY TUMBLE(<time>, INTERVAL 'n' UNIT) | HOP(<time>, INTERVAL slide, INTERVAL size) [, keys…]]
 *
 * Without GROUP BY the query is a per-record filter/projection. With it, every non-aggregate
 * SELECT item must be a GROUP BY key, and <time> is `approximate_arrival_time` / `ROWTIME`
 * (arrival time) or a JSON field (event time: ms since the epoch, or an ISO-8601 string).
 * Anything else is refused with UnsupportedSqlError naming the clause.
 */
import { createRequire } from "node:module";
import type * as NodeSqlParser from "node-sql-parser";
import { WINDOW_MS_MAX, WINDOW_MS_MIN } from "./constants.js";
import { InvalidSqlError, UnsupportedSqlError } from "./errors.js";
import {
  type CompileScope,
  columnPath,
  compileExpression,
  type Evaluator,
  functionArgs,
  functionName,
} from "./expression.js";

export type AggregateKind = "COUNT" | "SUM" | "MIN" | "MAX" | "AVG" | "COUNT_DISTINCT";

export interface AggregateSpec {
  readonly kind: AggregateKind;
  /** The argument; null for COUNT(*). */
  readonly argument: Evaluator | null;
}

export interface WindowSpec {
  readonly type: "TUMBLE" | "HOP";
  /** "arrival": the record's approximate_arrival_time; "event": a field of the record. */
  readonly time: "arrival" | "event";
  /** The event-time column path (empty for arrival time). */
  readonly timeColumn: readonly string[];
  readonly sizeMs: number;
  /** Equal to sizeMs for TUMBLE. */
  readonly slideMs: number;
}

export type OutputColumn =
  | { readonly name: string; readonly kind: "key"; readonly index: number }
  | { readonly name: string; readonly kind: "aggregate"; readonly index: number };

interface PlanBase {
  readonly sql: string;
  /** The stream named in FROM. */
  readonly sourceStream: string;
  /** The WHERE filter; null when none. */
  readonly where: Evaluator | null;
}

export interface ProjectionPlan extends PlanBase {
  readonly kind: "projection";
  /** Null for SELECT *: the record's fields as they are. */
  readonly columns: readonly { readonly name: string; readonly value: Evaluator }[] | null;
}

export interface WindowPlan extends PlanBase {
  readonly kind: "window";
  readonly window: WindowSpec;
  readonly keys: readonly { readonly name: string; readonly value: Evaluator }[];
  readonly aggregates: readonly AggregateSpec[];
  /** The SELECT list in order (window_start and window_end come first in every output row). */
  readonly output: readonly OutputColumn[];
}

export type QueryPlan = ProjectionPlan | WindowPlan;

const require = createRequire(import.meta.url);
let parser: NodeSqlParser.Parser | undefined;

/**
 * node-sql-parser's parser, made by the first query planned: every node imports this package,
 * few plan queries, and the library is large (see packages/delivery/src/lazy-sdk.ts for what
 * loading such libraries at start cost an idle node).
 */
function sqlParser(): NodeSqlParser.Parser {
  parser ??= new (require("node-sql-parser") as typeof NodeSqlParser).Parser();
  return parser;
}
const DIALECT = { database: "FlinkSQL" } as const;

const UNIT_MS: Readonly<Record<string, number>> = {
  MILLISECOND: 1,
  SECOND: 1_000,
  MINUTE: 60_000,
  HOUR: 3_600_000,
  DAY: 86_400_000,
};

// biome-ignore lint/suspicious/noExplicitAny: node-sql-parser's AST is loosely typed.
type Ast = any;

/** Parses and plans `sql`; throws InvalidSqlError (does not parse) or UnsupportedSqlError (names the clause). */
export function planQuery(sql: string): QueryPlan {
  let ast: Ast;
  try {
    ast = sqlParser().astify(sql, DIALECT);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidSqlError(`the SQL does not parse: ${message}`, { cause: error });
  }
  if (Array.isArray(ast)) {
    if (ast.length !== 1) throw new UnsupportedSqlError("statement", "give exactly one SELECT statement");
    ast = ast[0];
  }
  if (ast?.type !== "select")
    throw new UnsupportedSqlError(
      "statement",
      `only SELECT is supported, not ${String(ast?.type).toUpperCase()}`,
    );
  if (ast.with !== null && ast.with !== undefined)
    throw new UnsupportedSqlError("WITH", "common table expressions are not supported");
  if (ast.union !== undefined && ast.union !== null)
    throw new UnsupportedSqlError("UNION", "set operations (UNION, INTERSECT, EXCEPT) are not supported");
  if (ast.distinct !== null && ast.distinct !== undefined && ast.distinct.type != null)
    throw new UnsupportedSqlError("SELECT", "SELECT DISTINCT is not supported (use GROUP BY with a window)");
  if (ast.having !== null && ast.having !== undefined)
    throw new UnsupportedSqlError("HAVING", "HAVING is not supported");
  if (ast.orderby !== null && ast.orderby !== undefined)
    throw new UnsupportedSqlError("ORDER BY", "a stream has no end to sort; ORDER BY is not supported");
  if (ast.limit !== null && ast.limit !== undefined && (ast.limit.value?.length ?? 0) > 0)
    throw new UnsupportedSqlError("LIMIT", "LIMIT is not supported (preview takes --rows)");
  if (ast.window !== null && ast.window !== undefined)
    throw new UnsupportedSqlError("WINDOW", "named windows are not supported; use TUMBLE or HOP in GROUP BY");

  const from = (ast.from ?? []) as Ast[];
  if (from.length === 0) throw new UnsupportedSqlError("FROM", "a query reads one stream: FROM <stream>");
  if (from.length > 1 || from.some((item) => item.join !== undefined && item.join !== null))
    throw new UnsupportedSqlError("FROM", "joins are not supported: a query reads one stream");
  const source = from[0];
  if (source.expr !== undefined && source.expr !== null)
    throw new UnsupportedSqlError("FROM", "subqueries are not supported");
  if (typeof source.table !== "string" || source.table === "")
    throw new UnsupportedSqlError("FROM", "FROM names one stream");
  const sourceNames = new Set<string>([source.table]);
  if (typeof source.as === "string" && source.as !== "") sourceNames.add(source.as);

  const where =
    ast.where === null || ast.where === undefined
      ? null
      : compileExpression(ast.where, { clause: "WHERE", sourceNames });
  const columns = ast.columns as Ast[] | string;
  const groupBy = (ast.groupby?.columns ?? (Array.isArray(ast.groupby) ? ast.groupby : [])) as Ast[];
  const base = { sql, sourceStream: source.table as string, where };
  if (groupBy.length === 0) return planProjection(base, columns, sourceNames);
  return planWindow(base, columns, groupBy, sourceNames);
}

function isStar(columns: Ast[] | string): boolean {
  if (columns === "*") return true;
  return (
    Array.isArray(columns) &&
    columns.length === 1 &&
    columns[0]?.expr?.type === "column_ref" &&
    (columns[0].expr.column === "*" || columns[0].expr.column?.expr?.value === "*")
  );
}

function containsAggregate(node: Ast): boolean {
  if (node === null || typeof node !== "object") return false;
  if (node.type === "aggr_func") return true;
  return Object.values(node).some((child) => containsAggregate(child));
}

function planProjection(
  base: Omit<PlanBase, never>,
  columns: Ast[] | string,
  sourceNames: ReadonlySet<string>,
): ProjectionPlan {
  if (isStar(columns)) return { ...base, kind: "projection", columns: null };
  const scope: CompileScope = { clause: "SELECT", sourceNames };
  const out: { name: string; value: Evaluator }[] = [];
  for (const [i, item] of (columns as Ast[]).entries()) {
    if (containsAggregate(item.expr))
      throw new UnsupportedSqlError(
        "SELECT",
        "aggregates need a window: add GROUP BY TUMBLE(approximate_arrival_time, INTERVAL '1' MINUTE)",
      );
    out.push({ name: outputName(item, i, scope), value: compileExpression(item.expr, scope) });
  }
  return { ...base, kind: "projection", columns: out };
}

function outputName(item: Ast, index: number, scope: CompileScope): string {
  if (typeof item.as === "string" && item.as !== "") return item.as;
  const expr = item.expr;
  if (expr?.type === "column_ref") return columnPath(expr, scope).join(".");
  if (expr?.type === "aggr_func") {
    const name = String(expr.name).toLowerCase();
    const arg = expr.args?.expr;
    if (arg?.type === "column_ref") {
      const distinct = expr.args?.distinct === "DISTINCT" ? "distinct_" : "";
      return `${name}_${distinct}${columnPath(arg, scope).join("_")}`;
    }
    return name;
  }
  return `expr${index}`;
}

function planWindow(
  base: Omit<PlanBase, never>,
  columns: Ast[] | string,
  groupBy: Ast[],
  sourceNames: ReadonlySet<string>,
): WindowPlan {
  const groupScope: CompileScope = { clause: "GROUP BY", sourceNames };
  let window: WindowSpec | undefined;
  const keyNodes: Ast[] = [];
  for (const item of groupBy) {
    if (item?.type === "function" && (functionName(item) === "TUMBLE" || functionName(item) === "HOP")) {
      if (window !== undefined)
        throw new UnsupportedSqlError("GROUP BY", "only one window (TUMBLE or HOP) per query");
      window = windowOf(item, groupScope);
    } else {
      if (item?.type === "function" && ["SESSION", "CUMULATE"].includes(functionName(item)))
        throw new UnsupportedSqlError(
          "GROUP BY",
          `${functionName(item)} windows are not supported; use TUMBLE or HOP`,
        );
      compileExpression(item, groupScope);
      keyNodes.push(item);
    }
  }
  if (window === undefined)
    throw new UnsupportedSqlError(
      "GROUP BY",
      "a continuous GROUP BY needs a window: TUMBLE(<time>, INTERVAL 'n' UNIT) or HOP(<time>, INTERVAL slide, INTERVAL size)",
    );
  if (isStar(columns))
    throw new UnsupportedSqlError(
      "SELECT",
      "SELECT * cannot be used with GROUP BY; list keys and aggregates",
    );
  const keys = keyNodes.map((node) => ({
    name: node.type === "column_ref" ? columnPath(node, groupScope).join(".") : "",
    value: compileExpression(node, groupScope),
    fingerprint: fingerprint(node),
  }));
  const selectScope: CompileScope = { clause: "SELECT", sourceNames };
  const aggregates: AggregateSpec[] = [];
  const output: OutputColumn[] = [];
  for (const [i, item] of (columns as Ast[]).entries()) {
    const expr = item.expr;
    const name = outputName(item, i, selectScope);
    if (expr?.type === "aggr_func") {
      aggregates.push(aggregateOf(expr, selectScope));
      output.push({ name, kind: "aggregate", index: aggregates.length - 1 });
      continue;
    }
    if (containsAggregate(expr))
      throw new UnsupportedSqlError(
        "SELECT",
        "an aggregate inside an expression is not supported; select it alone",
      );
    // Refuses unknown functions and other unsupported expressions by name before the key match.
    compileExpression(expr, selectScope);
    const index = keys.findIndex((key) => key.fingerprint === fingerprint(expr));
    if (index < 0)
      throw new UnsupportedSqlError(
        "SELECT",
        `${name} is neither a GROUP BY key nor an aggregate; add it to GROUP BY or aggregate it`,
      );
    output.push({ name, kind: "key", index });
  }
  return {
    ...base,
    kind: "window",
    window,
    keys: keys.map((key, i) => ({ name: key.name === "" ? `key${i}` : key.name, value: key.value })),
    aggregates,
    output,
  };
}

/** A structural fingerprint of an expression (to match SELECT items with GROUP BY keys). */
function fingerprint(node: Ast): string {
  return JSON.stringify(node, (key, value) => (key === "loc" || key === "collate" ? undefined : value));
}

function aggregateOf(expr: Ast, scope: CompileScope): AggregateSpec {
  const name = String(expr.name).toUpperCase();
  const distinct = expr.args?.distinct === "DISTINCT";
  const arg = expr.args?.expr;
  if (expr.over !== null && expr.over !== undefined)
    throw new UnsupportedSqlError("SELECT", `${name}(...) OVER is not supported; use a TUMBLE or HOP window`);
  if (!["COUNT", "SUM", "MIN", "MAX", "AVG"].includes(name))
    throw new UnsupportedSqlError(
      "SELECT",
      `unknown aggregate ${name}; the supported ones are COUNT, SUM, MIN, MAX, AVG and COUNT(DISTINCT …)`,
    );
  if (arg?.type === "star") {
    if (name !== "COUNT") throw new UnsupportedSqlError("SELECT", `${name}(*) is not valid; only COUNT(*)`);
    return { kind: "COUNT", argument: null };
  }
  if (containsAggregate(arg)) throw new UnsupportedSqlError("SELECT", "nested aggregates are not supported");
  const argument = compileExpression(arg, scope);
  if (distinct) {
    if (name !== "COUNT")
      throw new UnsupportedSqlError("SELECT", `${name}(DISTINCT …) is not supported; only COUNT(DISTINCT …)`);
    return { kind: "COUNT_DISTINCT", argument };
  }
  return { kind: name as AggregateKind, argument };
}

function intervalMs(node: Ast, scope: CompileScope, what: string): number {
  if (node?.type !== "interval")
    throw new UnsupportedSqlError(scope.clause, `${what} must be an INTERVAL, as INTERVAL '1' MINUTE`);
  const amount = Number(node.expr?.value);
  const unit = String(node.unit ?? "")
    .toUpperCase()
    .replace(/S$/, "");
  const unitMs = UNIT_MS[unit];
  if (unitMs === undefined)
    throw new UnsupportedSqlError(
      scope.clause,
      `INTERVAL unit ${unit} is not supported; use ${Object.keys(UNIT_MS).join(", ")}`,
    );
  const ms = amount * unitMs;
  if (!Number.isSafeInteger(ms) || ms < WINDOW_MS_MIN || ms > WINDOW_MS_MAX)
    throw new UnsupportedSqlError(
      scope.clause,
      `${what} must be a whole number of ms from ${WINDOW_MS_MIN} to ${WINDOW_MS_MAX}`,
    );
  return ms;
}

function windowOf(node: Ast, scope: CompileScope): WindowSpec {
  const type = functionName(node) as "TUMBLE" | "HOP";
  const args = functionArgs(node);
  const expected = type === "TUMBLE" ? 2 : 3;
  if (args.length !== expected)
    throw new UnsupportedSqlError(
      scope.clause,
      type === "TUMBLE"
        ? "TUMBLE takes (<time column>, INTERVAL size)"
        : "HOP takes (<time column>, INTERVAL slide, INTERVAL size)",
    );
  const timeNode = args[0];
  if (timeNode?.type !== "column_ref")
    throw new UnsupportedSqlError(
      scope.clause,
      `the time of ${type} must be a column (approximate_arrival_time, ROWTIME or a field)`,
    );
  const path = columnPath(timeNode, scope);
  const arrival =
    path.length === 1 && ["approximate_arrival_time", "rowtime"].includes((path[0] as string).toLowerCase());
  const sizeMs = intervalMs(type === "TUMBLE" ? args[1] : args[2], scope, `the size of ${type}`);
  const slideMs = type === "TUMBLE" ? sizeMs : intervalMs(args[1], scope, "the slide of HOP");
  if (slideMs > sizeMs) throw new UnsupportedSqlError(scope.clause, "HOP's slide must not exceed its size");
  if (sizeMs % slideMs !== 0)
    throw new UnsupportedSqlError(scope.clause, "HOP's size must be a whole multiple of its slide");
  return { type, time: arrival ? "arrival" : "event", timeColumn: arrival ? [] : path, sizeMs, slideMs };
}
