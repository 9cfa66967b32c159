/**
 * A DuckDB file as a warehouse source (`sources.<name>: { type: duckdb, path: ./warehouse.duckdb }`).
 *
 *   const source = createDuckDbSource({ path: './warehouse.duckdb', name: 'warehouse' });
 *   await source.describe('select * from account_health');   // [{ name: 'account_id', type: 'VARCHAR' }, ...]
 *   for await (const rows of source.stream({ sql: 'select * from account_health', chunkSize: 500 })) { ... }
 *   await source.close();
 *
 * One DuckDB instance per file per process. Several instances of one file in one process do not see
 * each other's writes, and DuckDB's file lock does not stop them (OS locks are per process), so two
 * read-write instances could corrupt the file. Sources of the same path therefore share a reference-
 * counted instance; the file is released when the last of them closes. Across processes the lock
 * does apply: many readers or one writer, which is why sources open read-only by default.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBResult, DuckDBValue } from '@duckdb/node-api';
import { z } from 'zod';
import { exactDecimal, exactInteger } from '../exact-values';
import { literal } from '../model-query';
import { snapshotTableDdl, type SnapshotTable } from '../warehouse-diff';
import {
  syncLogSettings,
  syncLogsFileOption,
  syncLogTableDdl,
  type SyncLogSettings,
  type SyncLogTable,
} from '../sync-log-table';
import {
  assertDistinctNames,
  messageOf,
  sqlExcerpt,
  TransientSourceError,
  type ColumnInfo,
  type Row,
  type Source,
  SourceError,
  type SourceConnector,
} from '../source';

/*
 * DuckDB's bindings take a tenth of a second or more to load: they are loaded when a source first
 * connects, not by every command that reads ebb.yaml (`ebb status` has no use for them).
 */
type DuckDbApi = typeof import('@duckdb/node-api');
let duckdbApi: DuckDbApi | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy vendor loading, see above
const duckdb = (): DuckDbApi => (duckdbApi ??= require('@duckdb/node-api') as DuckDbApi);

export const duckdbSourceConfigSchema = z.strictObject({
  type: z.literal('duckdb'),
  /** The DuckDB file, relative to ebb.yaml. */
  path: z.string().min(1, 'must not be empty'),
  /**
   * Warehouse-side diff. The warehouse file stays read-only: the snapshots live in a DuckDB file
   * of their own (default `<path>.ebb-snapshots.duckdb`), attached read-write beside it.
   */
  warehouseDiff: z
    .union([z.literal(true), z.strictObject({ file: z.string().min(1, 'must not be empty').optional() })])
    .optional(),
  /**
   * Sync logs: each run's record results in a DuckDB file of their own (default
   * `<path>.ebb-logs.duckdb`), attached as `ebb_logs`; query `ebb_logs.sync_records` after attaching it.
   */
  syncLogs: syncLogsFileOption,
});
export type DuckDbSourceSettings = z.infer<typeof duckdbSourceConfigSchema>;

export const duckdbSourceConnector: SourceConnector<DuckDbSourceSettings> = {
  type: 'duckdb',
  configSchema: duckdbSourceConfigSchema,
  create: (config, context) => {
    const file = path.resolve(context.baseDir, config.path);
    const diffFile = config.warehouseDiff === true ? undefined : config.warehouseDiff?.file;
    return createDuckDbSource({
      path: file,
      name: context.name,
      ...(config.warehouseDiff
        ? { snapshotFile: diffFile ? path.resolve(context.baseDir, diffFile) : `${file}.ebb-snapshots.duckdb` }
        : {}),
      ...syncLogsConfig(config, file, context.baseDir),
    });
  },
};

function syncLogsConfig(
  config: DuckDbSourceSettings,
  file: string,
  baseDir: string,
): Pick<DuckDbSourceConfig, 'syncLogs'> {
  const settings = syncLogSettings(config.syncLogs);
  if (!settings) return {};
  const given = config.syncLogs === true ? undefined : config.syncLogs?.file;
  return { syncLogs: { ...settings, file: given ? path.resolve(baseDir, given) : `${file}.ebb-logs.duckdb` } };
}

/** The attached snapshot database's name inside the DuckDB instance. */
const SNAPSHOT_DATABASE = 'ebb_snapshots';

export interface DuckDbSourceConfig {
  path: string;
  /** Warehouse-side diff: the DuckDB file holding ebb's row snapshots. */
  snapshotFile?: string;
  /** Sync logs: the DuckDB file holding the table, attached under `schema`. */
  syncLogs?: SyncLogSettings & { file: string };
  /** Defaults to true: a sync only reads, and read-only lets other processes read the file at the same time. */
  readOnly?: boolean;
  /** The source's name in ebb.yaml, used to point error messages at the config key. */
  name?: string;
}

interface SharedInstance {
  readOnly: boolean;
  users: number;
  instance: Promise<DuckDBInstance>;
}

const instances = new Map<string, SharedInstance>();

export function createDuckDbSource(config: DuckDbSourceConfig): Source {
  const file = path.resolve(config.path);
  const readOnly = config.readOnly ?? true;
  const configKey = config.name === undefined ? 'its path' : `sources.${config.name}.path`;
  let acquired: Promise<DuckDBInstance> | undefined;

  const instance = (): Promise<DuckDBInstance> => {
    if (acquired === undefined) {
      const opening = acquireInstance(file, readOnly, configKey);
      acquired = opening;
      // A failed open is not kept, so that fixing the file and retrying works.
      opening.catch(() => {
        if (acquired === opening) acquired = undefined;
      });
    }
    return acquired;
  };

  const queryError = (sql: string, error: unknown): SourceError => {
    const where = config.name === undefined ? file : `source ${config.name} (${file})`;
    const message = `DuckDB query failed on ${where}: ${messageOf(error)}\nSQL: ${sqlExcerpt(sql)}`;
    return isInterruption(error) || isLockConflict(error)
      ? new TransientSourceError(message, { cause: error })
      : new SourceError(message, { cause: error });
  };

  const run = async (sql: string): Promise<void> => {
    const connection = await (await instance()).connect();
    try {
      await connection.run(sql).catch((error: unknown) => {
        throw queryError(sql, error);
      });
    } finally {
      connection.disconnectSync();
    }
  };
  const snapshotFile = config.snapshotFile;
  const snapshots: SnapshotTable | undefined =
    snapshotFile === undefined
      ? undefined
      : {
          table: `${SNAPSHOT_DATABASE}.row_snapshots`,
          async prepare() {
            await run(`attach if not exists ${literal(snapshotFile)} as ${SNAPSHOT_DATABASE} (READ_WRITE)`);
            await run(snapshotTableDdl(`${SNAPSHOT_DATABASE}.row_snapshots`));
          },
          execute: run,
        };

  const logs = config.syncLogs;
  const syncLogs: SyncLogTable | undefined =
    logs === undefined
      ? undefined
      : {
          table: `${logs.schema}.${logs.table}`,
          retentionDays: logs.retentionDays,
          async prepare() {
            await run(`attach if not exists ${literal(logs.file)} as ${logs.schema} (READ_WRITE)`);
            await run(syncLogTableDdl(`${logs.schema}.${logs.table}`));
          },
          async transaction(fn) {
            const connection = await (await instance()).connect();
            const execute = async (sql: string, params: readonly (string | number | null)[] = []) => {
              await connection.run(sql, [...params]).catch((error: unknown) => {
                // Two runs' writes meeting on the same rows (the retention delete): the retry succeeds.
                if (/conflict/i.test(messageOf(error)))
                  throw new TransientSourceError(`DuckDB sync logs write conflicted: ${messageOf(error)}`, {
                    cause: error,
                  });
                throw queryError(sql, error);
              });
            };
            try {
              await execute('begin transaction');
              try {
                await fn(execute);
              } catch (error) {
                await connection.run('rollback').catch(() => undefined);
                throw error;
              }
              await execute('commit');
            } finally {
              connection.disconnectSync();
            }
          },
        };

  return {
    ...(snapshots ? { snapshots } : {}),
    ...(syncLogs ? { syncLogs } : {}),

    async connect() {
      await instance();
    },

    async describe(sql) {
      const connection = await (await instance()).connect();
      try {
        // Preparing binds the query (names and types are known) without executing it.
        const prepared = await connection.prepare(sql).catch((error: unknown) => {
          throw queryError(sql, error);
        });
        try {
          const columns: ColumnInfo[] = [];
          for (let i = 0; i < prepared.columnCount; i++) {
            columns.push({ name: prepared.columnName(i), type: prepared.columnType(i).toString() });
          }
          assertDistinctNames(
            columns.map((column) => column.name),
            sql,
          );
          return columns;
        } finally {
          prepared.destroySync();
        }
      } finally {
        connection.disconnectSync();
      }
    },

    async *stream({ sql, chunkSize }) {
      if (!Number.isInteger(chunkSize) || chunkSize < 1) {
        throw new SourceError(`chunkSize must be a positive integer, got ${chunkSize}`);
      }
      const connection = await (await instance()).connect();
      let result: DuckDBResult | undefined;
      let exhausted = false;
      try {
        result = await connection.stream(sql).catch((error: unknown) => {
          throw queryError(sql, error);
        });
        const names = result.columnNames();
        assertDistinctNames(names, sql);
        let pending: Row[] = [];
        for (;;) {
          const chunk = await result.fetchChunk().catch((error: unknown) => {
            throw queryError(sql, error);
          });
          if (chunk === null || chunk.rowCount === 0) {
            exhausted = true;
            break;
          }
          for (const values of chunk.getRows()) {
            const row: Row = {};
            values.forEach((value, i) => (row[names[i] as string] = jsonValue(value)));
            pending.push(row);
            if (pending.length === chunkSize) {
              yield pending;
              pending = [];
            }
          }
        }
        if (pending.length > 0) yield pending;
      } finally {
        if (result !== undefined && !exhausted) await abandon(connection, result);
        connection.disconnectSync();
      }
    },

    async close() {
      if (acquired === undefined) return;
      const opened = acquired;
      acquired = undefined;
      await opened.then(
        () => releaseInstance(file),
        () => undefined,
      );
    },
  };
}

/**
 * Whether a source in this process has the file open. A write from this process meanwhile would go
 * through a second instance, and the open one would keep serving the data it had already read.
 */
export function isDuckDbFileOpen(file: string): boolean {
  return instances.has(path.resolve(file));
}

async function acquireInstance(file: string, readOnly: boolean, configKey: string): Promise<DuckDBInstance> {
  const shared = instances.get(file);
  if (shared !== undefined) {
    if (shared.readOnly && !readOnly) {
      throw new SourceError(
        `DuckDB file ${file} is already open read-only in this process; close its read-only sources before opening it read-write`,
      );
    }
    shared.users++;
    return shared.instance;
  }
  if (readOnly && !fs.existsSync(file)) {
    throw new SourceError(`DuckDB file not found: ${file} (${configKey}); check the path or build the warehouse first`);
  }
  const opening = duckdb()
    .DuckDBInstance.create(file, readOnly ? { access_mode: 'READ_ONLY' } : {})
    .catch((error: unknown) => {
      instances.delete(file);
      const message = `Could not open DuckDB file ${file} (${configKey}): ${messageOf(error)}`;
      // Another process holding the file read-write (DuckDB's message names its PID) lets go when its
      // write ends, so a lock is worth a retry; a corrupt or foreign file is not.
      if (isLockConflict(error)) {
        throw new TransientSourceError(`${message}; retrying, as another process is writing the file`, {
          cause: error,
        });
      }
      throw new SourceError(message, { cause: error });
    });
  instances.set(file, { readOnly, users: 1, instance: opening });
  return opening;
}

async function releaseInstance(file: string): Promise<void> {
  const shared = instances.get(file);
  if (shared === undefined) return;
  shared.users--;
  if (shared.users > 0) return;
  instances.delete(file);
  (await shared.instance).closeSync();
}

/**
 * An unfinished streaming result keeps the database (and its file lock) alive until the garbage
 * collector finalises it, even after disconnecting. Interrupting makes DuckDB end the stream after
 * the chunks it already buffered, and a result read to its end lets go at once.
 */
async function abandon(connection: DuckDBConnection, result: DuckDBResult): Promise<void> {
  connection.interrupt();
  try {
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) return;
    }
  } catch {
    // An interrupted stream may end with an error instead of an empty chunk; either way it is finished.
  }
}

/** Another process holds the file (or the attached snapshot file) read-write. */
function isLockConflict(error: unknown): boolean {
  return /could not set lock|conflicting lock/i.test(messageOf(error));
}

/** An interrupted query (another caller's interrupt, a closing database) may succeed when run again. */
function isInterruption(error: unknown): boolean {
  return /interrupt/i.test(messageOf(error));
}

/** Converts a DuckDB value to what survives JSON.stringify unchanged, so rows can be hashed and stored. */
function jsonValue(value: DuckDBValue): unknown {
  const d = duckdb();
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return exactInteger(value);
  if (value instanceof d.DuckDBDecimalValue) return exactDecimal(value.toString());
  if (value instanceof d.DuckDBDateValue) return value.toString();
  if (value instanceof d.DuckDBTimestampValue || value instanceof d.DuckDBTimestampTZValue) {
    return value.isFinite ? isoFromMicros(value.micros) : value.toString();
  }
  if (value instanceof d.DuckDBTimestampSecondsValue) {
    return value.isFinite ? isoFromMicros(value.seconds * 1_000_000n) : value.toString();
  }
  if (value instanceof d.DuckDBTimestampMillisecondsValue) {
    return value.isFinite ? isoFromMicros(value.millis * 1000n) : value.toString();
  }
  if (value instanceof d.DuckDBTimestampNanosecondsValue) {
    return value.isFinite ? isoFromMicros(value.nanos / 1000n) : value.toString();
  }
  if (value instanceof d.DuckDBListValue || value instanceof d.DuckDBArrayValue) return value.items.map(jsonValue);
  if (value instanceof d.DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([key, entry]) => [key, jsonValue(entry)]));
  }
  if (value instanceof d.DuckDBMapValue) {
    return value.entries.map((entry) => ({ key: jsonValue(entry.key), value: jsonValue(entry.value) }));
  }
  if (value instanceof d.DuckDBUnionValue || value instanceof d.DuckDBVariantValue) return jsonValue(value.value);
  // TIME, TIMETZ, INTERVAL, UUID, BLOB, BIT, GEOMETRY: DuckDB's own text form is the readable one.
  return value.toString();
}

const MAX_DATE_MILLIS = 8_640_000_000_000_000n;

/** ISO 8601 in UTC, keeping microseconds when present so cursor values compare exactly. */
function isoFromMicros(micros: bigint): string {
  const remainder = ((micros % 1000n) + 1000n) % 1000n;
  const millis = (micros - remainder) / 1000n;
  if (millis > MAX_DATE_MILLIS || millis < -MAX_DATE_MILLIS)
    return new (duckdb().DuckDBTimestampValue)(micros).toString();
  const iso = new Date(Number(millis)).toISOString();
  return remainder === 0n ? iso : `${iso.slice(0, -1)}${remainder.toString().padStart(3, '0')}Z`;
}
