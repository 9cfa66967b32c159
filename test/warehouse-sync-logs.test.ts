/**
 * Sync logs in the warehouse: after each run, its record results land in ebb_logs.sync_records of
 * the model's own warehouse (DuckDB, and PostgreSQL when EBB_TEST_POSTGRES_URL is set), where an
 * analyst queries failures with SQL and joins them to the model. Real Temporal, ebb's workers and
 * the Salesforce sandbox through jsforce.
 */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import type { Activities } from '../activities';
import { startEngine, type EngineHarness } from './harness/engine';
import { startTestWarehouse, testWarehouseKinds, type TestWarehouse, type WarehouseKind } from './harness/warehouses';
import { salesforceSyncYaml } from './harness/sync-yaml';

const ACCOUNTS = [
  ['acme', 'Acme Rockets', 38, 'at-risk', '900.25'],
  ['globex', 'Globex Corp', 82, 'healthy', '4000.50'],
  ['initech', 'Initech Ltd', 55, 'neutral', '700.75'],
  ['umbrella', 'Umbrella Inc', 91, 'healthy', '1200.10'],
  ['hooli', 'Hooli Labs', 64, 'neutral', '300.30'],
] as const;
const REJECTED = ['acme', 'initech', 'hooli'];

const createAccounts = `create table account_health (
  account_id varchar(64), name varchar(200), health integer, segment varchar(32), mrr decimal(12, 2), updated_at timestamp
)`;
const insertAccounts = `insert into account_health values ${ACCOUNTS.map(
  ([id, name, health, segment, mrr]) => `('${id}', '${name}', ${health}, '${segment}', ${mrr}, '2025-01-01 00:00:00')`,
).join(', ')}`;

type Row = Record<string, unknown>;

/** Runs SQL the way an analyst would: DuckDB attaches the log file beside the warehouse; PostgreSQL connects. */
async function analystQuery(kind: WarehouseKind, engine: EngineHarness, sql: string): Promise<Row[]> {
  const warehouse = engine.testWarehouse as TestWarehouse;
  if (kind === 'duckdb') {
    const file = path.join(engine.dir, 'warehouse.duckdb');
    const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    try {
      const connection = await instance.connect();
      await connection.run(`attach '${file}.ebb-logs.duckdb' as ebb_logs (READ_ONLY)`);
      const reader = await connection.runAndReadAll(sql);
      connection.disconnectSync();
      return reader.getRowObjectsJson() as Row[];
    } finally {
      instance.closeSync();
    }
  }
  const url = /url: '([^']+)'/.exec(warehouse.sourceYaml)?.[1] ?? '';
  const client = new PgClient({
    connectionString: url.replace('${EBB_TEST_WAREHOUSE_PASSWORD}', warehouse.env.EBB_TEST_WAREHOUSE_PASSWORD ?? ''),
  });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Numbers as numbers (PostgreSQL's count is a bigint, DuckDB's JSON rows give text for it). */
const plain = (rows: Row[]): Row[] =>
  rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]),
    ),
  );

const kinds = testWarehouseKinds().filter((kind) => kind !== 'snowflake');

describe.each(kinds)('sync logs in %s', (kind) => {
  let engine: EngineHarness;
  let sync: string;

  beforeEach(async () => {
    engine = await startEngine({
      warehouse: async (dir) => {
        const warehouse = await startTestWarehouse(kind, dir);
        return { ...warehouse, sourceYaml: warehouse.sourceYaml.replace(/ }$/, ', syncLogs: { retentionDays: 30 } }') };
      },
      syncsYaml: ({ suffix }) => salesforceSyncYaml(`logs-${suffix}`),
      recordRetries: { delaysMs: [10], jitter: 0 },
    });
    sync = `logs-${engine.suffix}`;
    const warehouse = engine.testWarehouse as TestWarehouse;
    await warehouse.exec(createAccounts);
    await warehouse.exec(insertAccounts);
  });
  afterEach(async () => {
    await engine?.stop();
  });

  test('a run with 3 failed records writes 3 failed rows and the successes, which SQL joins to the model, with no row value in them', async () => {
    engine.sf.injectFaults({ lockErrors: { keys: REJECTED } });
    const run = await engine.run(sync);
    expect(run).toMatchObject({ succeeded: 2, failed: 3 });

    const rows = plain(
      await analystQuery(
        kind,
        engine,
        `select sync_id, run_number, record_key, operation, status, error_code, error_message
         from ebb_logs.sync_records order by record_key`,
      ),
    );
    expect(rows).toHaveLength(ACCOUNTS.length);
    for (const row of rows)
      expect(row).toMatchObject({ sync_id: sync, run_number: run.runNumber, operation: 'upsert' });
    const failed = rows.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.record_key)).toEqual([...REJECTED].sort());
    for (const row of failed) {
      expect(row.error_code).toBe('UNABLE_TO_LOCK_ROW');
      expect(String(row.error_message).length).toBeGreaterThan(0);
    }
    const succeeded = rows.filter((r) => r.status === 'succeeded');
    expect(succeeded.map((r) => r.record_key)).toEqual(['globex', 'umbrella']);
    for (const row of succeeded) expect(row).toMatchObject({ error_code: null, error_message: null });

    // What ebb's own `records --failed` shows is what the table holds.
    const stored = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failed.map((r) => [r.record_key, r.error_code, r.error_message])).toEqual(
      stored.map((r) => [r.key, r.errorCode, r.errorMessage]).sort(),
    );

    // No value of a row but its key is written anywhere in the table.
    const text = JSON.stringify(rows);
    for (const [, name, health, segment, mrr] of ACCOUNTS) {
      for (const value of [name, segment, mrr, `"${health}"`]) expect(text).not.toContain(String(value));
    }

    // An analyst's question: which at-risk or neutral accounts failed, and why.
    const joined = plain(
      await analystQuery(
        kind,
        engine,
        `select a.account_id, a.segment, l.error_code
         from ebb_logs.sync_records l join account_health a on a.account_id = l.record_key
         where l.status = 'failed' and a.segment in ('at-risk', 'neutral') order by a.account_id`,
      ),
    );
    expect(joined).toEqual([
      { account_id: 'acme', segment: 'at-risk', error_code: 'UNABLE_TO_LOCK_ROW' },
      { account_id: 'hooli', segment: 'neutral', error_code: 'UNABLE_TO_LOCK_ROW' },
      { account_id: 'initech', segment: 'neutral', error_code: 'UNABLE_TO_LOCK_ROW' },
    ]);
  });

  test("writing a run's logs again replaces its rows instead of doubling them, and rows older than the retention go", async () => {
    engine.sf.injectFaults({ lockErrors: { keys: REJECTED } });
    const first = await engine.run(sync);
    const count = async (where = '') =>
      plain(await analystQuery(kind, engine, `select count(*) as n from ebb_logs.sync_records ${where}`))[0]?.n;
    expect(await count()).toBe(ACCOUNTS.length);

    // A worker crash after the write: Temporal runs the activity again.
    const again = (await new MockActivityEnvironment({ attempt: 2 }).run(engine.activities().writeSyncLogs, {
      syncId: sync,
      runNumber: first.runNumber,
    })) as Awaited<ReturnType<Activities['writeSyncLogs']>>;
    expect(again.written).toBe(ACCOUNTS.length);
    expect(await count()).toBe(ACCOUNTS.length);

    // A row recorded 31 days ago (retentionDays: 30), written as an older ebb would have.
    const insertOld =
      `insert into ebb_logs.sync_records values ('old-sync', 1, 'k', 'upsert', 'succeeded', null, null, ` +
      `cast('${new Date(Date.now() - 31 * 86_400_000).toISOString().replace('T', ' ').replace('Z', '')}' as timestamp))`;
    if (kind === 'duckdb') {
      const instance = await DuckDBInstance.create(path.join(engine.dir, 'warehouse.duckdb.ebb-logs.duckdb'));
      const connection = await instance.connect();
      await connection.run(insertOld.replace('ebb_logs.sync_records', 'sync_records'));
      connection.disconnectSync();
      instance.closeSync();
    } else {
      await (engine.testWarehouse as TestWarehouse).exec(insertOld);
    }
    expect(await count("where sync_id = 'old-sync'")).toBe(1);

    // The next run retries the three failed records (all accepted now) and logs them as its own.
    engine.sf.injectFaults({ lockErrors: null });
    const second = await engine.run(sync);
    expect(second).toMatchObject({ succeeded: 3, failed: 0 });
    expect(await count("where sync_id = 'old-sync'")).toBe(0);
    expect(await count(`where run_number = ${first.runNumber}`)).toBe(ACCOUNTS.length);
    expect(await count(`where run_number = ${second.runNumber} and status = 'succeeded'`)).toBe(3);
  });
});

test('a Snowflake source refuses syncLogs with a message saying it is not supported yet', async () => {
  const { snowflakeSourceConfigSchema } = await import('../connectors/sources/snowflake/snowflake-source');
  const result = snowflakeSourceConfigSchema.safeParse({
    type: 'snowflake',
    account: 'org-acct',
    username: 'EBB',
    password: 'pw',
    warehouse: 'WH',
    database: 'DB',
    schema: 'GOLD',
    syncLogs: true,
  });
  expect(result.success).toBe(false);
  expect(result.error?.issues).toEqual([
    expect.objectContaining({ path: ['syncLogs'], message: expect.stringMatching(/not supported for Snowflake/) }),
  ]);
});
