/**
 * The engine's acceptance behaviours, once per warehouse source (DuckDB, PostgreSQL, the Snowflake
 * sandbox through snowflake-sdk): real Temporal, ebb's workers, the Salesforce sandbox via jsforce.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEngine, type EngineHarness } from './harness/engine';
import {
  selectSql,
  startTestWarehouse,
  testWarehouseKinds,
  type TestWarehouse,
  type TestWarehouseOptions,
  type WarehouseKind,
} from './harness/warehouses';
import { DestinationPool } from '../activities/engine-context';
import { planRun } from '../activities/plan-run';
import { salesforceSyncYaml } from './harness/sync-yaml';

const ACCOUNTS = [
  ['acme', 'Acme', 38, 'at-risk', '900.00'],
  ['globex', 'Globex', 82, 'healthy', '4000.00'],
  ['initech', 'Initech', 55, 'neutral', '700.50'],
  ['umbrella', 'Umbrella', 91, 'healthy', '1200.00'],
  ['hooli', 'Hooli', 64, 'neutral', '300.00'],
] as const;

const createAccounts = `create table account_health (
  account_id varchar(64), name varchar(200), health integer, segment varchar(32), mrr decimal(12, 2), updated_at timestamp
)`;
const insertAccounts = `insert into account_health values ${ACCOUNTS.map(
  ([id, name, health, segment, mrr]) => `('${id}', '${name}', ${health}, '${segment}', ${mrr}, '2025-01-01 00:00:00')`,
).join(', ')}`;

/** Each warehouse's own spelling of a 38-digit integer, a DECIMAL(38,10) and a big integer. */
const exactTypes: Record<WarehouseKind, { id: string; amount: string; big: string }> = {
  duckdb: { id: 'decimal(38, 0)', amount: 'decimal(38, 10)', big: 'hugeint' },
  postgres: { id: 'numeric(38, 0)', amount: 'numeric(38, 10)', big: 'bigint' },
  snowflake: { id: 'number(38, 0)', amount: 'number(38, 10)', big: 'number(38, 0)' },
};
const BIG: Record<WarehouseKind, string> = {
  duckdb: '170141183460469231731687303715884105727',
  postgres: '9223372036854775807',
  snowflake: '98765432109876543210987654321098765432',
};

const sfSync = salesforceSyncYaml;

describe.each(testWarehouseKinds())('syncing from %s', (kind) => {
  let engine: EngineHarness;
  let warehouse: TestWarehouse;

  const start = async (syncYaml: (id: string) => string, extraModelsYaml = '', options: TestWarehouseOptions = {}) => {
    engine = await startEngine({
      warehouse: (dir) => startTestWarehouse(kind, dir, options),
      syncsYaml: ({ suffix }) => syncYaml(`sf-${suffix}`),
      extraModelsYaml,
    });
    warehouse = engine.testWarehouse as TestWarehouse;
    await warehouse.exec(createAccounts);
    await warehouse.exec(insertAccounts);
    return `sf-${engine.suffix}`;
  };

  afterEach(async () => {
    await engine?.stop();
  });

  /** `ebb plan`'s dry run, in process: counts and rows read, nothing staged or sent. */
  const dryPlan = async (sync: string) => {
    const ctx = {
      config: engine.config,
      baseDir: engine.dir,
      store: engine.store,
      taskQueue: engine.taskQueue,
      client: null,
    };
    const pool = new DestinationPool(ctx);
    try {
      return await planRun(
        ctx,
        pool,
        { syncId: sync, runNumber: 0, kind: 'incremental', replayOfRun: null },
        { dryRun: true },
      );
    } finally {
      await pool.closeAll();
    }
  };

  test('with the warehouse-side diff a no-op re-run reads no row out of the warehouse, and only new, changed and removed rows are read', async () => {
    const sync = await start((id) => sfSync(id, { mode: 'mirror' }), '', { warehouseDiff: true });
    expect(await engine.run(sync)).toMatchObject({ added: 5, succeeded: 5 });
    expect(await dryPlan(sync)).toMatchObject({ rowsRead: 0, unchanged: 5, added: 0, changed: 0, removed: 0 });
    expect(await engine.run(sync)).toMatchObject({ unchanged: 5, succeeded: 0 });

    await warehouse.exec("update account_health set health = 30 where account_id = 'acme'");
    await warehouse.exec(
      "insert into account_health values ('wayne', 'Wayne', 70, 'neutral', 10, '2025-01-01 00:00:00')",
    );
    await warehouse.exec("delete from account_health where account_id = 'umbrella'");
    expect(await dryPlan(sync)).toMatchObject({ rowsRead: 2, added: 1, changed: 1, removed: 1, unchanged: 3 });
    expect(await engine.run(sync)).toMatchObject({ added: 1, changed: 1, removed: 1, succeeded: 3, failed: 0 });
    const ids = engine.sf.records('Account').map((a) => a.External_Id__c);
    expect(ids.sort()).toEqual(['acme', 'globex', 'hooli', 'initech', 'wayne']);
    expect(engine.sf.records('Account').find((a) => a.External_Id__c === 'acme')).toMatchObject({
      Health_Score__c: 30,
    });
    expect(await dryPlan(sync)).toMatchObject({ rowsRead: 0, unchanged: 5 });

    // A record that cannot be sent (too long for Name) keeps its old snapshot in the warehouse, so it is read again next run.
    await warehouse.exec(`update account_health set name = '${'x'.repeat(100)}' where account_id = 'hooli'`);
    expect(await engine.run(sync)).toMatchObject({ changed: 1, invalid: 1 });
    expect(await dryPlan(sync)).toMatchObject({ rowsRead: 1, changed: 1, unchanged: 4 });
    // Put back as it was delivered, the row matches the warehouse's snapshot again and stays there.
    await warehouse.exec("update account_health set name = 'Hooli' where account_id = 'hooli'");
    expect(await dryPlan(sync)).toMatchObject({ rowsRead: 0, changed: 0, unchanged: 5 });
  });

  test('the first run sends every row, a re-run sends nothing, and only changed rows are sent after that', async () => {
    const sync = await start((id) => sfSync(id));

    expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', added: 5, succeeded: 5, failed: 0 });
    expect(engine.sf.records('Account')).toHaveLength(5);
    expect(engine.sf.records('Account').find((a) => a.External_Id__c === 'initech')).toMatchObject({
      Name: 'Initech',
      Health_Score__c: 55,
      MRR__c: 700.5,
    });
    const requests = engine.sf.stats().upsertRequests;

    expect(await engine.run(sync)).toMatchObject({ added: 0, changed: 0, unchanged: 5, succeeded: 0 });
    expect(engine.sf.stats().upsertRequests).toBe(requests);

    await warehouse.exec("update account_health set health = 30 where account_id in ('acme', 'hooli')");
    expect(await engine.run(sync)).toMatchObject({ changed: 2, unchanged: 3, succeeded: 2 });
    expect(engine.sf.records('Account').find((a) => a.External_Id__c === 'hooli')).toMatchObject({
      Health_Score__c: 30,
    });
    expect(engine.sf.records('Account')).toHaveLength(5);
  });

  test('in mirror mode a row that leaves the model is deleted from Salesforce once', async () => {
    const sync = await start((id) => sfSync(id, { mode: 'mirror' }));
    await engine.run(sync);

    await warehouse.exec("delete from account_health where account_id = 'umbrella'");
    expect(await engine.run(sync)).toMatchObject({ removed: 1, succeeded: 1, failed: 0 });
    expect(engine.sf.records('Account').map((a) => a.External_Id__c)).not.toContain('umbrella');
    expect(await engine.run(sync)).toMatchObject({ removed: 0, succeeded: 0 });
  });

  test('rows with a null or duplicate primary key are failed records saying why, and the other rows land', async () => {
    const sync = await start((id) => sfSync(id));
    await warehouse.exec(
      "insert into account_health values ('globex', 'Globex Twin', 1, 'at-risk', 1, '2025-01-01 00:00:00'), " +
        "(null, 'Nobody Inc', 1, 'at-risk', 1, '2025-01-01 00:00:00')",
    );

    const run = await engine.run(sync);
    expect(run).toMatchObject({ status: 'succeeded_with_failures', added: 6, invalid: 2, succeeded: 4, failed: 0 });
    const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failures.map((f) => [f.key, f.errorCode])).toEqual(
      expect.arrayContaining([
        ['globex', 'DUPLICATE_PRIMARY_KEY'],
        [expect.stringContaining('null account_id'), 'NULL_PRIMARY_KEY'],
      ]),
    );
    expect(engine.sf.records('Account').map((a) => a.External_Id__c)).not.toContain('globex');
  });

  test('DECIMAL(38,10), big integers and 38-digit ids reach Salesforce with every digit, and plan shows the same digits', async () => {
    const types = exactTypes[kind];
    const sync = await start(
      (id) =>
        sfSync(id, {
          model: 'exact_values',
          externalId: '{ from: id, to: External_Id__c }',
          mapping: '{ name: Name, amount: AnnualRevenue, big: Description, big_number: NumberOfEmployees }',
        }),
      `
  exact_values:
    source: warehouse
    primaryKey: id
    sql: ${selectSql(kind, ['id', 'name', 'amount', 'big', ['big', 'big_number']], 'exact_values')}`,
    );
    await warehouse.exec(
      `create table exact_values (id ${types.id}, name varchar(80), amount ${types.amount}, big ${types.big})`,
    );
    await warehouse.exec(
      `insert into exact_values values (12345678901234567890123456789012345678, 'Exact', 12345678901234567890.1234567891, ${BIG[kind]}), ` +
        `(7, 'Plain', 900.5, 42)`,
    );

    const { stdout } = await promisify(execFile)(
      'node',
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'plan', sync, '--json'],
      { env: { ...process.env, ...engine.env } },
    );
    const plan = JSON.parse(stdout) as { samples: Array<{ key: string; payload: Record<string, unknown> }> };
    expect(plan.samples.find((s) => s.key === '12345678901234567890123456789012345678')?.payload).toMatchObject({
      AnnualRevenue: '12345678901234567890.1234567891',
      Description: BIG[kind],
      NumberOfEmployees: BIG[kind],
    });

    expect(await engine.run(sync)).toMatchObject({ succeeded: 2, failed: 0 });
    const accounts = engine.sf.records('Account');
    expect(accounts.find((a) => a.External_Id__c === '12345678901234567890123456789012345678')).toMatchObject({
      AnnualRevenue: '12345678901234567890.1234567891',
      Description: BIG[kind],
      NumberOfEmployees: BIG[kind],
    });
    expect(accounts.find((a) => a.External_Id__c === '7')).toMatchObject({
      AnnualRevenue: 900.5,
      Description: '42',
      NumberOfEmployees: 42,
    });
  });
});
