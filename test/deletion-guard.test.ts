/**
 * The deletion guard of mirror mode (DESIGN.md invariant 8), end to end: real Temporal dev server,
 * DuckDB warehouse, ebb's workers and the Salesforce sandbox.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deletionLimit } from '../activities/deletion-guard';
import { DestinationPool } from '../activities/engine-context';
import { planRun } from '../activities/plan-run';
import { loadConfig } from '../config/load-config';
import { buildDemoWarehouse, execDuckDb, SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { fullResyncSignal, runNowSignal } from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { startTestWarehouse } from './harness/warehouses';

const GENERATED = 40;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;
const REPO = path.resolve(__dirname, '..');

const mirrorSync = (id: string, maxDeletes?: string) => `
  ${id}:
    model: account_health
    destination: salesforce
    object: Account
    mode: mirror
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }${maxDeletes === undefined ? '' : `\n    maxDeletes: ${maxDeletes}`}
`;

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** An engine with one mirror sync that has delivered every account once. */
async function deliveredMirror(
  options: { maxDeletes?: string; warehouseDiff?: boolean } = {},
): Promise<{ engine: EngineHarness; sync: string }> {
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => mirrorSync(`sf-${suffix}`, options.maxDeletes),
    warehouse: options.warehouseDiff
      ? async (dir) => {
          await buildDemoWarehouse(path.join(dir, 'warehouse.duckdb'), { generated: GENERATED });
          return startTestWarehouse('duckdb', dir, { warehouseDiff: true });
        }
      : undefined,
  });
  const sync = `sf-${engine.suffix}`;
  expect(await engine.run(sync)).toMatchObject({ added: TOTAL, succeeded: TOTAL });
  return { engine, sync };
}

const deleteAccounts = (e: EngineHarness, count: number) =>
  execDuckDb(
    path.join(e.dir, 'warehouse.duckdb'),
    `delete from account_health where account_id in (select account_id from account_health order by account_id limit ${count})`,
  );

const guardMessage = (sync: string, deletes: number, delivered: number, limit: number, source: string) =>
  `DeletionGuardError: sync '${sync}' would delete ${deletes} of the ${delivered} records it has delivered, ` +
  `more than its limit of ${limit} (${source}); nothing was sent. ` +
  'This usually means the model returned fewer rows than expected (a table being rebuilt, a broken filter). ' +
  `If the deletes are intended, confirm them for one run: ebb run ${sync} --allow-deletes`;

const defaultSource = (sync: string, delivered: number) =>
  `the default of syncs.${sync}.maxDeletes: "20%" of ${delivered}, and never fewer than 10`;

describe.each([
  ['the state store finds removed keys', false],
  ['the warehouse finds removed keys (warehouse-side diff)', true],
])('when %s', (_label, warehouseDiff) => {
  test('a model that suddenly returns no rows fails the run under the default guard and sends nothing', async () => {
    const { engine: e, sync } = await deliveredMirror({ warehouseDiff });
    const before = e.sf.stats();
    await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), 'delete from account_health');

    const run = await e.run(sync);

    expect(run).toMatchObject({ status: 'failed', removed: 0, succeeded: 0 });
    expect(run.error).toBe(guardMessage(sync, TOTAL, TOTAL, 10, defaultSource(sync, TOTAL)));
    expect(e.sf.records('Account')).toHaveLength(TOTAL);
    expect(e.sf.stats()).toEqual(before);
    expect(await e.store.listRecordResults(sync, { runNumber: run.runNumber })).toEqual([]);
  });

  test('a confirmed run (requestRun with allowDeletes) deletes them and counts them as removed', async () => {
    const { engine: e, sync } = await deliveredMirror({ warehouseDiff });
    await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), "delete from account_health where account_id <> 'acme'");

    const run = await e.run(sync, { allowDeletes: true });

    expect(run).toMatchObject({ status: 'succeeded', removed: TOTAL - 1, succeeded: TOTAL - 1, failed: 0 });
    expect(e.sf.records('Account').map((a) => a.External_Id__c)).toEqual(['acme']);
    expect(await e.store.acceptedByOperation(sync, run.runNumber)).toEqual({ upserted: 0, deleted: TOTAL - 1 });
    const [record] = await e.store.listRecordResults(sync, { runNumber: run.runNumber, limit: 1 });
    expect(record).toMatchObject({ operation: 'delete', status: 'succeeded' });

    expect(await e.run(sync)).toMatchObject({ status: 'succeeded', removed: 0 });
  });
});

test('`ebb run <sync> --allow-deletes --wait` deletes every record and reports them as deleted', async () => {
  const { engine: e, sync } = await deliveredMirror();
  await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), 'delete from account_health');

  const { stdout } = await promisify(execFile)(
    'node',
    ['bin/ebb.js', '--config', e.configFile, 'run', sync, '--allow-deletes', '--wait'],
    { cwd: REPO, env: { ...process.env, ...e.env } },
  );

  expect(stdout).toContain(`${TOTAL} removed`);
  expect(stdout).toContain(`0 upserted, ${TOTAL} deleted`);
  expect(e.sf.records('Account')).toHaveLength(0);
  expect(e.sf.stats().recordsDeleted).toBe(TOTAL);
});

test('a confirmation applies to the next run only', async () => {
  const { engine: e, sync } = await deliveredMirror();
  expect(await e.run(sync, { allowDeletes: true })).toMatchObject({ status: 'succeeded', removed: 0 });
  await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), 'delete from account_health');

  const run = await e.run(sync);

  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/^DeletionGuardError: /);
  expect(e.sf.records('Account')).toHaveLength(TOTAL);
});

test('a confirmation sent during a run confirms the next run, even when a full resync without one wins the coalescing', async () => {
  const { engine: e, sync } = await deliveredMirror();
  e.sf.injectFaults({ latencyMs: 3000 });
  const busy = e.run(sync, { kind: 'full' });
  const deadline = Date.now() + 30_000;
  while ((await e.status(sync).catch(() => undefined))?.currentRun?.progress?.phase !== 'delivering') {
    if (Date.now() > deadline) throw new Error('timed out waiting for the full resync to deliver');
    await new Promise((r) => setTimeout(r, 100));
  }
  await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), 'delete from account_health');
  const controller = e.client.workflow.getHandle(`sync/${sync}`);
  await controller.signal(runNowSignal, { allowDeletes: true });
  await controller.signal(fullResyncSignal, {});
  expect(await busy).toMatchObject({ status: 'succeeded', removed: 0 });
  e.sf.injectFaults({ latencyMs: 0 });

  let status = await e.status(sync);
  while (status.lastRun?.runNumber !== 3 || status.currentRun) {
    if (Date.now() > deadline + 30_000) throw new Error('timed out waiting for the coalesced run');
    await new Promise((r) => setTimeout(r, 100));
    status = await e.status(sync);
  }
  expect(status.lastRun).toMatchObject({ kind: 'full', status: 'succeeded', removed: TOTAL });
  expect(e.sf.records('Account')).toHaveLength(0);
});

test('removals under the default guard go through without confirmation', async () => {
  const { engine: e, sync } = await deliveredMirror();
  await deleteAccounts(e, 10);

  expect(await e.run(sync)).toMatchObject({ status: 'succeeded', removed: 10, succeeded: 10 });
  expect(e.sf.records('Account')).toHaveLength(TOTAL - 10);
});

test('a percentage maxDeletes is a share of the records delivered at the time of the run', async () => {
  const { engine: e, sync } = await deliveredMirror({ maxDeletes: '"10%"' });
  // 10% of 44 is 4.4: 4 deletes may go, 5 may not.
  await deleteAccounts(e, 4);
  expect(await e.run(sync)).toMatchObject({ status: 'succeeded', removed: 4 });

  await deleteAccounts(e, 5);
  const run = await e.run(sync);

  expect(run.status).toBe('failed');
  expect(run.error).toBe(guardMessage(sync, 5, TOTAL - 4, 4, `syncs.${sync}.maxDeletes: "10%" of ${TOTAL - 4}`));
  expect(e.sf.records('Account')).toHaveLength(TOTAL - 4);
});

test('a count maxDeletes is honoured exactly, below the default floor', async () => {
  const { engine: e, sync } = await deliveredMirror({ maxDeletes: '2' });
  await deleteAccounts(e, 3);

  const run = await e.run(sync);

  expect(run.status).toBe('failed');
  expect(run.error).toBe(guardMessage(sync, 3, TOTAL, 2, `syncs.${sync}.maxDeletes: 2`));
  expect(e.sf.records('Account')).toHaveLength(TOTAL);
});

test('`ebb plan` reports that the guard would stop the run, without failing', async () => {
  const { engine: e, sync } = await deliveredMirror();
  await execDuckDb(path.join(e.dir, 'warehouse.duckdb'), 'delete from account_health');
  const ctx = { config: e.config, baseDir: e.dir, store: e.store, taskQueue: e.taskQueue, client: null };
  const pool = new DestinationPool(ctx);

  const plan = await planRun(
    ctx,
    pool,
    { syncId: sync, runNumber: 0, kind: 'incremental', replayOfRun: null },
    { dryRun: true },
  ).finally(() => pool.closeAll());

  expect(plan).toMatchObject({ removed: TOTAL, deletionGuard: { deletes: TOTAL, delivered: TOTAL, limit: 10 } });
  const { stdout } = await promisify(execFile)('node', ['bin/ebb.js', '--config', e.configFile, 'plan', sync], {
    cwd: REPO,
    env: { ...process.env, ...e.env },
  });
  expect(stdout).toContain(
    `the deletion guard would stop this run, sending nothing: ${TOTAL} of ${TOTAL} delivered records would be deleted, ` +
      `more than the limit of 10 (${defaultSource(sync, TOTAL)}); to confirm the deletes: ebb run ${sync} --allow-deletes`,
  );
  expect(e.sf.records('Account')).toHaveLength(TOTAL);
});

describe('maxDeletes', () => {
  test.each([
    [undefined, 44, 10],
    [undefined, 100, 20],
    ['"10%"', 44, 4],
    ['"12.5%"', 8, 1],
    ['"0%"', 44, 0],
    [500, 44, 500],
  ])('%s of %d delivered records allows %d deletes', (setting, delivered, limit) => {
    const value = typeof setting === 'string' ? setting.slice(1, -1) : setting;
    expect(deletionLimit('s', value, delivered).limit).toBe(limit);
  });

  test('a value that is neither a count nor a percentage up to 100% is a config error at its path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-max-deletes-'));
    const problemsFor = (value: string) => {
      const file = path.join(dir, 'ebb.yaml');
      fs.writeFileSync(
        file,
        `
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
models:
  account_health: { source: warehouse, primaryKey: account_id, sql: select * from account_health }
syncs:${mirrorSync('accounts', value)}`,
      );
      return loadConfig(file, { env: {} }).problems.map((p) => ({ path: p.path, message: p.message }));
    };
    try {
      expect(problemsFor('"10%"')).toEqual([]);
      expect(problemsFor('"ten"')).toEqual([
        { path: 'syncs.accounts.maxDeletes', message: "'ten' is neither a count nor a percentage" },
      ]);
      expect(problemsFor('-1')).toEqual([
        { path: 'syncs.accounts.maxDeletes', message: '-1 is not a number of records' },
      ]);
      expect(problemsFor('"150%"')).toEqual([
        { path: 'syncs.accounts.maxDeletes', message: "'150%' is more than 100%" },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
