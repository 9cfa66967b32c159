/**
 * Records a destination rejects for a passing reason (Salesforce UNABLE_TO_LOCK_ROW) are re-sent
 * within the run, through the real engine: Temporal dev server, DuckDB, ebb's workers, and the
 * Salesforce sandbox's lock faults. The backoff is shortened to milliseconds; its shape is the same.
 */
import { defaultRecordRetryPolicy, deliverRetryingTransientRecords } from '../activities/record-retries';
import type { RecordOutcome, RecordToDeliver } from '../connectors/destinations/destination';
import { SEED_ACCOUNTS, allowMissingNames, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 10;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let engine: EngineHarness;
let sync: string;

describe('in-run record retries through the engine', () => {
  beforeEach(async () => {
    engine = await startEngine({
      generated: GENERATED,
      recordRetries: { delaysMs: [20, 40, 80], jitter: 0.25 },
      syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
    });
    sync = `sf-${engine.suffix}`;
  });
  afterEach(async () => {
    await engine.stop();
  });

  const accountsWithKey = (key: string) => engine.sf.records('Account').filter((a) => a.External_Id__c === key);

  test('a record whose row is locked for its first two attempts lands within the same run', async () => {
    engine.sf.injectFaults({ lockErrors: { keys: ['acme'], count: 2 } });
    const run = await engine.run(sync);

    expect(run).toMatchObject({ status: 'succeeded', succeeded: TOTAL, failed: 0 });
    expect(accountsWithKey('acme')).toEqual([expect.objectContaining({ Name: 'Acme', Health_Score__c: 38 })]);
    expect(engine.sf.records('Account')).toHaveLength(TOTAL);
    expect(engine.sf.upsertAttempts('Account')).toMatchObject({ acme: 3, globex: 1 });
    expect(engine.sf.stats().recordsLocked).toBe(2);
  });

  test('a record locked on every attempt fails with UNABLE_TO_LOCK_ROW after the retries, and the others land', async () => {
    engine.sf.injectFaults({ lockErrors: { keys: ['acme'] } });
    const run = await engine.run(sync);

    expect(run).toMatchObject({ succeeded: TOTAL - 1, failed: 1 });
    expect(accountsWithKey('acme')).toEqual([]);
    expect(engine.sf.records('Account')).toHaveLength(TOTAL - 1);
    expect(engine.sf.upsertAttempts('Account')).toMatchObject({ acme: 4 });
    const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failures).toEqual([expect.objectContaining({ key: 'acme', errorCode: 'UNABLE_TO_LOCK_ROW' })]);
    expect(failures[0]?.errorMessage).toMatch(/unable to obtain exclusive access.*after 3 retries within the run/);
  });

  test('a lock that clears lets the next run deliver the record it failed', async () => {
    engine.sf.injectFaults({ lockErrors: { keys: ['acme'] } });
    expect((await engine.run(sync)).failed).toBe(1);

    engine.sf.injectFaults({ lockErrors: null });
    const next = await engine.run(sync);
    expect(next).toMatchObject({ succeeded: 1, failed: 0 });
    expect(accountsWithKey('acme')).toHaveLength(1);
  });

  test('a record Salesforce rejects as REQUIRED_FIELD_MISSING is sent once, not retried', async () => {
    await allowMissingNames(engine.warehouse);
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: null }]);
    engine.sf.injectFaults({ lockErrors: { keys: ['globex'], count: 1 } });
    const run = await engine.run(sync);

    expect(run).toMatchObject({ succeeded: TOTAL - 1, failed: 1 });
    // globex shows retries work in this run; acme's validation error never triggers one.
    expect(engine.sf.upsertAttempts('Account')).toMatchObject({ acme: 1, globex: 2 });
    const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failures).toEqual([expect.objectContaining({ key: 'acme', errorCode: 'REQUIRED_FIELD_MISSING' })]);
    expect(failures[0]?.errorMessage).not.toMatch(/retr/);
  });
});

describe('the record retry loop', () => {
  const record = (key: string): RecordToDeliver => ({
    key,
    payload: {},
    operation: 'upsert',
    destinationId: null,
    hash: key,
  });
  const failed = (key: string, errorCode: string): RecordOutcome => ({
    key,
    status: 'failed',
    errorCode,
    errorMessage: `${errorCode} for ${key}`,
  });

  test('the default schedule waits about 1, 2 and 4 s, heartbeating at least every 5 s, then reports the retries', async () => {
    const waits: number[] = [];
    let heartbeats = 0;
    const outcomes = await deliverRetryingTransientRecords(
      [record('a'), record('b')],
      async (part) =>
        part.map((r) =>
          r.key === 'a' ? failed('a', 'UNABLE_TO_LOCK_ROW') : { key: r.key, status: 'succeeded', destinationId: 'x' },
        ),
      {
        transientErrors: new Set(['UNABLE_TO_LOCK_ROW']),
        policy: defaultRecordRetryPolicy,
        heartbeat: () => heartbeats++,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    );
    expect(waits).toHaveLength(3);
    waits.forEach((ms, i) => {
      const nominal = defaultRecordRetryPolicy.delaysMs[i] as number;
      expect(ms).toBeGreaterThanOrEqual(nominal * 0.75);
      expect(ms).toBeLessThanOrEqual(Math.min(nominal * 1.25, 5000));
    });
    expect(heartbeats).toBeGreaterThanOrEqual(6);
    expect(outcomes).toEqual([
      expect.objectContaining({ key: 'a', status: 'failed', errorMessage: expect.stringMatching(/after 3 retries/) }),
      expect.objectContaining({ key: 'b', status: 'succeeded' }),
    ]);
  });

  test('a record that fails for another reason on a retry keeps that outcome and is not retried again', async () => {
    const sent: string[][] = [];
    const outcomes = await deliverRetryingTransientRecords(
      [record('a'), record('b')],
      async (part, retry) => {
        sent.push(part.map((r) => r.key));
        return part.map((r) => failed(r.key, retry ? 'STRING_TOO_LONG' : 'UNABLE_TO_LOCK_ROW'));
      },
      {
        transientErrors: new Set(['UNABLE_TO_LOCK_ROW']),
        policy: { delaysMs: [1, 1, 1], jitter: 0 },
        heartbeat: () => {},
      },
    );
    expect(sent).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(outcomes.map((o) => o.status === 'failed' && o.errorMessage)).toEqual([
      'STRING_TOO_LONG for a',
      'STRING_TOO_LONG for b',
    ]);
  });
});
