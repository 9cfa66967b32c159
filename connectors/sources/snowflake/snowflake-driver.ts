/**
 * The slice of `snowflake-sdk` the Snowflake source calls, as promises over our own small types, so
 * the rest of the source does not depend on the driver's typings.
 *
 *   const session = await openSnowflakeSession(options);
 *   const statement = await session.execute('select 1', { stream: true });
 *   for await (const row of statement.streamRows()) { ... }
 *   await session.close();
 */
import type { Readable } from 'node:stream';
import type * as SnowflakeSdk from 'snowflake-sdk';

export interface DriverColumn {
  getName(): string;
  getType(): string;
  getPrecision(): number | null;
  getScale(): number | null;
}

export interface DriverStatement {
  getColumns(): DriverColumn[] | undefined;
  streamRows(): Readable;
}

export interface DriverError extends Error {
  code?: string | number;
  sqlState?: string;
}

export interface DriverConnectionOptions {
  account: string;
  username: string;
  password?: string;
  authenticator?: 'SNOWFLAKE_JWT';
  privateKey?: string;
  privateKeyPass?: string;
  warehouse: string;
  database: string;
  schema: string;
  role?: string;
  accessUrl?: string;
}

export interface SnowflakeSession {
  /** Runs one statement; with `stream`, rows are read later through `streamRows()`. */
  execute(sqlText: string, options?: { stream?: boolean }): Promise<DriverStatement>;
  close(): Promise<void>;
}

let driver: typeof SnowflakeSdk | undefined;

/**
 * Loaded on first use: the driver pulls in the AWS SDK (slow to load, and it warns about Node
 * versions), which every other command and source can do without. It logs to stdout and files by
 * default; ebb reports its errors itself.
 */
function loadDriver(): typeof SnowflakeSdk {
  if (driver === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    driver = require('snowflake-sdk') as typeof SnowflakeSdk;
    driver.configure({ logLevel: 'OFF' });
  }
  return driver;
}

export async function openSnowflakeSession(options: DriverConnectionOptions): Promise<SnowflakeSession> {
  const snowflake = loadDriver();
  const connection = snowflake.createConnection({
    ...options,
    application: 'ebb',
    // NUMBER arrives as its decimal text and VARIANT as its JSON text: the driver's own conversion
    // goes through a JS number and would round big ids and decimals.
    fetchAsString: ['Number', 'JSON'],
    // Without this, values fetched as strings turn SQL NULL into the text 'NULL'.
    representNullAsStringNull: false,
    // A failed login is reported at once; Temporal owns retries (with backoff and visibility).
    sfRetryMaxLoginRetries: 0,
    clientSessionKeepAlive: false,
  } as SnowflakeSdk.ConnectionOptions);
  await new Promise<void>((resolve, reject) =>
    connection.connect((error) => (error ? reject(error as DriverError) : resolve())),
  );
  return {
    execute: (sqlText, executeOptions = {}) =>
      new Promise((resolve, reject) => {
        connection.execute({
          sqlText,
          streamResult: executeOptions.stream ?? false,
          complete: (error, statement) =>
            error ? reject(error as DriverError) : resolve(statement as unknown as DriverStatement),
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!connection.isUp()) {
          resolve();
          return;
        }
        // A session that cannot be logged out expires on its own; closing must not fail a run.
        connection.destroy(() => resolve());
      }),
  };
}
