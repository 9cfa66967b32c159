/**
 * Sync logs in the warehouse: after each run, one row per record result (sync, run, key, operation,
 * status, error code and message, time) in a table of ebb's own, so analysts can query failures
 * and join them to their models. A source offers the table when its config sets `syncLogs`:
 *
 *   sources:
 *     warehouse: { type: postgres, url: ..., syncLogs: { schema: ebb_logs, table: sync_records, retentionDays: 30 } }
 *
 *   select l.record_key, l.error_code, l.error_message, a.*
 *   from ebb_logs.sync_records l join gold.account_health a on a.account_id = l.record_key
 *   where l.status = 'failed' and l.sync_id = 'accounts-to-sf';
 *
 * What goes in is what the state store keeps already: the record's key (stored form, so a hashed
 * personal key stays hashed) and the destination's error code and message; never a row value.
 * A run's rows are replaced in one transaction (delete, then insert), so a retried activity never
 * doubles them, and rows recorded before the retention window are deleted in the same transaction.
 */
import { z } from 'zod';

/** A value bound to a statement's `$n` placeholder (both PostgreSQL and DuckDB number them so). */
export type SqlParam = string | number | null;

/** The writable sync-log table a source offers when `syncLogs` is configured. */
export interface SyncLogTable {
  /** Qualified name as ebb writes it, e.g. "ebb_logs"."sync_records". */
  readonly table: string;
  /** Rows whose record result is older than this many days are deleted on each write. */
  readonly retentionDays: number;
  /** Creates the schema (or attached database) and the table when missing; safe on every run. */
  prepare(): Promise<void>;
  /** Runs `fn` in one transaction on one connection: committed when it returns, rolled back when it throws. */
  transaction(
    fn: (execute: (sql: string, params?: readonly SqlParam[]) => Promise<void>) => Promise<void>,
  ): Promise<void>;
}

/** One record's result in one run, as the table stores it. */
export interface SyncLogRow {
  key: string;
  operation: string;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  /** ISO-8601 time of the record's result. */
  at: string;
}

export const DEFAULT_SYNC_LOG_SCHEMA = 'ebb_logs';
export const DEFAULT_SYNC_LOG_TABLE = 'sync_records';
export const DEFAULT_SYNC_LOG_RETENTION_DAYS = 90;

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a name of letters, digits and _, starting with a letter or _');

const syncLogsFields = {
  /** Schema of the table (DuckDB: the name the log file is attached under). Default `ebb_logs`. */
  schema: identifier.optional(),
  /** Default `sync_records`. */
  table: identifier.optional(),
  /** Rows older than this are deleted after each run. Default 90. */
  retentionDays: z.number().int().positive().optional(),
};

/**
 * `syncLogs` of a source whose table lives in a schema of the warehouse (PostgreSQL): `true` for
 * `ebb_logs.sync_records` kept 90 days, or `{ schema, table, retentionDays }`.
 */
export const syncLogsSchemaOption = z.union([z.literal(true), z.strictObject(syncLogsFields)]).optional();

/** DuckDB's `syncLogs`: as above, plus `file`, the DuckDB file that holds the table (the warehouse file stays read-only). */
export const syncLogsFileOption = z
  .union([
    z.literal(true),
    z.strictObject({
      ...syncLogsFields,
      /** Default `<path>.ebb-logs.duckdb` beside the warehouse file, relative to ebb.yaml. */
      file: z.string().min(1, 'must not be empty').optional(),
    }),
  ])
  .optional();

export interface SyncLogSettings {
  schema: string;
  table: string;
  retentionDays: number;
}

export function syncLogSettings(
  option: z.infer<typeof syncLogsSchemaOption> | z.infer<typeof syncLogsFileOption>,
): SyncLogSettings | undefined {
  if (option === undefined) return undefined;
  const given = option === true ? {} : option;
  return {
    schema: given.schema ?? DEFAULT_SYNC_LOG_SCHEMA,
    table: given.table ?? DEFAULT_SYNC_LOG_TABLE,
    retentionDays: given.retentionDays ?? DEFAULT_SYNC_LOG_RETENTION_DAYS,
  };
}

export function syncLogTableDdl(table: string): string {
  return (
    `create table if not exists ${table} (` +
    'sync_id varchar not null, run_number integer not null, record_key varchar not null, ' +
    'operation varchar not null, status varchar not null, error_code varchar, error_message varchar, ' +
    'recorded_at timestamp not null)'
  );
}

const COLUMNS = 'sync_id, run_number, record_key, operation, status, error_code, error_message, recorded_at';
const PER_ROW = 8;
/** Rows per insert statement: 4,000 parameters, well inside PostgreSQL's 65,535. */
const ROWS_PER_INSERT = 500;

/** '2026-01-02 03:04:05.678', UTC: a timestamp text both warehouses read the same way. */
function utcText(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

/** PostgreSQL text cannot hold NUL; no message needs one. */
function text(value: string | null): string | null {
  return value === null ? null : value.replaceAll('\u0000', '');
}

/**
 * Replaces the rows of one run with `pages` and drops rows past retention, in one transaction.
 * Returns how many rows were written.
 */
export async function writeRunLog(
  logs: SyncLogTable,
  input: { syncId: string; runNumber: number; pages: AsyncIterable<SyncLogRow[]>; now?: Date },
): Promise<number> {
  // Two workers creating the schema or table at once can race (PostgreSQL reports a duplicate
  // catalog entry for the loser); the second try finds them created.
  await logs.prepare().catch(() => logs.prepare());
  const now = input.now ?? new Date();
  const cutoff = new Date(now.getTime() - logs.retentionDays * 86_400_000).toISOString();
  let written = 0;
  await logs.transaction(async (execute) => {
    await execute(`delete from ${logs.table} where sync_id = $1 and run_number = $2`, [input.syncId, input.runNumber]);
    for await (const page of input.pages) {
      for (let i = 0; i < page.length; i += ROWS_PER_INSERT) {
        const rows = page.slice(i, i + ROWS_PER_INSERT);
        const params: SqlParam[] = [];
        const tuples = rows.map((row) => {
          const base = params.length;
          params.push(
            input.syncId,
            input.runNumber,
            row.key,
            row.operation,
            row.status,
            text(row.errorCode),
            text(row.errorMessage),
            utcText(row.at),
          );
          const slots = Array.from({ length: PER_ROW }, (_, j) => `$${base + j + 1}`);
          slots[PER_ROW - 1] = `cast(${slots[PER_ROW - 1] ?? ''} as timestamp)`;
          slots[1] = `cast(${slots[1] ?? ''} as integer)`;
          return `(${slots.join(', ')})`;
        });
        await execute(`insert into ${logs.table} (${COLUMNS}) values ${tuples.join(', ')}`, params);
        written += rows.length;
      }
    }
    await execute(`delete from ${logs.table} where recorded_at < cast($1 as timestamp)`, [utcText(cutoff)]);
  });
  return written;
}
