/**
 * A PostgreSQL database as a warehouse source:
 *
 *   sources:
 *     warehouse:
 *       type: postgres
 *       url: postgres://ebb_reader:${PGPASSWORD}@db.internal:5432/analytics
 *       sslmode: verify-full
 *       sslRootCert: ./certs/db-ca.pem
 *
 *   const source = openSource(config.sources.warehouse, { name: 'warehouse', baseDir });
 *   await source.describe('select * from gold.account_health');   // [{ name: 'id', type: 'bigint' }, ...]
 *   for await (const rows of source.stream({ sql, chunkSize: 1000, label: 'ebb:accounts:7' })) { ... }
 *   await source.close();
 *
 * Each read runs in its own READ ONLY transaction, so a model cannot write, with a statement timeout
 * and the run's label as application_name (visible in pg_stat_activity). Rows come through a
 * server-side cursor (pg-cursor), `chunkSize` at a time, so memory stays bounded at any table size.
 * Values follow source.ts; see postgres-values.ts for each type (bytea as bare hex, timestamps ISO UTC).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type * as Pg from 'pg';
import type { CustomTypesConfig, FieldDef, Pool, PoolClient } from 'pg';
import type Cursor from 'pg-cursor';
import { z } from 'zod';
import { withoutTrailingSemicolons } from '../model-query';
import { syncLogSettings, syncLogsSchemaOption, syncLogTableDdl, type SyncLogTable } from '../sync-log-table';
import { snapshotSchemaName, snapshotTableDdl, warehouseDiffSchemaOption, type SnapshotTable } from '../warehouse-diff';
import {
  assertDistinctNames,
  messageOf,
  SourceError,
  type Row,
  type Source,
  type SourceConnector,
  type SourceContext,
} from '../source';
import { isConnectionLost, postgresError } from './postgres-errors';
import { postgresTypeParser, SESSION_SETTINGS } from './postgres-values';

const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];

const DEFAULT_PORT = 5432;
/** One read at a time per source is the usual case; a second lets describe run beside a stream. */
const POOL_SIZE = 2;

export const postgresSourceConfigSchema = z
  .strictObject({
    type: z.literal('postgres'),
    /** postgres://user:password@host:port/database[?sslmode=...]; instead of host/port/database/user/password. */
    url: z.string().min(1, 'must not be empty').optional(),
    host: z.string().min(1, 'must not be empty').optional(),
    port: z.coerce.number().int().min(1).max(65535).optional(),
    database: z.string().min(1, 'must not be empty').optional(),
    user: z.string().min(1, 'must not be empty').optional(),
    password: z.string().optional(),
    /** As in libpq; unset means no TLS (node-postgres has no libpq-style `prefer`). */
    sslmode: z.enum(SSL_MODES).optional(),
    /** CA certificate file (PEM), relative to ebb.yaml, to verify the server with. */
    sslRootCert: z.string().min(1, 'must not be empty').optional(),
    /**
     * Longest a model's read may take before PostgreSQL cancels it (the run then retries). The cursor's
     * fetches form one statement on the server, so this bounds the whole read, including the time the
     * run spends on each chunk between fetches, not only the query's first rows.
     */
    statementTimeoutSeconds: z.number().positive().default(3600),
    /** application_name outside a run (connect, describe); a stream shows its run's label instead. */
    applicationName: z.string().min(1, 'must not be empty').default('ebb'),
    /** Warehouse-side diff, with ebb's snapshot table in this schema (default `ebb`). */
    warehouseDiff: warehouseDiffSchemaOption,
    /** Sync logs: each run's record results in `ebb_logs.sync_records` (or the schema and table given). */
    syncLogs: syncLogsSchemaOption,
  })
  .superRefine((config, ctx) => {
    const separateKeys = (['host', 'port', 'database', 'user', 'password'] as const).filter(
      (key) => config[key] !== undefined,
    );
    if (config.url !== undefined) {
      if (separateKeys.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: [separateKeys[0] as string],
          message: `set either url or ${separateKeys.join('/')}, not both`,
        });
      }
      const parsed = parsePostgresUrl(config.url);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', path: ['url'], message: parsed });
      } else if (parsed.sslmode !== undefined && config.sslmode !== undefined && parsed.sslmode !== config.sslmode) {
        ctx.addIssue({
          code: 'custom',
          path: ['sslmode'],
          message: `url says sslmode=${parsed.sslmode} but sslmode is ${config.sslmode}; keep one`,
        });
      }
    } else {
      for (const key of ['host', 'database', 'user'] as const) {
        if (config[key] === undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `required unless url is set` });
        }
      }
    }
    if (config.sslmode === 'disable' && config.sslRootCert !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['sslRootCert'], message: 'has no effect with sslmode: disable' });
    }
  });
export type PostgresSourceSettings = z.infer<typeof postgresSourceConfigSchema>;

export const postgresSourceConnector: SourceConnector<PostgresSourceSettings> = {
  type: 'postgres',
  configSchema: postgresSourceConfigSchema,
  create: (config, context) => createPostgresSource(config, context),
};

interface ConnectionTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode?: SslMode;
}

/** Parses a postgres:// URL, or says what is wrong with it (without repeating it: it may hold a password). */
function parsePostgresUrl(url: string): ConnectionTarget | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL; expected postgres://user:password@host:5432/database (percent-encode special characters)';
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return `must start with postgres:// or postgresql://, not ${parsed.protocol}//`;
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !parsed.username || !database) {
    return 'must name the host, the user and the database: postgres://user:password@host:5432/database';
  }
  let sslmode: SslMode | undefined;
  for (const [key, value] of parsed.searchParams) {
    // Other libpq parameters (sslrootcert, options, ...) have their own keys here, or no meaning for ebb.
    if (key !== 'sslmode') return `has parameter '${key}'; only sslmode is read from the url`;
    if (!SSL_MODES.includes(value as SslMode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`;
    sslmode = value as SslMode;
  }
  return {
    host: decodeURIComponent(parsed.hostname.replace(/^\[(.*)\]$/, '$1')),
    port: parsed.port ? Number(parsed.port) : DEFAULT_PORT,
    database,
    user: decodeURIComponent(parsed.username),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(sslmode ? { sslmode } : {}),
  };
}

function connectionTarget(settings: PostgresSourceSettings, context: SourceContext): ConnectionTarget {
  if (settings.url !== undefined) {
    const parsed = parsePostgresUrl(settings.url);
    if (typeof parsed === 'string') throw new SourceError(`sources.${context.name}.url ${parsed}`);
    return settings.sslmode === undefined ? parsed : { ...parsed, sslmode: settings.sslmode };
  }
  return {
    host: settings.host ?? 'localhost',
    port: settings.port ?? DEFAULT_PORT,
    database: settings.database ?? '',
    user: settings.user ?? '',
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.sslmode ? { sslmode: settings.sslmode } : {}),
  };
}

/** libpq's sslmode in Node's TLS terms. */
function tlsOptions(sslmode: SslMode | undefined, ca: string | undefined): ConnectionOptions | false {
  switch (sslmode) {
    case undefined:
    case 'disable':
      return false;
    case 'require':
      // As libpq: with a root certificate, require checks the chain like verify-ca.
      return ca === undefined ? { rejectUnauthorized: false } : { ca, checkServerIdentity: () => undefined };
    case 'verify-ca':
      return { ...(ca === undefined ? {} : { ca }), checkServerIdentity: () => undefined };
    case 'verify-full':
      return ca === undefined ? {} : { ca };
  }
}

/**
 * Our parsers take text only; pg asks for binary parsers only for queries sent with `binary: true`,
 * which this source never does, hence the cast to pg's overloaded signature.
 */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number) => postgresTypeParser(oid)) as CustomTypesConfig['getTypeParser'],
};

/* eslint-disable @typescript-eslint/no-require-imports -- loaded when a PostgreSQL source opens: every CLI command loads the source registry */
const pg = () => require('pg') as typeof Pg;
const pgCursor = () => require('pg-cursor') as typeof Cursor;
/* eslint-enable @typescript-eslint/no-require-imports */

export function createPostgresSource(settings: PostgresSourceSettings, context: SourceContext): Source {
  const target = connectionTarget(settings, context);
  const where = `source ${context.name} (postgres ${target.host}:${target.port}/${target.database})`;
  const statementTimeoutMillis = String(Math.max(1, Math.round(settings.statementTimeoutSeconds * 1000)));
  let pool: Pool | undefined;

  const openPool = (): Pool => {
    if (pool !== undefined) return pool;
    let ca: string | undefined;
    if (settings.sslRootCert !== undefined) {
      const file = path.resolve(context.baseDir, settings.sslRootCert);
      try {
        ca = fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw new SourceError(`sources.${context.name}.sslRootCert: cannot read ${file}: ${messageOf(error)}`, {
          cause: error,
        });
      }
    }
    const opened = new (pg().Pool)({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ssl: tlsOptions(target.sslmode, ca),
      application_name: settings.applicationName,
      max: POOL_SIZE,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 30_000,
      keepAlive: true,
      types: TYPES,
    });
    // An idle connection the server drops (a restart, an idle timeout) is reported here; without a
    // listener it would crash the process. The pool discards it and the next read opens a new one.
    opened.on('error', () => undefined);
    pool = opened;
    return opened;
  };

  const checkout = async (): Promise<PoolClient> => {
    try {
      return await openPool().connect();
    } catch (error) {
      throw error instanceof SourceError ? error : postgresError(error, { where });
    }
  };

  /** Starts the read-only transaction every read runs in, with the settings the value parsers rely on. */
  const begin = async (client: PoolClient, label: string | undefined): Promise<void> => {
    const settingsToSet: Array<readonly [string, string]> = [
      ...SESSION_SETTINGS,
      ['statement_timeout', statementTimeoutMillis],
      ...(label === undefined ? [] : [['application_name', label] as const]),
    ];
    try {
      await client.query('begin transaction read only');
      await client.query({
        text: `select ${settingsToSet.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
        values: settingsToSet.flat(),
      });
    } catch (error) {
      throw postgresError(error, { where });
    }
  };

  /** Ends the transaction and returns the connection, or discards it when it cannot be trusted. */
  const finish = async (client: PoolClient, failure: unknown): Promise<void> => {
    const cause = failure instanceof Error && failure.cause !== undefined ? failure.cause : failure;
    if (failure !== undefined && isConnectionLost(cause)) {
      client.release(true);
      return;
    }
    try {
      // A read-only transaction has nothing to commit; rollback also ends one an error aborted.
      await client.query('rollback');
      client.release();
    } catch {
      client.release(true);
    }
  };

  /** Writes to ebb's own snapshot schema, outside the read-only transactions of the model reads. */
  const execute = async (sql: string): Promise<void> => {
    const client = await checkout();
    let failure: unknown;
    try {
      await client.query(sql).catch((error: unknown) => {
        throw postgresError(error, { where, sql });
      });
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      if (failure !== undefined && isConnectionLost(failure instanceof Error ? failure.cause : failure)) {
        client.release(true);
      } else {
        client.release();
      }
    }
  };
  const snapshotSchema = snapshotSchemaName(settings.warehouseDiff);
  const snapshots: SnapshotTable | undefined =
    snapshotSchema === undefined
      ? undefined
      : {
          table: `"${snapshotSchema}"."row_snapshots"`,
          async prepare() {
            await execute(`create schema if not exists "${snapshotSchema}"`);
            await execute(snapshotTableDdl(`"${snapshotSchema}"."row_snapshots"`));
          },
          execute,
        };

  const logs = syncLogSettings(settings.syncLogs);
  const syncLogs: SyncLogTable | undefined =
    logs === undefined
      ? undefined
      : {
          table: `"${logs.schema}"."${logs.table}"`,
          retentionDays: logs.retentionDays,
          async prepare() {
            await execute(`create schema if not exists "${logs.schema}"`);
            await execute(syncLogTableDdl(`"${logs.schema}"."${logs.table}"`));
          },
          async transaction(fn) {
            const client = await checkout();
            let failure: unknown;
            const run = async (sql: string, params: readonly (string | number | null)[] = []) => {
              await client.query(sql, [...params]).catch((error: unknown) => {
                throw postgresError(error, { where, sql });
              });
            };
            try {
              await run('begin');
              await fn(run);
              await run('commit');
            } catch (error) {
              failure = error;
              await client.query('rollback').catch(() => undefined);
              throw error;
            } finally {
              const cause = failure instanceof Error && failure.cause !== undefined ? failure.cause : failure;
              client.release(failure !== undefined && isConnectionLost(cause));
            }
          },
        };

  return {
    ...(snapshots ? { snapshots } : {}),
    ...(syncLogs ? { syncLogs } : {}),

    async connect() {
      const client = await checkout();
      client.release();
    },

    async describe(sql) {
      const client = await checkout();
      let failure: unknown;
      try {
        await begin(client, undefined);
        // `limit 0` lets the server plan the query and describe its columns without producing a row.
        const empty = await client
          .query({ text: `select * from (${withoutTrailingSemicolons(sql)}\n) as ebb_model limit 0`, rowMode: 'array' })
          .catch((error: unknown) => {
            throw postgresError(error, { where, sql });
          });
        assertDistinctNames(
          empty.fields.map((field) => field.name),
          sql,
        );
        const typeNames = await client
          .query<{ type: string }>({
            text: 'select format_type(t.oid, t.typmod) as type from unnest($1::oid[], $2::int4[]) with ordinality as t(oid, typmod, n) order by t.n',
            values: [
              empty.fields.map((field) => field.dataTypeID),
              empty.fields.map((field) => field.dataTypeModifier),
            ],
          })
          .catch((error: unknown) => {
            throw postgresError(error, { where });
          });
        return empty.fields.map((field, i) => ({ name: field.name, type: typeNames.rows[i]?.type ?? 'unknown' }));
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        await finish(client, failure);
      }
    },

    async *stream({ sql, chunkSize, label }) {
      if (!Number.isInteger(chunkSize) || chunkSize < 1) {
        throw new SourceError(`chunkSize must be a positive integer, got ${chunkSize}`);
      }
      const client = await checkout();
      let cursor: Cursor<unknown[]> | undefined;
      let exhausted = false;
      let failure: unknown;
      try {
        await begin(client, label);
        cursor = client.query(new (pgCursor())<unknown[]>(sql, undefined, { rowMode: 'array', types: TYPES }));
        let names: string[] | undefined;
        while (!exhausted) {
          const { rows, fields } = await readChunk(cursor, chunkSize).catch((error: unknown) => {
            throw postgresError(error, { where, sql });
          });
          if (names === undefined) {
            names = fields.map((field) => field.name);
            assertDistinctNames(names, sql);
          }
          // A short chunk is the last: the server ran the portal to completion.
          exhausted = rows.length < chunkSize;
          if (rows.length > 0) yield rows.map((values) => rowObject(names ?? [], values));
        }
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        // The consumer stopped early (break, an error of its own): close the portal before rolling back.
        if (cursor !== undefined && !exhausted && failure === undefined) {
          await cursor.close().catch((error: unknown) => {
            failure = error;
          });
        }
        await finish(client, failure);
      }
    },

    async close() {
      const opened = pool;
      pool = undefined;
      await opened?.end();
    },
  };
}

/** pg-cursor's promise form drops the column descriptions, which name the row's keys. */
function readChunk(cursor: Cursor<unknown[]>, rows: number): Promise<{ rows: unknown[][]; fields: FieldDef[] }> {
  return new Promise((resolve, reject) => {
    cursor.read(rows, (error, chunk, result) => {
      if (error) reject(error);
      else resolve({ rows: chunk, fields: result.fields });
    });
  });
}

function rowObject(names: string[], values: unknown[]): Row {
  const row: Row = {};
  names.forEach((name, i) => (row[name] = values[i]));
  return row;
}
