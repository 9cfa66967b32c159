/**
 * Changed fields only: an update of a delivered Salesforce record carries only the fields whose
 * warehouse values changed, so an edit a person made in Salesforce to another field survives the
 * run, and `ebb verify` reports it as a CRM-side edit. Through the real CLI and the engine, against
 * the Salesforce sandbox.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../config/load-config';
import { SEED_ACCOUNTS, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const REPO = path.resolve(__dirname, '..');
const GENERATED = 6;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let engine: EngineHarness;
let sync: string;
let allFields: string;

/** Runs the CLI as a user would; a non-zero exit is returned, not thrown. */
async function ebb(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)('node', ['bin/ebb.js', '--config', engine.configFile, ...args], {
      cwd: REPO,
      env: { ...process.env, ...engine.env },
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

const acme = () => {
  const found = engine.sf.records('Account').find((a) => a.External_Id__c === 'acme');
  if (!found) throw new Error('no Account acme in the sandbox');
  return found;
};

/** A CSM's edit, made through Salesforce's REST API with another session than ebb's. */
async function csmSetsSegment(segment: string): Promise<void> {
  const response = await fetch(`${engine.sf.url}/services/data/v60.0/composite/sobjects`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${engine.sf.accessToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      allOrNone: true,
      records: [{ attributes: { type: 'Account' }, Id: acme().Id, Segment__c: segment }],
    }),
  });
  if (!response.ok) throw new Error(`sandbox refused the edit: ${await response.text()}`);
}

interface CrmEdits {
  crmEdits: Array<{ key: string; fields: Array<{ field: string; sent: unknown; stored: unknown }> }>;
  pending: Array<{ key: string }>;
}

describe('against the Salesforce sandbox', () => {
  beforeEach(async () => {
    engine = await startEngine({
      generated: GENERATED,
      syncsYaml: ({ suffix }) =>
        salesforceSyncYaml(`sf-${suffix}`) +
        salesforceSyncYaml(`all-${suffix}`, { extra: '\n    changedFieldsOnly: false' }),
    });
    sync = `sf-${engine.suffix}`;
    allFields = `all-${engine.suffix}`;
  });
  afterEach(async () => {
    await engine.stop();
  });

  test('an edit made in Salesforce to a field the warehouse did not change survives the next run, and verify reports it as a CRM-side edit', async () => {
    expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', succeeded: TOTAL });
    await csmSetsSegment('enterprise');
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 30 }]);

    const plan = await ebb('plan', sync);
    expect(plan.stdout).toContain('change acme writes Health_Score__c: {"External_Id__c":"acme","Health_Score__c":30}');
    // Before the run, acme is pending (its health changed) and its untouched Segment__c is compared.
    const before = await ebb('verify', sync, '--json');
    expect(before.code).toBe(3);
    expect(JSON.parse(before.stdout)).toMatchObject({
      pending: [{ key: 'acme' }],
      crmEdits: [{ key: 'acme', fields: [{ field: 'Segment__c', sent: 'at-risk', stored: 'enterprise' }] }],
    });

    expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', changed: 1, succeeded: 1 });
    expect(acme()).toMatchObject({ Health_Score__c: 30, Segment__c: 'enterprise' });

    const after = await ebb('verify', sync, '--json');
    expect(after.code).toBe(3);
    const report = JSON.parse(after.stdout) as CrmEdits;
    expect(report.pending).toEqual([]);
    expect(report.crmEdits).toEqual([
      {
        key: 'acme',
        destinationId: acme().Id,
        fields: [{ field: 'Segment__c', sent: 'at-risk', stored: 'enterprise' }],
      },
    ]);
    expect((await ebb('verify', sync)).stdout).toContain('1 CRM-side edit (a field edited in the destination');

    // A full resync sends every field, as documented: the edit is overwritten.
    await engine.run(sync, { kind: 'full' });
    expect(acme()).toMatchObject({ Health_Score__c: 30, Segment__c: 'at-risk' });
  });

  test('a record deleted in Salesforce after its delivery is refused once for lacking fields, and the next run creates it again with every field', async () => {
    expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', succeeded: TOTAL });
    const deleted = await fetch(`${engine.sf.url}/services/data/v60.0/composite/sobjects?ids=${acme().Id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${engine.sf.accessToken}` },
    });
    expect(deleted.ok).toBe(true);
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 31 }]);

    // Only the changed field goes out, so Salesforce's upsert would create acme without a Name.
    const refused = await engine.run(sync);
    expect(refused).toMatchObject({ status: 'failed', failed: 1 });
    const [failure] = await engine.store.listRecordResults(sync, { runNumber: refused.runNumber, failedOnly: true });
    expect(failure).toMatchObject({ key: 'acme', errorCode: 'REQUIRED_FIELD_MISSING' });

    expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', changed: 1, succeeded: 1 });
    expect(acme()).toMatchObject({ Name: 'Acme', Health_Score__c: 31, Segment__c: 'at-risk' });
  });

  test('with changedFieldsOnly: false, and once for a snapshot from before per-field hashes, an update rewrites every field', async () => {
    await engine.run(sync);
    await engine.run(allFields);
    // As if sync's snapshots were written by an ebb before per-field hashes.
    await engine.store.db.updateTable('snapshots').set({ field_hashes: null }).where('sync_id', '=', sync).execute();

    await csmSetsSegment('enterprise');
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 30 }]);
    expect((await ebb('plan', allFields)).stdout).toContain(
      'change acme writes Name, Health_Score__c, Segment__c, MRR__c:',
    );
    await engine.run(allFields);
    expect(acme()).toMatchObject({ Health_Score__c: 30, Segment__c: 'at-risk' });

    await csmSetsSegment('enterprise');
    await engine.run(sync);
    expect(acme()).toMatchObject({ Health_Score__c: 30, Segment__c: 'at-risk' });

    // That run stored per-field hashes: the next update of acme is partial again.
    await csmSetsSegment('enterprise');
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 31 }]);
    await engine.run(sync);
    expect(acme()).toMatchObject({ Health_Score__c: 31, Segment__c: 'enterprise' });
  });
});

test('changedFieldsOnly takes true or false, and anything else is an error at its path', () => {
  const source = (value: string) => `
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
models:
  account_health: { source: warehouse, primaryKey: account_id, sql: select * from account_health }
syncs:${salesforceSyncYaml('s', { extra: `\n    changedFieldsOnly: ${value}` })}`;
  expect(parseConfig(source('false'), { env: {} }).config?.syncs.s?.changedFieldsOnly).toBe(false);
  expect(parseConfig(source('true'), { env: {} }).problems).toEqual([]);
  expect(parseConfig(source('"yes"'), { env: {} }).problems).toEqual([
    expect.objectContaining({
      path: 'syncs.s.changedFieldsOnly',
      message: 'expected boolean, got string',
    }),
  ]);
});
