/**
 * Snowflake's own error codes, SQL states and message texts, as the Node driver receives them in
 * `{ success: false, code, message, data: { errorCode, sqlState } }`, and the mapping from DuckDB's
 * errors to them. Codes the driver acts on: 390112 (session token expired: it renews), 390114
 * (master token expired: it gives up), 390111 (session gone).
 */
export interface SnowflakeFailure {
  code: string;
  sqlState?: string;
  message: string;
}

export const LOGIN_FAILED: SnowflakeFailure = {
  code: '390100',
  sqlState: '08004',
  message: 'Incorrect username or password was specified.',
};
export const JWT_INVALID: SnowflakeFailure = { code: '390144', sqlState: '08004', message: 'JWT token is invalid.' };
export const SESSION_TOKEN_EXPIRED: SnowflakeFailure = {
  code: '390112',
  message: 'Your session has expired. Please login again.',
};
export const MASTER_TOKEN_EXPIRED: SnowflakeFailure = {
  code: '390114',
  message: 'Authentication token has expired.  The user must authenticate again.',
};
export const SESSION_GONE: SnowflakeFailure = {
  code: '390111',
  message: 'Session no longer exists.  New login required to access the service.',
};

export function statementTimeout(seconds: number): SnowflakeFailure {
  return {
    code: '000630',
    sqlState: '57014',
    message: `Statement reached its statement or warehouse timeout of ${seconds} second(s) and was canceled.`,
  };
}

export function unsupportedStatement(sql: string): SnowflakeFailure {
  return {
    code: '001003',
    sqlState: '42000',
    message: `SQL compilation error:\nsyntax error line 1 at position 0 unexpected '${firstWord(sql)}'.`,
  };
}

/**
 * DuckDB's message as the Snowflake error a user would see for the same mistake. Only the common
 * compilation errors get real Snowflake codes; anything else is reported as 100000 (not a real
 * Snowflake code) with DuckDB's own text, so a test can still read what went wrong.
 */
export function failureFromDuckDb(message: string, sql: string): SnowflakeFailure {
  const missingTable = /Table with name (\S+) does not exist/i.exec(message);
  if (missingTable) {
    return {
      code: '002003',
      sqlState: '42S02',
      message: `SQL compilation error:\nObject '${(missingTable[1] ?? '').toUpperCase()}' does not exist or not authorized.`,
    };
  }
  const missingColumn = /Referenced column "?([^"\s]+)"? not found/i.exec(message);
  if (missingColumn) {
    const name = missingColumn[1] ?? '';
    return {
      code: '000904',
      sqlState: '42000',
      message: `SQL compilation error: error line 1 at position ${positionOf(sql, name)}\ninvalid identifier '${name.toUpperCase()}'`,
    };
  }
  if (/^Parser Error/i.test(message)) {
    const token = /at or near "([^"]*)"/i.exec(message)?.[1] ?? firstWord(sql);
    return {
      code: '001003',
      sqlState: '42000',
      message: `SQL compilation error:\nsyntax error line 1 at position ${positionOf(sql, token)} unexpected '${token}'.`,
    };
  }
  return { code: '100000', sqlState: 'XX000', message };
}

function positionOf(sql: string, token: string): number {
  return Math.max(0, sql.toLowerCase().indexOf(token.toLowerCase()));
}

function firstWord(sql: string): string {
  return sql.trim().split(/\s+/)[0] ?? '';
}
