/**
 * Scalar expressions of a query, compiled once from node-sql-parser's AST into closures over a
 * `Row`: column references (JSON fields, nested with `a.b`, and the built-in columns), literals,
 * arithmetic, comparisons, AND/OR/NOT, IS [NOT] NULL, IN, LIKE, and a few scalar functions.
 * SQL's three-valued logic is kept simple: a comparison with NULL is false (a filter drops it).
 */
import { UnsupportedSqlError } from "./errors.js";
import type { Row } from "./row.js";

export type Evaluator = (row: Row) => unknown;

/** Scalar functions a query may call, by upper-case name. */
const SCALAR_FUNCTIONS: Readonly<Record<string, (args: unknown[]) => unknown>> = {
  LOWER: ([v]) => (v === null || v === undefined ? null : String(v).toLowerCase()),
  UPPER: ([v]) => (v === null || v === undefined ? null : String(v).toUpperCase()),
  LENGTH: ([v]) => (v === null || v === undefined ? null : String(v).length),
  ABS: ([v]) => numeric(v, Math.abs),
  FLOOR: ([v]) => numeric(v, Math.floor),
  CEIL: ([v]) => numeric(v, Math.ceil),
  ROUND: ([v]) => numeric(v, Math.round),
  COALESCE: (args) => args.find((v) => v !== null && v !== undefined) ?? null,
};

export const SCALAR_FUNCTION_NAMES: readonly string[] = Object.keys(SCALAR_FUNCTIONS);

function numeric(v: unknown, f: (n: number) => number): number | null {
  const n = toNumber(v);
  return n === null ? null : f(n);
}

/** A number from a JSON value: numbers, numeric strings, booleans as 0/1; null otherwise. */
export function toNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

/** What the compiler needs to know about the query around an expression. */
export interface CompileScope {
  /** The clause being compiled, for error messages. */
  readonly clause: string;
  /** Names that refer to the FROM stream (its name and alias), so `s.x` is the column x. */
  readonly sourceNames: ReadonlySet<string>;
}

// biome-ignore lint/suspicious/noExplicitAny: node-sql-parser's AST is loosely typed.
type Ast = any;

export function compileExpression(node: Ast, scope: CompileScope): Evaluator {
  switch (node?.type) {
    case "column_ref":
      return compileColumn(node, scope);
    case "number": {
      const value = Number(node.value);
      return () => value;
    }
    case "single_quote_string":
    case "double_quote_string":
    case "string": {
      const value = String(node.value);
      return () => value;
    }
    case "bool":
    case "boolean": {
      const value = Boolean(node.value);
      return () => value;
    }
    case "null":
      return () => null;
    case "binary_expr":
      return compileBinary(node, scope);
    case "unary_expr": {
      const operand = compileExpression(node.expr, scope);
      const op = String(node.operator).toUpperCase();
      if (op === "NOT" || op === "!") return (row) => !truthy(operand(row));
      if (op === "-") return (row) => numeric(operand(row), (n) => -n);
      throw new UnsupportedSqlError(scope.clause, `operator ${op} is not supported`);
    }
    case "function":
      return compileFunction(node, scope);
    case "expr_list":
      throw new UnsupportedSqlError(scope.clause, "a list is only allowed after IN");
    case "aggr_func":
      throw new UnsupportedSqlError(
        scope.clause,
        `aggregate ${node.name} is only allowed in the SELECT list of a windowed GROUP BY query`,
      );
    case "select":
      throw new UnsupportedSqlError(scope.clause, "subqueries are not supported");
    case "case":
      throw new UnsupportedSqlError(scope.clause, "CASE is not supported");
    case "cast":
      throw new UnsupportedSqlError(scope.clause, "CAST is not supported (JSON values keep their types)");
    case "interval":
      throw new UnsupportedSqlError(
        scope.clause,
        "an INTERVAL is only allowed as an argument of TUMBLE or HOP",
      );
    default:
      if (node?.ast !== undefined)
        throw new UnsupportedSqlError(scope.clause, "subqueries are not supported");
      throw new UnsupportedSqlError(
        scope.clause,
        `expression of type ${String(node?.type)} is not supported`,
      );
  }
}

/** The column path of a column reference ([field] or [parent, field]), lower-cased table dropped when it names the source. */
export function columnPath(node: Ast, scope: CompileScope): string[] {
  const column = typeof node.column === "string" ? node.column : String(node.column?.expr?.value ?? "");
  if (column === "*")
    throw new UnsupportedSqlError(scope.clause, "* is only allowed as SELECT * or COUNT(*)");
  const table = node.table === null || node.table === undefined ? null : String(node.table);
  if (table === null || scope.sourceNames.has(table)) return [column];
  return [table, column];
}

function compileColumn(node: Ast, scope: CompileScope): Evaluator {
  const path = columnPath(node, scope);
  if (path.length === 1) {
    const name = path[0] as string;
    switch (name.toLowerCase()) {
      case "partition_key":
        return (row) => row.partitionKey;
      case "sequence_number":
        return (row) => row.sequenceNumber;
      case "approximate_arrival_time":
      case "rowtime":
        return (row) => row.arrivalMs;
      case "data":
        // A JSON field named data wins; otherwise the record's bytes as text.
        return (row) => (row.fields.data !== undefined ? row.fields.data : row.data.toString("utf8"));
    }
    return (row) => {
      const v = row.fields[name];
      return v === undefined ? null : v;
    };
  }
  const [parent, child] = path as [string, string];
  return (row) => {
    const outer = row.fields[parent];
    if (outer === null || typeof outer !== "object") return null;
    const v = (outer as Record<string, unknown>)[child];
    return v === undefined ? null : v;
  };
}

export function truthy(v: unknown): boolean {
  return v === true || (typeof v === "number" && v !== 0);
}

function compare(a: unknown, b: unknown): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === "number" || typeof b === "number") {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x === null || y === null) return null;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = typeof a === "string" ? a : JSON.stringify(a);
  const y = typeof b === "string" ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function likePattern(pattern: string): RegExp {
  let source = "^";
  for (const ch of pattern) {
    if (ch === "%") source += ".*";
    else if (ch === "_") source += ".";
    else source += ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${source}$`, "s");
}

function compileBinary(node: Ast, scope: CompileScope): Evaluator {
  const op = String(node.operator).toUpperCase();
  if (op === "IN" || op === "NOT IN") {
    if (node.right?.type !== "expr_list")
      throw new UnsupportedSqlError(scope.clause, "IN takes a list of values (subqueries are not supported)");
    const left = compileExpression(node.left, scope);
    const values = (node.right.value as Ast[]).map((v) => compileExpression(v, scope));
    const negate = op === "NOT IN";
    return (row) => {
      const v = left(row);
      const found = values.some((item) => compare(v, item(row)) === 0);
      return negate ? !found : found;
    };
  }
  if (op === "IS" || op === "IS NOT") {
    if (node.right?.type !== "null")
      throw new UnsupportedSqlError(scope.clause, `${op} is only supported with NULL`);
    const left = compileExpression(node.left, scope);
    return op === "IS" ? (row) => left(row) === null : (row) => left(row) !== null;
  }
  if (op === "BETWEEN" || op === "NOT BETWEEN") {
    const left = compileExpression(node.left, scope);
    const [low, high] = (node.right.value as Ast[]).map((v) => compileExpression(v, scope)) as [
      Evaluator,
      Evaluator,
    ];
    const negate = op === "NOT BETWEEN";
    return (row) => {
      const v = left(row);
      const a = compare(v, low(row));
      const b = compare(v, high(row));
      const inside = a !== null && b !== null && a >= 0 && b <= 0;
      return negate ? !inside : inside;
    };
  }
  const left = compileExpression(node.left, scope);
  const right = compileExpression(node.right, scope);
  switch (op) {
    case "AND":
      return (row) => truthy(left(row)) && truthy(right(row));
    case "OR":
      return (row) => truthy(left(row)) || truthy(right(row));
    case "=":
      return (row) => compare(left(row), right(row)) === 0;
    case "!=":
    case "<>":
      return (row) => {
        const c = compare(left(row), right(row));
        return c !== null && c !== 0;
      };
    case "<":
      return (row) => (compare(left(row), right(row)) ?? 0) < 0;
    case "<=":
      return (row) => {
        const c = compare(left(row), right(row));
        return c !== null && c <= 0;
      };
    case ">":
      return (row) => (compare(left(row), right(row)) ?? 0) > 0;
    case ">=":
      return (row) => {
        const c = compare(left(row), right(row));
        return c !== null && c >= 0;
      };
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
      return arithmetic(op, left, right);
    case "||":
      return (row) => {
        const a = left(row);
        const b = right(row);
        return a === null || b === null ? null : `${String(a)}${String(b)}`;
      };
    case "LIKE":
    case "NOT LIKE": {
      if (node.right?.type !== "single_quote_string" && node.right?.type !== "string")
        throw new UnsupportedSqlError(scope.clause, "LIKE takes a string literal pattern");
      const pattern = likePattern(String(node.right.value));
      const negate = op === "NOT LIKE";
      return (row) => {
        const v = left(row);
        if (v === null) return false;
        return pattern.test(String(v)) !== negate;
      };
    }
    default:
      throw new UnsupportedSqlError(scope.clause, `operator ${op} is not supported`);
  }
}

function arithmetic(op: string, left: Evaluator, right: Evaluator): Evaluator {
  return (row) => {
    const a = toNumber(left(row));
    const b = toNumber(right(row));
    if (a === null || b === null) return null;
    switch (op) {
      case "+":
        return a + b;
      case "-":
        return a - b;
      case "*":
        return a * b;
      case "/":
        return b === 0 ? null : a / b;
      default:
        return b === 0 ? null : a % b;
    }
  };
}

/** The upper-case name of a function node. */
export function functionName(node: Ast): string {
  const parts = node.name?.name;
  if (Array.isArray(parts))
    return parts
      .map((p: Ast) => String(p.value))
      .join(".")
      .toUpperCase();
  return String(node.name?.schema?.value ?? node.name ?? "").toUpperCase();
}

/** The argument nodes of a function node. */
export function functionArgs(node: Ast): Ast[] {
  const args = node.args;
  if (args === null || args === undefined) return [];
  if (args.type === "expr_list") return args.value as Ast[];
  return [args];
}

function compileFunction(node: Ast, scope: CompileScope): Evaluator {
  const name = functionName(node);
  if (name === "TUMBLE" || name === "HOP")
    throw new UnsupportedSqlError(scope.clause, `${name}(...) is only allowed in GROUP BY`);
  const f = SCALAR_FUNCTIONS[name];
  if (f === undefined) {
    throw new UnsupportedSqlError(
      scope.clause,
      `unknown function ${name}; the supported ones are ${SCALAR_FUNCTION_NAMES.join(", ")} and the aggregates COUNT, SUM, MIN, MAX, AVG`,
    );
  }
  const args = functionArgs(node).map((a) => compileExpression(a, scope));
  return (row) => f(args.map((a) => a(row)));
}
