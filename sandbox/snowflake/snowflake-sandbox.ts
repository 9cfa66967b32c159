/**
 * A local stand-in for Snowflake that the real `snowflake-sdk` Node driver talks to: its private
 * REST protocol (the one behind `connection.execute`), with SQL executed on an in-memory DuckDB.
 * See snowflake-sql.ts for the SQL it accepts and where it differs from Snowflake.
 *
 *   const snowflake = await startSnowflakeSandbox({ users: [{ username: 'EBB', password: 'pw' }] });
 *   await snowflake.sql('create table accounts as select range as id from range(10)');
 *   snowflakeSdk.createConnection({ account: snowflake.account, username: 'EBB', password: 'pw',
 *     accessUrl: snowflake.url });                       // or an ebb source with `accessUrl`
 *   snowflake.stats();   // { logins, queries: [{ sql, queryTag, ... }], chunkDownloads, bytesServed, ... }
 *   await snowflake.close();
 *
 * Protocol, as the driver (3.3.0) uses it:
 *   POST /session/v1/login-request   password or SNOWFLAKE_JWT key pair -> session + master token
 *   POST /queries/v1/query-request   gzip'd JSON `{ sqlText }` (the driver may label a body gzip
 *                                    that is not, so the magic bytes decide) -> a result, or
 *                                    code 333333 + getResultUrl while the query runs
 *   GET  /queries/<id>/result        long poll: held up to `pollHoldMs`, then 333333 again or the result
 *   GET  /__chunks/<id>/<n>          result chunks past the first rowset, as cloud storage would
 *                                    serve them: rows JSON without the outer brackets, gzip'd,
 *                                    only with the SSE-C key header built from the result's `qrmk`
 *   POST /session/token-request      renews an expired session token with the master token
 *   POST /session?delete=true        logs out
 * Failures answer HTTP 200 with `{ success: false, code, message, data: { sqlState } }`, as Snowflake.
 */
import * as crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as zlib from 'node:zlib';
import { DuckDBInstance, VARCHAR } from '@duckdb/node-api';
import { checkLogin, type LoginData, type SandboxUser } from './snowflake-auth';
import {
  failureFromDuckDb,
  JWT_INVALID,
  LOGIN_FAILED,
  MASTER_TOKEN_EXPIRED,
  SESSION_GONE,
  SESSION_TOKEN_EXPIRED,
  statementTimeout,
  type SnowflakeFailure,
} from './snowflake-errors';
import { rowTypeOf, wireValue, type RowType, type WireRow } from './snowflake-rowset';
import { parseSessionCommand, snowflakeColumnName, toDuckDbSql } from './snowflake-sql';

export type { SandboxUser } from './snowflake-auth';

export interface SnowflakeSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Account name the driver must log in to; default 'EBB_SANDBOX'. */
  account?: string;
  /** Default: one user EBB with password 'ebb-sandbox-password'. */
  users?: SandboxUser[];
  /** Rows in the inline rowset and in each downloaded chunk; default 10,000. */
  rowsPerChunk?: number;
  /** How long every query stays "running" before its result is ready; default 0. */
  queryDelayMs?: number;
  /** How long query-request and result polls are held before answering "still running"; default 200. */
  pollHoldMs?: number;
  /** Session token lifetime; default 3600. The driver renews it when a request answers 390112. */
  sessionTokenValiditySeconds?: number;
  /** Master token lifetime (how long a session can be renewed); default 14400. */
  masterTokenValiditySeconds?: number;
}

export interface SandboxLogin {
  username: string;
  authenticator: 'SNOWFLAKE' | 'SNOWFLAKE_JWT';
  ok: boolean;
  warehouse?: string;
  database?: string;
  schema?: string;
  role?: string;
}

export interface SandboxQuery {
  queryId: string;
  sessionId: number;
  sql: string;
  /** The session's QUERY_TAG when the statement was submitted ('' when unset). */
  queryTag: string;
  /** The session's STATEMENT_TIMEOUT_IN_SECONDS when submitted (0: none). */
  statementTimeoutSeconds: number;
  status: 'running' | 'succeeded' | 'failed';
  errorCode?: string;
  rowCount?: number;
  /** How many times the driver asked for the result while the query was running. */
  polls: number;
  /** Chunks the result was split into beyond the inline rowset. */
  chunks: number;
}

export interface SnowflakeSandboxStats {
  logins: SandboxLogin[];
  queries: SandboxQuery[];
  chunkDownloads: number;
  /** Bytes of chunk bodies served (as sent, gzip'd). */
  bytesServed: number;
  tokenRenewals: number;
  sessionsClosed: number;
}

export interface SessionView {
  sessionId: number;
  username: string;
  parameters: Record<string, string | number | boolean>;
  closed: boolean;
}

export interface SnowflakeSandbox {
  /** Base URL for the driver's `accessUrl`, e.g. http://127.0.0.1:PORT. */
  url: string;
  host: string;
  port: number;
  account: string;
  /** Runs SQL (DuckDB dialect, Snowflake-isms translated) on the underlying database, e.g. to seed tables. */
  sql(text: string): Promise<void>;
  stats(): SnowflakeSandboxStats;
  sessions(): SessionView[];
  /** Makes every current session token answer 390112 (renewable); with `master`, renewal fails too (390114). */
  expireSessions(options?: { master?: boolean }): void;
  /** Changes how long queries submitted from now on stay running. */
  setQueryDelay(ms: number): void;
  close(): Promise<void>;
}

interface Session {
  id: number;
  username: string;
  token: string;
  masterToken: string;
  tokenExpiresAt: number;
  masterExpiresAt: number;
  parameters: Record<string, string | number | boolean>;
  warehouse: string;
  database: string;
  schema: string;
  role: string;
  closed: boolean;
}

interface Result {
  rowTypes: RowType[];
  rows: WireRow[];
  qrmk: string;
}

interface Query {
  record: SandboxQuery;
  done: Promise<void>;
  body?: object;
  result?: Result;
}

const DEFAULT_USERS: SandboxUser[] = [{ username: 'EBB', password: 'ebb-sandbox-password' }];
const SELECT_STATEMENT = 0x1000;
const SESSION_STATEMENT = 0x4000;

/** Output formats the driver needs to render values (it asserts on BINARY_OUTPUT_FORMAT). */
const RESULT_PARAMETERS: Record<string, string | number | boolean> = {
  TIMEZONE: 'America/Los_Angeles',
  DATE_OUTPUT_FORMAT: 'YYYY-MM-DD',
  TIME_OUTPUT_FORMAT: 'HH24:MI:SS',
  TIMESTAMP_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM',
  TIMESTAMP_NTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3',
  TIMESTAMP_LTZ_OUTPUT_FORMAT: '',
  TIMESTAMP_TZ_OUTPUT_FORMAT: '',
  BINARY_OUTPUT_FORMAT: 'HEX',
  CLIENT_RESULT_CHUNK_SIZE: 160,
};

export async function startSnowflakeSandbox(options: SnowflakeSandboxOptions = {}): Promise<SnowflakeSandbox> {
  const account = (options.account ?? 'EBB_SANDBOX').toUpperCase();
  const users = options.users ?? DEFAULT_USERS;
  const rowsPerChunk = options.rowsPerChunk ?? 10_000;
  const pollHoldMs = options.pollHoldMs ?? 200;
  const sessionValidity = options.sessionTokenValiditySeconds ?? 3600;
  const masterValidity = options.masterTokenValiditySeconds ?? 14_400;
  let queryDelayMs = options.queryDelayMs ?? 0;

  const database = await DuckDBInstance.create(':memory:');
  const shutdown = new AbortController();
  const sessions = new Map<number, Session>();
  const queries = new Map<string, Query>();
  const stats: SnowflakeSandboxStats = {
    logins: [],
    queries: [],
    chunkDownloads: 0,
    bytesServed: 0,
    tokenRenewals: 0,
    sessionsClosed: 0,
  };
  let nextSessionId = 1;
  let baseUrl = '';

  const runDuckDb = async (sql: string) => {
    const connection = await database.connect();
    try {
      return await connection.runAndReadAll(sql);
    } finally {
      connection.disconnectSync();
    }
  };

  const sessionOf = (request: http.IncomingMessage): Session | SnowflakeFailure => {
    const token = /Snowflake Token="([^"]*)"/.exec(request.headers.authorization ?? '')?.[1];
    const session = [...sessions.values()].find((candidate) => candidate.token === token);
    if (session === undefined || session.closed) return SESSION_GONE;
    if (session.tokenExpiresAt <= Date.now()) return SESSION_TOKEN_EXPIRED;
    return session;
  };

  const login = (data: LoginData, params: URLSearchParams): object => {
    const check = checkLogin(data, account, users);
    const jwt = String(data.AUTHENTICATOR ?? '').toUpperCase() === 'SNOWFLAKE_JWT';
    const entry: SandboxLogin = {
      username: typeof data.LOGIN_NAME === 'string' ? data.LOGIN_NAME : '',
      authenticator: jwt ? 'SNOWFLAKE_JWT' : 'SNOWFLAKE',
      ok: check.ok,
      ...definedEntries({
        warehouse: params.get('warehouse'),
        database: params.get('databaseName'),
        schema: params.get('schemaName'),
        role: params.get('roleName'),
      }),
    };
    stats.logins.push(entry);
    if (!check.ok) return failure(check.reason === 'jwt' ? JWT_INVALID : LOGIN_FAILED);
    const now = Date.now();
    const session: Session = {
      id: nextSessionId++,
      username: check.user.username.toUpperCase(),
      token: randomToken(),
      masterToken: randomToken(),
      tokenExpiresAt: now + sessionValidity * 1000,
      masterExpiresAt: now + masterValidity * 1000,
      parameters: {},
      warehouse: entry.warehouse ?? '',
      database: entry.database ?? '',
      schema: entry.schema ?? '',
      role: entry.role ?? 'PUBLIC',
      closed: false,
    };
    sessions.set(session.id, session);
    return {
      data: {
        masterToken: session.masterToken,
        token: session.token,
        validityInSeconds: sessionValidity,
        masterValidityInSeconds: masterValidity,
        displayUserName: session.username,
        serverVersion: '9.0.0-ebb-sandbox',
        firstLogin: false,
        healthCheckInterval: 45,
        sessionId: session.id,
        parameters: parameterList(RESULT_PARAMETERS),
        sessionInfo: {
          databaseName: session.database,
          schemaName: session.schema,
          warehouseName: session.warehouse,
          roleName: session.role,
        },
      },
      code: null,
      message: null,
      success: true,
    };
  };

  const renew = (request: http.IncomingMessage): object => {
    const token = /Snowflake Token="([^"]*)"/.exec(request.headers.authorization ?? '')?.[1];
    const session = [...sessions.values()].find((candidate) => candidate.masterToken === token);
    if (session === undefined || session.closed) return failure(SESSION_GONE);
    if (session.masterExpiresAt <= Date.now()) return failure(MASTER_TOKEN_EXPIRED);
    session.token = randomToken();
    session.tokenExpiresAt = Date.now() + sessionValidity * 1000;
    stats.tokenRenewals++;
    return {
      data: {
        sessionToken: session.token,
        validityInSecondsST: sessionValidity,
        masterToken: session.masterToken,
        validityInSecondsMT: Math.max(1, Math.round((session.masterExpiresAt - Date.now()) / 1000)),
        sessionId: session.id,
      },
      code: null,
      message: null,
      success: true,
    };
  };

  const submit = (session: Session, sql: string): Query => {
    const queryId = crypto.randomUUID();
    const timeoutSeconds = Number(session.parameters.STATEMENT_TIMEOUT_IN_SECONDS ?? 0);
    const record: SandboxQuery = {
      queryId,
      sessionId: session.id,
      sql,
      queryTag: String(session.parameters.QUERY_TAG ?? ''),
      statementTimeoutSeconds: timeoutSeconds,
      status: 'running',
      polls: 0,
      chunks: 0,
    };
    stats.queries.push(record);
    const query: Query = { record, done: Promise.resolve() };
    // Session commands return at once in Snowflake too; only real statements "run".
    const delay = parseSessionCommand(sql) === undefined ? queryDelayMs : 0;
    query.done = (async () => {
      const timeoutMs = timeoutSeconds > 0 ? timeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
      if (delay > 0) await sleep(Math.min(delay, timeoutMs), undefined, { signal: shutdown.signal });
      if (delay >= timeoutMs) {
        finish(query, failure(statementTimeout(timeoutSeconds), queryId));
        return;
      }
      finish(query, await execute(session, sql, queryId));
    })().catch((error: unknown) => {
      finish(query, failure({ code: '100000', message: String(error) }, queryId));
    });
    queries.set(queryId, query);
    return query;
  };

  const finish = (query: Query, body: object & { success?: boolean; code?: unknown }) => {
    query.body = body;
    query.record.status = body.success === false ? 'failed' : 'succeeded';
    if (body.success === false && typeof body.code === 'string') query.record.errorCode = body.code;
  };

  const execute = async (session: Session, sql: string, queryId: string): Promise<object> => {
    const command = parseSessionCommand(sql);
    if (command !== undefined) {
      if (command.kind === 'set') Object.assign(session.parameters, command.parameters);
      if (command.kind === 'unset') for (const name of command.names) delete session.parameters[name];
      if (command.kind === 'use') {
        const key = command.object as 'warehouse' | 'database' | 'schema' | 'role';
        session[key] = command.name;
      }
      const status = rowTypeOf('status', VARCHAR);
      const result: Result = { rowTypes: [status], rows: [['Statement executed successfully.']], qrmk: '' };
      return resultBody(session, queryId, result, SESSION_STATEMENT);
    }
    let reader;
    try {
      reader = await runDuckDb(toDuckDbSql(sql));
    } catch (error) {
      // Native addon errors fail instanceof Error under Jest's realms, so read the message directly.
      const message = (error as { message?: unknown }).message;
      return failure(failureFromDuckDb(typeof message === 'string' ? message : String(error), sql), queryId);
    }
    const types = reader.columnTypes();
    const rowTypes = reader.columnNames().map((name, i) => {
      const type = types[i];
      if (type === undefined) throw new Error(`DuckDB returned no type for column ${name}`);
      return rowTypeOf(snowflakeColumnName(name, sql), type);
    });
    const rows = reader.getRows().map((values) => values.map((value, i) => wireValue(value, rowTypes[i] as RowType)));
    const result: Result = { rowTypes, rows, qrmk: crypto.randomBytes(32).toString('base64') };
    const query = queries.get(queryId);
    if (query) {
      query.result = result;
      query.record.rowCount = rows.length;
    }
    return resultBody(session, queryId, result, SELECT_STATEMENT);
  };

  const resultBody = (session: Session, queryId: string, result: Result, statementTypeId: number): object => {
    const chunks = [];
    for (let start = rowsPerChunk, index = 0; start < result.rows.length; start += rowsPerChunk, index++) {
      const rowCount = Math.min(rowsPerChunk, result.rows.length - start);
      // Sizes are advisory for the driver (it only logs them); the body is measured when served.
      chunks.push({ url: `${baseUrl}/__chunks/${queryId}/${index}`, rowCount, uncompressedSize: 0, compressedSize: 0 });
    }
    const query = queries.get(queryId);
    if (query) query.record.chunks = chunks.length;
    return {
      data: {
        parameters: parameterList({ ...RESULT_PARAMETERS, ...session.parameters }),
        rowtype: result.rowTypes,
        rowset: result.rows.slice(0, rowsPerChunk),
        total: result.rows.length,
        returned: result.rows.length,
        queryId,
        databaseProvider: null,
        finalDatabaseName: session.database,
        finalSchemaName: session.schema,
        finalWarehouseName: session.warehouse,
        finalRoleName: session.role,
        numberOfBinds: 0,
        arrayBindSupported: false,
        statementTypeId,
        version: 1,
        sendResultTime: Date.now(),
        queryResultFormat: 'json',
        ...(chunks.length > 0 ? { chunks, qrmk: result.qrmk } : {}),
      },
      code: null,
      message: null,
      success: true,
    };
  };

  /** Waits up to pollHoldMs for a query, as Snowflake holds its long polls, then answers. */
  const answer = async (query: Query): Promise<object> => {
    const held = await Promise.race([
      query.done.then(() => true),
      sleep(pollHoldMs, false, { signal: shutdown.signal }).catch(() => false),
    ]);
    if (held && query.body) return query.body;
    query.record.polls++;
    return {
      data: { queryId: query.record.queryId, getResultUrl: `/queries/${query.record.queryId}/result` },
      code: '333333',
      message: 'Query execution in progress.',
      success: true,
    };
  };

  const serveChunk = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    queryId: string,
    index: number,
  ): void => {
    const result = queries.get(queryId)?.result;
    const key = request.headers['x-amz-server-side-encryption-customer-key'];
    if (result === undefined || key !== result.qrmk) {
      // Cloud storage refuses a request without the right SSE-C key with 403 and an XML body.
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
      return;
    }
    const start = rowsPerChunk * (index + 1);
    const rows = result.rows.slice(start, start + rowsPerChunk);
    const body = zlib.gzipSync(rows.map((row) => JSON.stringify(row)).join(','));
    stats.chunkDownloads++;
    stats.bytesServed += body.length;
    // Not application/json: the driver would JSON.parse the bracket-less rows and fail.
    response.writeHead(200, { 'content-type': 'binary/octet-stream', 'content-encoding': 'gzip' });
    response.end(body);
  };

  const route = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<object | undefined> => {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (request.method === 'GET') {
      const chunk = /^\/__chunks\/([^/]+)\/(\d+)$/.exec(path);
      if (chunk) {
        serveChunk(request, response, chunk[1] ?? '', Number(chunk[2]));
        return undefined;
      }
      const result = /^\/queries\/([^/]+)\/result$/.exec(path);
      if (result) {
        const session = sessionOf(request);
        if (!('id' in session)) return failure(session);
        const query = queries.get(result[1] ?? '');
        if (query === undefined) return failure({ code: '000709', sqlState: '02000', message: 'Statement not found.' });
        return answer(query);
      }
    }
    if (request.method === 'POST') {
      const body = await readJson(request);
      if (path === '/session/v1/login-request') return login((body.data ?? {}) as LoginData, url.searchParams);
      if (path === '/session/token-request') return renew(request);
      if (path === '/session' && url.searchParams.get('delete') === 'true') {
        const session = sessionOf(request);
        if (!('id' in session)) return failure(session);
        session.closed = true;
        stats.sessionsClosed++;
        return { data: null, code: null, message: null, success: true };
      }
      if (path === '/queries/v1/query-request') {
        const session = sessionOf(request);
        if (!('id' in session)) return failure(session);
        return answer(submit(session, String(body.sqlText ?? '')));
      }
      if (/^\/queries\/[^/]+\/abort-request$/.test(path) || path === '/queries/v1/abort-request') {
        return { data: null, code: null, message: null, success: true };
      }
      // Telemetry and heartbeats: accepted and ignored.
      if (path.startsWith('/telemetry') || path === '/session/heartbeat') return { success: true };
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ success: false, message: `No such endpoint: ${request.method} ${path}` }));
    return undefined;
  };

  const server = http.createServer((request, response) => {
    route(request, response).then(
      (body) => {
        if (body === undefined || response.headersSent) return;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      },
      (error: unknown) => {
        if (response.headersSent) return;
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ success: false, message: String(error) }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    host: '127.0.0.1',
    port,
    account,
    async sql(text) {
      await runDuckDb(toDuckDbSql(text));
    },
    stats: () => ({
      ...stats,
      logins: stats.logins.map((entry) => ({ ...entry })),
      queries: stats.queries.map((entry) => ({ ...entry })),
    }),
    sessions: () =>
      [...sessions.values()].map((session) => ({
        sessionId: session.id,
        username: session.username,
        parameters: { ...session.parameters },
        closed: session.closed,
      })),
    expireSessions(expire = {}) {
      for (const session of sessions.values()) {
        session.tokenExpiresAt = 0;
        if (expire.master) session.masterExpiresAt = 0;
      }
    },
    setQueryDelay(ms) {
      queryDelayMs = ms;
    },
    async close() {
      shutdown.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      database.closeSync();
    },
  };
}

function failure(error: SnowflakeFailure, queryId?: string): { success: false; code: string; [key: string]: unknown } {
  return {
    data: {
      internalError: false,
      errorCode: error.code,
      age: 0,
      sqlState: error.sqlState,
      queryId,
      line: -1,
      pos: -1,
    },
    code: error.code,
    message: error.message,
    success: false,
    headers: null,
  };
}

function parameterList(parameters: Record<string, string | number | boolean>): Array<{ name: string; value: unknown }> {
  return Object.entries(parameters).map(([name, value]) => ({ name, value }));
}

function randomToken(): string {
  return `ver:1-hint:1-${crypto.randomBytes(24).toString('base64url')}`;
}

function definedEntries(values: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== null));
}

/** The driver gzips request bodies but may send the header without the compression, so sniff. */
async function readJson(request: http.IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  let raw = Buffer.concat(parts);
  if (raw.length === 0) return {};
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
  return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
}
