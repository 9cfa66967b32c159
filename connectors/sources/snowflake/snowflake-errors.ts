/**
 * Driver errors as the two kinds of source failure. Snowflake's own codes decide where they can:
 *   390100/390144/390xxx login refusals, SQL compilation and execution errors -> SourceError;
 *   000630 statement timeout, 390112/390114/390111 a session that expired and could not be
 *   renewed, the driver's network and HTTP failures (40xxxx: could not connect, 5xx answers),
 *   a disconnected connection -> TransientSourceError (a new run logs in again).
 */
import { messageOf, sqlExcerpt, SourceError, TransientSourceError } from '../source';
import type { DriverError } from './snowflake-driver';

const STATEMENT_TIMEOUT = '000630';
const SESSION_CODES = new Set(['390111', '390112', '390114']);
/** Driver-side codes: 401xxx/402xxx network and HTTP failures, 405503/407002 disconnected. */
const DRIVER_TRANSIENT = /^(401\d{3}|402\d{3}|405503|407002)$/;
const NETWORK_NAMES = new Set(['NetworkError', 'RequestFailedError', 'LargeResultSetError']);

export function isTransient(error: unknown): boolean {
  const { code, name } = (error ?? {}) as DriverError;
  const text = code === undefined ? '' : String(code);
  return (
    text === STATEMENT_TIMEOUT ||
    SESSION_CODES.has(text) ||
    DRIVER_TRANSIENT.test(text) ||
    NETWORK_NAMES.has(name) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|socket hang up/i.test(messageOf(error))
  );
}

function codeOf(error: unknown): string {
  const { code, sqlState } = (error ?? {}) as DriverError;
  if (code === undefined) return '';
  return sqlState ? ` (${String(code)}, SQL state ${sqlState})` : ` (${String(code)})`;
}

/** A failed login: bad credentials are fixed in ebb.yaml, an unreachable account is retried. */
export function loginError(error: unknown, name: string, account: string): Error {
  const where = `sources.${name}: could not log in to Snowflake account ${account}`;
  if (isTransient(error)) {
    return new TransientSourceError(`${where}: ${messageOf(error)}${codeOf(error)}; will retry`, { cause: error });
  }
  return new SourceError(
    `${where}: ${messageOf(error)}${codeOf(error)}; check username, password or key pair in sources.${name}`,
    { cause: error },
  );
}

export function queryError(error: unknown, name: string, sql: string): Error {
  const message = `sources.${name}: Snowflake query failed: ${messageOf(error)}${codeOf(error)}\nSQL: ${sqlExcerpt(sql)}`;
  return isTransient(error)
    ? new TransientSourceError(message, { cause: error })
    : new SourceError(message, { cause: error });
}
