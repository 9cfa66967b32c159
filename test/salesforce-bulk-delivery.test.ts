/**
 * Large Salesforce runs go through Bulk API 2.0: one ingest job instead of a request per 200
 * records, every record with its outcome (rejections included), and a worker killed while the job
 * is processed leaves a job that the next worker polls rather than sending the records again.
 * Real Temporal, real jsforce, the Salesforce sandbox's Bulk 2.0 endpoints.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { requestRun, waitForRequest } from '../cli/sync-control';
import { stopProcess } from '../sandbox/temporal-dev-server';
import { SEED_ACCOUNTS, execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { bulkJobFor, bulkJobsOfRun, finishBulkJob, recordBulkJob } from '../state/bulk-jobs';
import { startEngine, type EngineHarness } from './harness/engine';
import { STATE_BACKENDS } from './harness/state-backends';
import { salesforceSyncYaml } from './harness/sync-yaml';

const REPO = path.resolve(__dirname, '..');

let engine: EngineHarness | null = null;
const workers: ChildProcess[] = [];

afterEach(async () => {
  for (const w of workers.splice(0)) await stopProcess(w);
  await engine?.stop();
  engine = null;
});

describe.each(STATE_BACKENDS)('the $name state store', (backend) => {
  test('keeps a Bulk job id for its batches and operation, so a retry finds that job and no other', async () => {
    const opened = await backend.open();
    try {
      const { store } = opened;
      const slot = { syncId: 's', runNumber: 3, firstBatch: 1, lastBatch: 25, operation: 'upsert' as const };
      expect(await bulkJobFor(store, slot)).toBeNull();
      await recordBulkJob(store, { ...slot, jobId: '750000000000001AAA', records: 50_000 });
      expect(await bulkJobFor(store, slot)).toMatchObject({
        job_id: '750000000000001AAA',
        state: 'Open',
        finished_at: null,
      });
      // Another operation, or the same first batch grouped with other batches, is another job.
      expect(await bulkJobFor(store, { ...slot, operation: 'delete' })).toBeNull();
      expect(await bulkJobFor(store, { ...slot, lastBatch: 10 })).toBeNull();
      // A job replaced (the first was still Open at a crash, so it was aborted) keeps one row.
      await recordBulkJob(store, { ...slot, jobId: '750000000000002AAA', records: 50_000 });
      await finishBulkJob(store, slot, 'JobComplete');
      expect((await bulkJobsOfRun(store, 's', 3)).map((j) => [j.job_id, j.state])).toEqual([
        ['750000000000002AAA', 'JobComplete'],
      ]);
      // A re-executed plan starts the run afresh: its jobs go with its batches.
      await store.clearPlan('s', 3);
      expect(await bulkJobsOfRun(store, 's', 3)).toEqual([]);
    } finally {
      await opened.store.close();
      await opened.drop();
    }
  });
});

/**
 * Adds `count` accounts to the warehouse in one INSERT ... SELECT over DuckDB's range(); every
 * `nullNameEvery`-th has no name, which Salesforce refuses for a new Account (REQUIRED_FIELD_MISSING)
 * and which no describe check can foresee for an upsert.
 */
async function addAccounts(e: EngineHarness, count: number, nullNameEvery = 0): Promise<void> {
  const name =
    nullNameEvery > 0 ? `CASE WHEN i % ${nullNameEvery} = 0 THEN NULL ELSE 'Bulk ' || i END` : `'Bulk ' || i`;
  await execDuckDb(
    e.warehouse,
    `ALTER TABLE account_health ALTER COLUMN name DROP NOT NULL;
     INSERT INTO account_health
     SELECT 'bulk-' || lpad(i::VARCHAR, 6, '0'), ${name}, i % 101,
            CASE WHEN i % 101 < 50 THEN 'at-risk' ELSE 'healthy' END, (i % 997) * 10.25, TIMESTAMP '2025-01-01'
     FROM range(1, ${count + 1}) t(i)`,
  );
}

/** Runs the CLI as a user would; a non-zero exit is returned, not thrown. */
async function ebb(e: EngineHarness, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)('node', ['bin/ebb.js', '--config', e.configFile, ...args], {
      cwd: REPO,
      env: { ...process.env, ...e.env },
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

test('a 50,000-record sync goes through one Bulk API 2.0 job and every record gets its outcome, Salesforce rejections included', async () => {
  const e = (engine = await startEngine({
    generated: 0,
    // Default Salesforce limits: batches of 2,000 staged records.
    salesforceLimits: '{ maxConcurrency: 2 }',
    salesforce: { bulk: { processingMs: 300 } },
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`, { extra: '\n    bulk: { pollSeconds: 0.25 }' }),
  }));
  const sync = `sf-${e.suffix}`;
  const total = 50_000;
  await addAccounts(e, total - SEED_ACCOUNTS.length, 10_000);

  const summary = await e.run(sync);

  expect(summary).toMatchObject({
    status: 'succeeded_with_failures',
    added: total,
    succeeded: total - 4,
    failed: 4,
    invalid: 0,
    failureReasons: [{ code: 'REQUIRED_FIELD_MISSING', count: 4 }],
  });
  const jobs = e.sf.bulkJobs();
  expect(jobs).toHaveLength(1);
  expect(jobs[0]).toMatchObject({
    object: 'Account',
    operation: 'upsert',
    externalIdFieldName: 'External_Id__c',
    state: 'JobComplete',
    uploads: 1,
    numberRecordsProcessed: total,
    numberRecordsFailed: 4,
  });
  // No sObject Collections request: create, upload, close, the polls and three result downloads,
  // plus the token and the describe.
  const stats = e.sf.stats();
  expect(stats.upsertRequests).toBe(0);
  expect(summary.apiCalls).toBe(stats.total);
  expect(summary.apiCalls).toBeLessThan(30);
  expect(e.sf.records('Account')).toHaveLength(total - 4);
  expect((await bulkJobsOfRun(e.store, sync, summary.runNumber)).map((j) => [j.job_id, j.state])).toEqual([
    [jobs[0]?.id, 'JobComplete'],
  ]);

  const results = await e.store.listRecordResults(sync, { runNumber: summary.runNumber, limit: total });
  expect(results).toHaveLength(total);
  const failed = results.filter((r) => r.status === 'failed');
  expect(failed.map((r) => [r.key, r.errorCode])).toEqual(
    [10_000, 20_000, 30_000, 40_000].map((i) => [`bulk-0${i}`, 'REQUIRED_FIELD_MISSING']),
  );
  expect(failed[0]?.errorMessage).toContain('(fields: Name)');
  const byKey = new Map(e.sf.records('Account').map((a) => [a.External_Id__c, a.Id]));
  expect(results.filter((r) => r.status === 'succeeded').every((r) => r.destinationId === byKey.get(r.key))).toBe(true);

  // The rejected rows have no snapshot: the next run sends only them, too few for a job.
  await execDuckDb(e.warehouse, `UPDATE account_health SET name = 'Named ' || account_id WHERE name IS NULL`);
  const next = await e.run(sync);
  expect(next).toMatchObject({ status: 'succeeded', added: 4, succeeded: 4, unchanged: total - 4 });
  expect(e.sf.bulkJobs()).toHaveLength(1);
  expect(e.sf.stats().upsertRequests).toBe(1);
}, 120_000);

test('ebb plan says which path a run takes and its request cost; a record the job found locked goes again through collections; a mirror run deletes through a Bulk delete job', async () => {
  const e = (engine = await startEngine({
    generated: 0,
    salesforceLimits: '{ maxConcurrency: 2 }',
    salesforce: { bulk: { processingMs: 100 } },
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`bulk-${suffix}`, { mode: 'mirror', extra: '\n    bulk: { above: 500, pollSeconds: 0.1 }' }) +
      salesforceSyncYaml(`rest-${suffix}`, { extra: '\n    bulk: false' }),
  }));
  const bulkSync = `bulk-${e.suffix}`;
  const restSync = `rest-${e.suffix}`;
  await addAccounts(e, 996);

  const bulkPlan = await ebb(e, 'plan', bulkSync);
  expect(bulkPlan.stdout).toContain(
    '1000 records would be delivered through Bulk API 2.0, one job per 100,000 records, polled every 0.1 s ' +
      '(runs with 500 or more records to send take it), in about 8 API requests (an estimate: per job, create, upload, close,',
  );
  const restPlan = await ebb(e, 'plan', restSync);
  expect(restPlan.stdout).toContain(
    '1000 records in 1 batch of up to 200 would be delivered through sObject Collections, in about 5 API requests',
  );

  // acme's row is locked while the job saves it, then free.
  e.sf.injectFaults({ lockErrors: { keys: ['acme'], count: 1 } });
  expect(await e.run(bulkSync)).toMatchObject({ status: 'succeeded', added: 1000, succeeded: 1000 });
  expect(e.sf.bulkJobs()[0]?.numberRecordsFailed).toBe(1);
  expect(e.sf.stats().upsertRequests).toBe(1);
  expect(e.sf.records('Account').filter((a) => a.External_Id__c === 'acme')).toHaveLength(1);
  await execDuckDb(
    e.warehouse,
    `DELETE FROM account_health WHERE account_id LIKE 'bulk-%' AND account_id <= 'bulk-000600'`,
  );
  expect(await e.run(bulkSync, { allowDeletes: true })).toMatchObject({
    status: 'succeeded',
    removed: 600,
    succeeded: 600,
  });
  expect(e.sf.bulkJobs().map((j) => [j.operation, j.numberRecordsProcessed])).toEqual([
    ['upsert', 1000],
    ['delete', 600],
  ]);
  expect(e.sf.records('Account')).toHaveLength(400);
  expect(e.sf.stats().deleteRequests).toBe(0);
}, 120_000);

test('a worker killed while Salesforce processes the job: the next worker polls the same job instead of sending the records again', async () => {
  const e = (engine = await startEngine({
    generated: 0,
    workers: false,
    salesforceLimits: '{ maxConcurrency: 2 }',
    // Long enough that the kill lands while the first worker polls.
    salesforce: { bulk: { processingMs: 20_000 } },
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`sf-${suffix}`, { extra: '\n    bulk: { above: 1000, pollSeconds: 0.5 }' }),
  }));
  const sync = `sf-${e.suffix}`;
  const total = 3000;
  await addAccounts(e, total - SEED_ACCOUNTS.length);
  const startWorker = (name: string): ChildProcess => {
    const log = fs.openSync(path.join(e.dir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'ebb.js'), '--config', e.configFile, 'worker'], {
      env: { ...process.env, ...e.env },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    workers.push(child);
    return child;
  };

  const first = startWorker('worker-1');
  const { requestSeq } = await requestRun(e.client, sync, e.names, { kind: 'incremental' });
  const deadline = Date.now() + 90_000;
  while (!e.sf.bulkJobs().some((j) => j.state === 'UploadComplete' || j.state === 'InProgress')) {
    if (Date.now() > deadline) throw new Error('the first worker closed no Bulk job in 90 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Give the worker a poll or two, then kill it mid-poll.
  await new Promise((r) => setTimeout(r, 1200));
  first.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  const [job] = e.sf.bulkJobs();
  expect(job?.state).not.toBe('JobComplete');
  const requestsBeforeResume = e.sf.stats().total;

  startWorker('worker-2');
  // The controller answers queries only once worker-2 polls: wait for the run in the state store first.
  const finishBy = Date.now() + 120_000;
  while (!['succeeded', 'failed'].includes((await e.store.getRun(sync, 1))?.status ?? '')) {
    if (Date.now() > finishBy) throw new Error('the second worker did not finish the run in 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  const status = await waitForRequest(e.client, sync, requestSeq, () => undefined, {}, e.names);

  expect(status.lastRun).toMatchObject({ status: 'succeeded', added: total, succeeded: total, failed: 0 });
  expect(e.sf.bulkJobs().map((j) => j.id)).toEqual([job?.id]);
  expect(e.sf.bulkJobs()[0]?.uploads).toBe(1);
  // The run counts the plan's requests and every request of the resuming attempt (its own token and
  // describe included); the killed attempt's job requests were never reported.
  const run = await e.store.getRun(sync, 1);
  expect(status.lastRun?.apiCalls).toBe((run?.plan_api_calls ?? 0) + e.sf.stats().total - requestsBeforeResume);
  const runNumber = status.lastRun?.runNumber ?? 0;
  expect((await bulkJobsOfRun(e.store, sync, runNumber)).map((j) => [j.job_id, j.state])).toEqual([
    [job?.id, 'JobComplete'],
  ]);
  const accounts = e.sf.records('Account');
  expect(new Set(accounts.map((a) => a.External_Id__c)).size).toBe(total);
  expect(accounts).toHaveLength(total);
  const results = await e.store.listRecordResults(sync, { runNumber, limit: total });
  expect(results).toHaveLength(total);
  // Recorded by the second attempt, the one that resumed the job.
  expect(results.every((r) => r.status === 'succeeded' && r.attempt >= 2)).toBe(true);
}, 180_000);

test('a run cancelled while Salesforce processes its job aborts the job, and the next run sends the records in a new one', async () => {
  const e = (engine = await startEngine({
    generated: 0,
    salesforceLimits: '{ maxConcurrency: 2 }',
    salesforce: { bulk: { processingMs: 30_000 } },
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`sf-${suffix}`, { extra: '\n    bulk: { above: 100, pollSeconds: 0.2 }' }),
  }));
  const sync = `sf-${e.suffix}`;
  await addAccounts(e, 296);
  const { requestSeq } = await requestRun(e.client, sync, e.names, { kind: 'incremental' });
  const deadline = Date.now() + 60_000;
  while (!e.sf.bulkJobs().some((j) => j.state === 'UploadComplete' || j.state === 'InProgress')) {
    if (Date.now() > deadline) throw new Error('no Bulk job closed in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // As the Temporal UI's Cancel does.
  await e.client.workflow.getHandle(e.names.run(sync, 1)).cancel();
  while (e.sf.bulkJobs()[0]?.state !== 'Aborted') {
    if (Date.now() > deadline) throw new Error(`the job was not aborted: ${e.sf.bulkJobs()[0]?.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(e.sf.records('Account')).toHaveLength(0);
  await waitForRequest(e.client, sync, requestSeq, () => undefined, {}, e.names);
  expect((await bulkJobsOfRun(e.store, sync, 1)).map((j) => j.state)).toEqual(['Aborted']);

  e.sf.configureBulk({ processingMs: 100 });
  expect(await e.run(sync)).toMatchObject({ status: 'succeeded', added: 300, succeeded: 300 });
  expect(e.sf.bulkJobs().map((j) => j.state)).toEqual(['Aborted', 'JobComplete']);
  expect(e.sf.records('Account')).toHaveLength(300);
}, 120_000);
