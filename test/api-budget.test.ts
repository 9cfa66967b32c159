/**
 * The destination's daily API budget: a delivery pauses before the budget runs out, says so in
 * `ebb status`, and resumes by itself once the budget frees up; and every request a run makes,
 * the session's token and describe and re-sent batches included, counts in its API calls.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { budgetReserve } from '../activities/deliver-batch';
import type { FinishInput } from '../activities/finish-run';
import { requestRun, runAttention, waitForRequest } from '../cli/sync-control';
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { runWorkflowId, type RunSummary } from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 10;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

const sfSync = (id: string) => salesforceSyncYaml(id);

let engine: EngineHarness;
let sync: string;

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`),
    apiBudgetRetryMs: 500,
  });
  sync = `sf-${engine.suffix}`;
});
afterEach(async () => {
  await engine.stop();
});

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the reserve kept back from a daily budget is 2% of it, at least 10, and at most a tenth of it', () => {
  expect(budgetReserve(15)).toBe(2);
  expect(budgetReserve(100)).toBe(10);
  expect(budgetReserve(1_000)).toBe(20);
  expect(budgetReserve(100_000)).toBe(2_000);
});

test('a delivery paused for the daily API budget shows in `ebb status` and resumes by itself once the budget frees up', async () => {
  // A developer org's allowance of 15, nearly used: the plan's describe still fits, delivery does not.
  engine.sf.injectFaults({ dailyApiLimit: 15, apiUsed: 12 });
  const { requestSeq } = await requestRun(engine.client, sync, engine.taskQueue, {});
  await waitFor(
    'the delivery to pause',
    async () => (await runAttention(engine.client, runWorkflowId(sync, 1))).waiting,
  );

  const { stdout } = await promisify(execFile)(
    'node',
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'status', sync, '--json'],
    { env: { ...process.env, ...engine.env } },
  );
  const [status] = JSON.parse(stdout) as Array<{ waiting: string | null; status: { currentRun: unknown } }>;
  expect(status?.waiting).toMatch(/^waiting for API budget \(1[3-5]\/15\), next check at \d{4}-\d\d-\d\dT[\d:.]+Z\./);
  expect(status?.status.currentRun).toMatchObject({ runNumber: 1 });
  expect(engine.sf.records('Account')).toHaveLength(0);

  // The daily window rolls on: the same run, on the same worker, delivers everything.
  engine.sf.injectFaults({ apiUsed: 0 });
  const done = await waitForRequest(engine.client, sync, requestSeq, () => undefined);

  expect(done.lastRun).toMatchObject({ runNumber: 1, status: 'succeeded', succeeded: TOTAL, failed: 0 });
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);
  // Usage checks refused with REQUEST_LIMIT_EXCEEDED while the budget was spent count too.
  expect(done.lastRun?.apiCalls).toBe(engine.sf.stats().total);
  expect(engine.sf.stats().limitsRequests).toBeGreaterThan(0);
});

test("a run's API calls are every request it sent: token, describe, and a batch re-sent after a crash", async () => {
  const run = await engine.run(sync, { kind: 'full' });
  const stats = engine.sf.stats();
  expect(stats.tokenRequests).toBe(1);
  expect(stats.describeRequests).toBe(1);
  expect(run.apiCalls).toBe(stats.total);

  // As if the worker died after Salesforce accepted batch 1 but before its outcome was recorded: a
  // new worker process (a new session: token and describe again) re-sends it, and the run finishes again.
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
    .where('key', '=', 'acme')
    .execute();
  await engine.store.db
    .insertInto('staged_records')
    .values({
      sync_id: sync,
      run_number: run.runNumber,
      batch_number: 1,
      position: 0,
      key: 'acme',
      operation: 'upsert',
      hash: 'h',
      payload: JSON.stringify({ External_Id__c: 'acme', Name: 'Acme' }),
      destination_id: null,
      cursor_value: null,
    })
    .execute();
  const activities = engine.activities();
  const input = { syncId: sync, runNumber: run.runNumber, batchNumber: 1 };
  await new MockActivityEnvironment({ attempt: 2 }).run(activities.deliverBatch, input);
  const finish: FinishInput = { syncId: sync, runNumber: run.runNumber, status: 'succeeded', error: null };
  const finished = await new MockActivityEnvironment({ attempt: 2 }).run<
    [FinishInput],
    RunSummary,
    typeof activities.finishRun
  >(activities.finishRun, finish);

  expect(engine.sf.stats().total).toBe(stats.total + 3);
  expect(finished.apiCalls).toBe(engine.sf.stats().total);
  expect((await engine.store.getRun(sync, run.runNumber))?.api_calls).toBe(engine.sf.stats().total);
});
