/**
 * The narrow interface every warehouse source implements. The engine (plan, validate) knows only
 * this file and the registry; adding a source means adding its folder and one registry line.
 *
 *   const source = openSource(config.sources.warehouse, { name: 'warehouse', baseDir });
 *   await source.describe('select * from gold.account_health');   // [{ name, type }, ...], no row read
 *   for await (const rows of source.stream({ sql, chunkSize: 1000, label: 'ebb:accounts:7' })) { ... }
 *   await source.close();
 *
 * Values a source yields survive JSON.stringify unchanged and exactly (DESIGN.md invariant 7):
 *   - integers and decimals: a number when a double holds the value exactly, else its decimal text
 *     ('12345678901234567890.1234567891'); see exact-values.ts;
 *   - DATE 'YYYY-MM-DD'; timestamps ISO-8601 in UTC ('2026-01-02T03:04:05.123456Z'); time zone-less
 *     timestamps are read as UTC;
 *   - JSON/VARIANT/OBJECT/ARRAY as parsed JSON values; binary as hex text; everything else as text.
 *
 * Errors, two kinds (the run's retry policy tells them apart by name):
 *   - SourceError: no retry can fix it (missing file, bad credentials, an SQL error). The message
 *     names the source and quotes the warehouse's own message.
 *   - TransientSourceError: the warehouse is busy or unreachable for now (a locked file, a dropped
 *     connection, a warehouse resuming, a statement timeout); the activity is retried.
 */
import type { z } from 'zod';
import type { SyncLogTable } from './sync-log-table';
import type { SnapshotTable } from './warehouse-diff';

export type Row = Record<string, unknown>;

export interface ColumnInfo {
  name: string;
  /** The warehouse's own type name, e.g. VARCHAR, NUMERIC(38,10), TIMESTAMP_NTZ. */
  type: string;
}

export interface StreamInput {
  sql: string;
  /** Rows per yielded chunk; memory holds about one chunk (plus the driver's own buffer). */
  chunkSize: number;
  /** Shown to the warehouse's admins where the warehouse can (Snowflake QUERY_TAG), e.g. 'ebb:<sync>:<run>'. */
  label?: string;
}

export interface Source {
  /**
   * Opens the file or logs in, without running a model: a SourceError here means the source itself
   * is wrong (missing file, bad credentials), not a model. describe and stream connect on their own.
   */
  connect(): Promise<void>;
  /** Column names and types of a query's result, without reading its rows. */
  describe(sql: string): Promise<ColumnInfo[]>;
  /** Streams the result in chunks of at most `chunkSize` rows; never holds the whole result in memory. */
  stream(input: StreamInput): AsyncIterable<Row[]>;
  close(): Promise<void>;
  /** Present when the source's config enables `warehouseDiff`: where ebb keeps row hashes in the warehouse. */
  readonly snapshots?: SnapshotTable;
  /** Present when the source's config enables `syncLogs`: where ebb writes each run's record results. */
  readonly syncLogs?: SyncLogTable;
}

export interface SourceContext {
  /** The source's name in ebb.yaml (`sources.<name>`), for messages that point at the config. */
  name: string;
  /** Directory of ebb.yaml: relative paths of the source (a DuckDB file, a CA file) are relative to it. */
  baseDir: string;
}

/** One source type: its config schema and its factory. */
export interface SourceConnector<C extends { type: string } = { type: string }> {
  readonly type: string;
  /** zod schema of `sources.<name>` for this type: a strict object, so unknown keys are reported. */
  readonly configSchema: z.ZodType<C>;
  create(config: C, context: SourceContext): Source;
}

/** A warehouse problem no retry can fix; the run fails with this message. */
export class SourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The warehouse is busy or unreachable for now; Temporal retries the activity with backoff. */
export class TransientSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const SQL_EXCERPT_LENGTH = 200;

export function sqlExcerpt(sql: string): string {
  return sql.length > SQL_EXCERPT_LENGTH ? `${sql.slice(0, SQL_EXCERPT_LENGTH)}...` : sql;
}

/** Two result columns with one name would overwrite each other in a row object. */
export function assertDistinctNames(names: string[], sql: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      throw new SourceError(
        `The query returns column "${name}" more than once; give each column a distinct alias (AS ...)\nSQL: ${sqlExcerpt(sql)}`,
      );
    }
    seen.add(name);
  }
}
