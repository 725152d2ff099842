// Proves that SQL the engine does not support is refused with an UnsupportedSqlError that names
// the clause (and InvalidSqlError when it does not parse), so a user knows what to change.

import { describe, expect, it } from "vitest";
import { InvalidSqlError, planQuery, UnsupportedSqlError } from "../src/index.js";

const CASES: readonly [sql: string, clause: string, mentions: string][] = [
  ["SELECT a.x FROM a JOIN b ON a.id = b.id", "FROM", "joins"],
  ["SELECT x FROM a, b", "FROM", "joins"],
  ["SELECT x FROM (SELECT x FROM a) t", "FROM", "subqueries"],
  ["SELECT x FROM a WHERE x IN (SELECT y FROM b)", "WHERE", "subqueries"],
  ["SELECT MEDIAN(x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)", "SELECT", "MEDIAN"],
  ["SELECT x FROM a WHERE FROBNICATE(x) > 1", "WHERE", "FROBNICATE"],
  ["SELECT k, COUNT(*) FROM a GROUP BY k", "GROUP BY", "window"],
  ["SELECT COUNT(*) FROM a", "SELECT", "window"],
  ["SELECT k, v, COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), k", "SELECT", "v"],
  ["SELECT k FROM a ORDER BY k", "ORDER BY", "ORDER BY"],
  [
    "SELECT k, COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), k HAVING COUNT(*) > 1",
    "HAVING",
    "HAVING",
  ],
  ["SELECT k FROM a LIMIT 10", "LIMIT", "LIMIT"],
  [
    "SELECT COUNT(*) FROM a GROUP BY HOP(ts, INTERVAL '7' SECOND, INTERVAL '1' MINUTE)",
    "GROUP BY",
    "multiple",
  ],
  ["SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '0' SECOND)", "GROUP BY", "whole number of ms"],
  ["SELECT SUM(DISTINCT x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)", "SELECT", "DISTINCT"],
  ["INSERT INTO a (x) VALUES (1)", "statement", "SELECT"],
];

describe("unsupported SQL", () => {
  for (const [sql, clause, mentions] of CASES) {
    it(`${clause}: ${sql}`, () => {
      let caught: unknown;
      try {
        planQuery(sql);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UnsupportedSqlError);
      const error = caught as UnsupportedSqlError;
      expect(error.clause).toBe(clause);
      expect(error.message.startsWith(`${clause}: `)).toBe(true);
      expect(error.message).toContain(mentions);
      expect(error.retriable).toBe(false);
    });
  }

  it("SQL that does not parse is InvalidSqlError", () => {
    expect(() => planQuery("SELEC x FRM")).toThrow(InvalidSqlError);
  });
});
