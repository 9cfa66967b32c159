/**
 * A delivery activity sends several requests' worth of records (Salesforce: `requestsPerDelivery`),
 * records each request's outcomes as it answers, and, re-executed after a crash mid-way, sends only
 * the records whose outcomes were not recorded.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 40;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let engine: EngineHarness;
let sync: string;

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    salesforceLimits: '{ batchSize: 10, maxConcurrency: 2, requestsPerDelivery: 3 }',
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
  });
  sync = `sf-${engine.suffix}`;
});
afterEach(async () => {
  await engine.stop();
});

test('44 records go out as 5 requests of at most 10 in 2 delivery activities, every record upserted once', async () => {
  const before = engine.sf.stats().upsertRequests;
  const run = await engine.run(sync);

  expect(run).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
  expect(engine.sf.stats().upsertRequests - before).toBe(5);
  expect(run.apiCalls).toBe(engine.sf.stats().total);
  const history = await engine.client.workflow.getHandle(`sync/${sync}/run/${run.runNumber}`).fetchHistory();
  const deliveries = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverBatch',
  );
  expect(deliveries).toHaveLength(2);
  expect(Object.values(engine.sf.upsertAttempts('Account')).every((n) => n === 1)).toBe(true);
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);
});

test('a delivery re-executed after a crash mid-way sends only the records whose outcomes were not recorded', async () => {
  const run = await engine.run(sync);
  const accounts = engine.sf
    .records('Account')
    .map((a) => String(a.External_Id__c))
    .sort()
    .slice(0, 30);
  // As if the worker died while delivering batch 1 (3 requests of 10): the first request's outcomes
  // were recorded, the second was sent but not recorded, the third never left.
  await engine.store.db
    .updateTable('batches')
    .set({ delivered_at: null })
    .where('sync_id', '=', sync)
    .where('batch_number', '=', 1)
    .execute();
  await engine.store.db
    .deleteFrom('record_results')
    .where('sync_id', '=', sync)
    .where('run_number', '=', run.runNumber)
    .where('key', 'in', accounts.slice(10))
    .execute();
  await engine.store.db
    .insertInto('staged_records')
    .values(
      accounts.map((key, position) => ({
        sync_id: sync,
        run_number: run.runNumber,
        batch_number: 1,
        position,
        key,
        operation: 'upsert' as const,
        hash: 'h',
        payload: JSON.stringify({ External_Id__c: key, Name: `Renamed ${key}` }),
        destination_id: null,
        cursor_value: null,
      })),
    )
    .execute();
  const attemptsBefore = engine.sf.upsertAttempts('Account');
  const requestsBefore = engine.sf.stats().upsertRequests;

  const result = await new MockActivityEnvironment({ attempt: 2 }).run(engine.activities().deliverBatch, {
    syncId: sync,
    runNumber: run.runNumber,
    batchNumber: 1,
  });

  expect(result).toEqual({ succeeded: 30, failed: 0 });
  expect(engine.sf.stats().upsertRequests - requestsBefore).toBe(2);
  const attemptsAfter = engine.sf.upsertAttempts('Account');
  const resent = accounts.filter((key) => attemptsAfter[key] !== attemptsBefore[key]);
  expect(resent).toEqual(accounts.slice(10));
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);
  const batch = await engine.store.db
    .selectFrom('batches')
    .select(['delivered_at', 'succeeded', 'failed'])
    .where('sync_id', '=', sync)
    .where('run_number', '=', run.runNumber)
    .where('batch_number', '=', 1)
    .executeTakeFirstOrThrow();
  expect(batch).toMatchObject({ succeeded: 30, failed: 0 });
  expect(batch.delivered_at).not.toBeNull();
});
