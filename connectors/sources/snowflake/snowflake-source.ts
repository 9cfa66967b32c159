/**
 * A Snowflake warehouse as a source, through the official Node driver (`snowflake-sdk`).
 *
 *   sources:
 *     warehouse:
 *       type: snowflake
 *       account: myorg-myaccount
 *       username: EBB_SYNC
 *       privateKey: ${SNOWFLAKE_PRIVATE_KEY}     # or privateKeyPath: ./keys/ebb.p8, or password
 *       warehouse: REVERSE_ETL_WH
 *       database: ANALYTICS
 *       schema: GOLD
 *
 * One Snowflake session per source, opened by connect() (or the first describe/stream). Before each
 * streamed query the session gets QUERY_TAG (the run's label, so admins can find ebb's queries) and
 * STATEMENT_TIMEOUT_IN_SECONDS. Rows are streamed across result chunks: the driver downloads a
 * chunk only when the rows before it have been read, so memory holds about one chunk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { withoutTrailingSemicolons } from '../model-query';
import { syncLogsSchemaOption } from '../sync-log-table';
import { snapshotSchemaName, snapshotTableDdl, warehouseDiffSchemaOption, type SnapshotTable } from '../warehouse-diff';
import { assertDistinctNames, messageOf, SourceError, TransientSourceError } from '../source';
import type { ColumnInfo, Row, Source, SourceConnector, SourceContext } from '../source';
import { openSnowflakeSession, type DriverConnectionOptions, type SnowflakeSession } from './snowflake-driver';
import { loginError, queryError } from './snowflake-errors';
import { converterFor, snowflakeTypeName } from './snowflake-values';

const nonEmpty = z.string().min(1, 'must not be empty');

export const snowflakeSourceConfigSchema = z
  .strictObject({
    type: z.literal('snowflake'),
    /** Account identifier, e.g. 'myorg-myaccount' (the part before .snowflakecomputing.com). */
    account: nonEmpty,
    username: nonEmpty,
    password: nonEmpty.optional(),
    /** PEM text of the private key (PKCS#8, possibly encrypted), typically ${SNOWFLAKE_PRIVATE_KEY}. */
    privateKey: nonEmpty.optional(),
    /** A PEM file with the private key, relative to ebb.yaml. */
    privateKeyPath: nonEmpty.optional(),
    privateKeyPassphrase: nonEmpty.optional(),
    warehouse: nonEmpty,
    role: nonEmpty.optional(),
    database: nonEmpty,
    schema: nonEmpty,
    /** Snowflake cancels a model query running longer than this (STATEMENT_TIMEOUT_IN_SECONDS). */
    statementTimeoutSeconds: z.number().int().positive().default(3600),
    /** Where the account is reached, e.g. a PrivateLink URL or a local sandbox; default from `account`. */
    accessUrl: z.url().optional(),
    /** Warehouse-side diff, with ebb's snapshot table in this schema of `database` (default `ebb`). */
    warehouseDiff: warehouseDiffSchemaOption,
    /** Accepted in its PostgreSQL shape so the message below can say what is missing, rather than "unknown key". */
    syncLogs: syncLogsSchemaOption,
  })
  .superRefine((config, context) => {
    if (config.syncLogs !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['syncLogs'],
        message:
          'sync logs in the warehouse are not supported for Snowflake sources yet (DuckDB and PostgreSQL only); ' +
          'remove syncLogs, and use `ebb records <sync> --failed` for per-record results',
      });
    }
    const methods = (['password', 'privateKey', 'privateKeyPath'] as const).filter((key) => config[key] !== undefined);
    if (methods.length !== 1) {
      context.addIssue({
        code: 'custom',
        message:
          methods.length === 0
            ? 'needs one way to log in: password, privateKey or privateKeyPath'
            : `give only one way to log in, not ${methods.join(' and ')}`,
      });
    }
    if (config.privateKeyPassphrase !== undefined && config.password !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['privateKeyPassphrase'],
        message: 'only applies to privateKey or privateKeyPath',
      });
    }
  });
export type SnowflakeSourceSettings = z.infer<typeof snowflakeSourceConfigSchema>;

export const snowflakeSourceConnector: SourceConnector<SnowflakeSourceSettings> = {
  type: 'snowflake',
  configSchema: snowflakeSourceConfigSchema,
  create: (config, context) => createSnowflakeSource(config, context),
};

/** Margin over the statement timeout before ebb stops waiting for the driver (it retries network errors). */
const DRIVER_GRACE_SECONDS = 120;

export function createSnowflakeSource(config: SnowflakeSourceSettings, context: SourceContext): Source {
  let opened: Promise<SnowflakeSession> | undefined;

  const session = (): Promise<SnowflakeSession> => {
    if (opened === undefined) {
      const opening = openSnowflakeSession(connectionOptions(config, context)).catch((error: unknown) => {
        throw loginError(error, context.name, config.account);
      });
      opened = opening;
      // A failed login is not kept, so that a fixed password or a reachable account works on retry.
      opening.catch(() => {
        if (opened === opening) opened = undefined;
      });
    }
    return opened;
  };

  /** After a transient failure the session may be gone (expired, disconnected): log in afresh next time. */
  const forgetSessionAfter = async (error: Error): Promise<never> => {
    if (error instanceof TransientSourceError && opened !== undefined) {
      const stale = opened;
      opened = undefined;
      await stale.then((s) => s.close()).catch(() => undefined);
    }
    throw error;
  };

  const run = async (current: SnowflakeSession, sql: string, stream: boolean) => {
    try {
      return await withDeadline(
        current.execute(sql, { stream }),
        (config.statementTimeoutSeconds + DRIVER_GRACE_SECONDS) * 1000,
      );
    } catch (error) {
      return forgetSessionAfter(queryError(error, context.name, sql));
    }
  };

  const snapshotSchema = snapshotSchemaName(config.warehouseDiff);
  const execute = async (sql: string): Promise<void> => {
    await run(await session(), sql, false);
  };
  const snapshots: SnapshotTable | undefined =
    snapshotSchema === undefined
      ? undefined
      : {
          table: `${snapshotSchema}.row_snapshots`,
          async prepare() {
            await execute(`create schema if not exists ${snapshotSchema}`);
            await execute(snapshotTableDdl(`${snapshotSchema}.row_snapshots`));
          },
          execute,
        };

  return {
    ...(snapshots ? { snapshots } : {}),

    async connect() {
      await session();
    },

    async describe(sql) {
      const current = await session();
      // limit 0 lets Snowflake compile the query and return its columns without reading a row.
      const statement = await run(current, `select * from (${withoutTrailingSemicolons(sql.trim())}) limit 0`, false);
      const columns: ColumnInfo[] = (statement.getColumns() ?? []).map((column) => ({
        name: column.getName(),
        type: snowflakeTypeName(column),
      }));
      assertDistinctNames(
        columns.map((column) => column.name),
        sql,
      );
      return columns;
    },

    async *stream({ sql, chunkSize, label }) {
      if (!Number.isInteger(chunkSize) || chunkSize < 1) {
        throw new SourceError(`chunkSize must be a positive integer, got ${chunkSize}`);
      }
      const current = await session();
      await run(
        current,
        `alter session set QUERY_TAG = ${literal(label ?? '')} STATEMENT_TIMEOUT_IN_SECONDS = ${config.statementTimeoutSeconds}`,
        false,
      );
      const statement = await run(current, withoutTrailingSemicolons(sql.trim()), true);
      const columns = statement.getColumns() ?? [];
      const names = columns.map((column) => column.getName());
      assertDistinctNames(names, sql);
      const converters = columns.map(converterFor);
      const rows = statement.streamRows();
      try {
        let pending: Row[] = [];
        // for await reads one row at a time: while a chunk is with the consumer, the driver's
        // stream stays paused at its high-water mark and no further result chunk is downloaded.
        for await (const raw of rows as AsyncIterable<Record<string, unknown>>) {
          const row: Row = {};
          names.forEach((name, i) => (row[name] = converters[i]?.(raw[name]) ?? null));
          pending.push(row);
          if (pending.length === chunkSize) {
            yield pending;
            pending = [];
          }
        }
        if (pending.length > 0) yield pending;
      } catch (error) {
        if (error instanceof SourceError || error instanceof TransientSourceError) throw error;
        await forgetSessionAfter(queryError(error, context.name, sql));
      } finally {
        rows.destroy();
      }
    },

    async close() {
      if (opened === undefined) return;
      const closing = opened;
      opened = undefined;
      await closing.then(
        (s) => s.close(),
        () => undefined,
      );
    },
  };
}

function connectionOptions(config: SnowflakeSourceSettings, context: SourceContext): DriverConnectionOptions {
  const common: DriverConnectionOptions = {
    account: config.account,
    username: config.username,
    warehouse: config.warehouse,
    database: config.database,
    schema: config.schema,
    ...(config.role !== undefined ? { role: config.role } : {}),
    ...(config.accessUrl !== undefined ? { accessUrl: config.accessUrl } : {}),
  };
  if (config.password !== undefined) return { ...common, password: config.password };
  return {
    ...common,
    authenticator: 'SNOWFLAKE_JWT',
    privateKey: privateKeyText(config, context),
    ...(config.privateKeyPassphrase !== undefined ? { privateKeyPass: config.privateKeyPassphrase } : {}),
  };
}

function privateKeyText(config: SnowflakeSourceSettings, context: SourceContext): string {
  if (config.privateKey !== undefined) return normalizePem(config.privateKey);
  const file = path.resolve(context.baseDir, config.privateKeyPath ?? '');
  try {
    return normalizePem(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SourceError(
      `sources.${context.name}.privateKeyPath: cannot read the private key ${file}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/**
 * Keys pasted into environment variables often arrive with literal "\n" or without the final newline;
 * the driver accepts a PEM only when it ends with "\n-----END ...".
 */
function normalizePem(pem: string): string {
  return pem.replace(/\\n/g, '\n').trim() + '\n';
}

function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The driver retries network errors for a long time; past the deadline the run fails and is retried. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(Object.assign(new Error(`no answer from Snowflake within ${ms / 1000} s`), { name: 'NetworkError' })),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
