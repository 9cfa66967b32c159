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
import snowflake from 'snowflake-sdk';

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

let configured = false;

/** The driver logs to stdout and files by default; ebb reports its errors itself. */
function configureDriver(): void {
  if (configured) return;
  snowflake.configure({ logLevel: 'OFF' });
  configured = true;
}

export async function openSnowflakeSession(options: DriverConnectionOptions): Promise<SnowflakeSession> {
  configureDriver();
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
  } as snowflake.ConnectionOptions);
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
