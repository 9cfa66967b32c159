/**
 * The warehouses a test can sync from, behind one small interface, so the engine's acceptance
 * behaviours loop over every source instead of being copied per source:
 *
 *   for (const kind of testWarehouseKinds()) describe(kind, () => { ... startTestWarehouse(kind, dir) ... });
 *
 * DuckDB is a file in the test's directory; PostgreSQL a throwaway database on the server that
 * EBB_TEST_POSTGRES_URL points at (.ci/run starts one); Snowflake the protocol sandbox, reached
 * through the real snowflake-sdk.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { startSnowflakeSandbox, type SnowflakeSandbox } from '../../sandbox/snowflake/snowflake-sandbox';
import { execDuckDb } from '../../sandbox/warehouse/demo-warehouse';

export type WarehouseKind = 'duckdb' | 'postgres' | 'snowflake';

export interface TestWarehouse {
  readonly kind: WarehouseKind;
  /** `sources.warehouse` of ebb.yaml, as a YAML flow map (secrets as ${VAR}, set in `env`). */
  readonly sourceYaml: string;
  readonly env: Record<string, string>;
  /** The Snowflake sandbox behind a `snowflake` warehouse (its stats), else undefined. */
  readonly sandbox?: SnowflakeSandbox;
  /** Runs SQL in the warehouse (setup and changes between runs). */
  exec(sql: string): Promise<void>;

  close(): Promise<void>;
}

/**
 * Every warehouse this machine can run: PostgreSQL only where a server is configured.
 * EBB_TEST_WAREHOUSES=duckdb,snowflake narrows a local run.
 */
export function testWarehouseKinds(): WarehouseKind[] {
  const all: WarehouseKind[] = [
    'duckdb',
    ...(process.env.EBB_TEST_POSTGRES_URL ? (['postgres'] as const) : []),
    'snowflake',
  ];
  const only = process.env.EBB_TEST_WAREHOUSES?.split(',');
  return only ? all.filter((kind) => only.includes(kind)) : all;
}

export interface TestWarehouseOptions {
  /** Adds `warehouseDiff: true` to the source. */
  warehouseDiff?: boolean;
  /** Rows per result chunk of the Snowflake sandbox. */
  snowflakeRowsPerChunk?: number;
}

export async function startTestWarehouse(
  kind: WarehouseKind,
  dir: string,
  options: TestWarehouseOptions = {},
): Promise<TestWarehouse> {
  const warehouse =
    kind === 'duckdb'
      ? duckdbWarehouse(dir)
      : kind === 'postgres'
        ? await postgresWarehouse()
        : await snowflakeWarehouse(options.snowflakeRowsPerChunk);
  if (!options.warehouseDiff) return warehouse;
  return { ...warehouse, sourceYaml: warehouse.sourceYaml.replace(/ }$/, ', warehouseDiff: true }') };
}

/**
 * A select of `columns` (names, or [expression, alias]) from `table` whose result columns keep
 * these lower-case names: Snowflake folds unquoted names to upper case, so its aliases are quoted.
 */
export function selectSql(kind: WarehouseKind, columns: Array<string | [string, string]>, table: string): string {
  const quote = (name: string) => (kind === 'snowflake' ? `"${name}"` : name);
  const list = columns.map((c) => (typeof c === 'string' ? `${c} as ${quote(c)}` : `${c[0]} as ${quote(c[1])}`));
  return `select ${list.join(', ')} from ${table}`;
}

function duckdbWarehouse(dir: string): TestWarehouse {
  const file = path.join(dir, 'warehouse.duckdb');
  return {
    kind: 'duckdb',
    sourceYaml: '{ type: duckdb, path: ./warehouse.duckdb }',
    env: {},
    exec: async (sql) => {
      await execDuckDb(file, sql);
    },
    close: async () => undefined,
  };
}

async function postgresWarehouse(): Promise<TestWarehouse> {
  const adminUrl = process.env.EBB_TEST_POSTGRES_URL;
  if (!adminUrl) throw new Error('EBB_TEST_POSTGRES_URL is not set');
  const database = `ebb_wh_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new PgClient({ connectionString: url.toString() });
  await client.connect();
  const password = url.password;
  url.password = 'PASSWORD';
  return {
    kind: 'postgres',
    // The password comes from the environment, as it would in production.
    sourceYaml: `{ type: postgres, url: '${url.toString().replace('PASSWORD', '${EBB_TEST_WAREHOUSE_PASSWORD}')}' }`,
    env: { EBB_TEST_WAREHOUSE_PASSWORD: password },
    exec: async (sql) => {
      await client.query(sql);
    },
    close: async () => {
      await client.end();
      const dropper = new PgClient({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${database} with (force)`);
      await dropper.end();
    },
  };
}

async function snowflakeWarehouse(rowsPerChunk?: number): Promise<TestWarehouse> {
  const password = `pw-${randomUUID()}`;
  const sandbox = await startSnowflakeSandbox({
    users: [{ username: 'EBB', password }],
    ...(rowsPerChunk ? { rowsPerChunk } : {}),
  });
  return {
    kind: 'snowflake',
    sourceYaml:
      `{ type: snowflake, account: ${sandbox.account}, username: EBB, password: "\${EBB_TEST_WAREHOUSE_PASSWORD}", ` +
      `warehouse: COMPUTE_WH, database: ANALYTICS, schema: GOLD, accessUrl: '${sandbox.url}' }`,
    env: { EBB_TEST_WAREHOUSE_PASSWORD: password },
    sandbox,
    exec: (sql) => sandbox.sql(sql),
    close: () => sandbox.close(),
  };
}
