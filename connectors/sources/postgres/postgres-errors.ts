/**
 * Sorts pg and network errors into the two kinds a source throws (source.ts):
 *
 *   throw postgresError(error, { where: 'source warehouse (postgres db.internal:5432/analytics)', sql });
 *   // TransientSourceError for 57014 statement timeout, SourceError for 42P01 missing table, ...
 *
 * The message names the source and quotes the server's own message (with its DETAIL and HINT);
 * for errors about a query it adds an excerpt of the SQL.
 */
import { messageOf, SourceError, sqlExcerpt, TransientSourceError } from '../source';

/** SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) worth a retry. */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure (also a hot standby's recovery conflict)
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled: the statement timeout, or an admin's pg_cancel_backend
  '57P01', // admin_shutdown: a restart or pg_terminate_backend
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting up
]);
/** Whole classes: 08 connection exception, 53 insufficient resources (53300 too many connections). */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '53']);

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** pg reports a lost or slow connection without a code, in these words. */
const TRANSIENT_MESSAGES = /connection terminated|timeout exceeded when trying to connect|not queryable/i;

/** What the advice after the server's message says, by SQLSTATE. */
const ADVICE: Record<string, string> = {
  '28P01': 'check the user and password (or url) of the source',
  '28000': "check the user (or url) of the source and the server's pg_hba.conf",
  '3D000': 'check the database (or the path of url) of the source',
  '25006': 'a model must only read: the source runs it in a read-only transaction',
};

interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
}

export interface PostgresErrorContext {
  /** e.g. `source warehouse (postgres db.internal:5432/analytics)`; never holds the password. */
  where: string;
  /** The model's SQL when the error is about a query. */
  sql?: string;
}

export function postgresError(error: unknown, context: PostgresErrorContext): SourceError | TransientSourceError {
  const fields: PgErrorFields = typeof error === 'object' && error !== null ? error : {};
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  const transient = isTransient(code, messageOf(error));
  const lines = [`PostgreSQL error on ${context.where}: ${messageOf(error)}${code ? ` (SQLSTATE ${code})` : ''}`];
  if (fields.detail) lines.push(`DETAIL: ${fields.detail}`);
  if (fields.hint) lines.push(`HINT: ${fields.hint}`);
  const advice = code === undefined ? undefined : ADVICE[code];
  if (advice) lines.push(`Fix: ${advice}`);
  if (transient) lines.push('The warehouse is unreachable or busy for now; the read is retried.');
  if (context.sql !== undefined) lines.push(`SQL: ${sqlExcerpt(context.sql)}`);
  const message = lines.join('\n');
  return transient ? new TransientSourceError(message, { cause: error }) : new SourceError(message, { cause: error });
}

/** Whether an error leaves the connection unusable, so the pool must not hand it out again. */
export function isConnectionLost(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as PgErrorFields).code : undefined;
  return (
    (code !== undefined && (TRANSIENT_NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) ||
    TRANSIENT_MESSAGES.test(messageOf(error))
  );
}

function isTransient(code: string | undefined, message: string): boolean {
  if (code !== undefined) {
    if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NETWORK_CODES.has(code)) return true;
    if (TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2))) return true;
  }
  return TRANSIENT_MESSAGES.test(message);
}
