/**
 * The destination libraries, loaded on first use rather than when the package is imported:
 * every node imports @sluice/delivery (it runs the delivery streams it finds), but most clusters
 * deliver to few or none of these destinations. Loaded at start, these and analytics'
 * node-sql-parser held about 22 MiB of every idle node's resident memory (141-150 MiB against
 * 119-122 without them, docs/performance.md "Memory").
 * Loaded through `require` (both ship CommonJS) so a destination's constructor stays synchronous.
 */
import { createRequire } from "node:module";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type * as Pg from "pg";
import type * as PgCopyStreams from "pg-copy-streams";

const require = createRequire(import.meta.url);

let s3: typeof S3Sdk | undefined;
let postgres: PostgresLibraries | undefined;

/** @aws-sdk/client-s3 (loaded by the first S3 destination). */
export function s3Sdk(): typeof S3Sdk {
  s3 ??= require("@aws-sdk/client-s3") as typeof S3Sdk;
  return s3;
}

export interface PostgresLibraries {
  readonly pg: typeof Pg;
  readonly copyStreams: typeof PgCopyStreams;
}

/** pg and pg-copy-streams (loaded together by the first PostgreSQL destination). */
export function postgresLibraries(): PostgresLibraries {
  postgres ??= {
    pg: require("pg") as typeof Pg,
    copyStreams: require("pg-copy-streams") as typeof PgCopyStreams,
  };
  return postgres;
}
