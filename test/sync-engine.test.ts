/**
 * The sync engine end to end: real Temporal dev server, real DuckDB warehouse, ebb's workers, and
 * the Salesforce sandbox reached through jsforce.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  DEMO_CHANGES,
  SEED_ACCOUNTS,
  allowMissingNames,
  execDuckDb,
  updateDemoAccounts,
} from '../sandbox/warehouse/demo-warehouse';
import { reconcileSchedules } from '../workers/schedules';
import { fullResyncSignal, pauseSignal, resumeSignal, runNowSignal, scheduleId } from '../workflows/definitions';
import { historiesText, startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 40;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;
const LONG_NAME = `Acme ${'Overly Long Company Name '.repeat(4)}`;

const sfSync = (id: string, extra = '') => salesforceSyncYaml(id, { extra });

let engine: EngineHarness;
let sync: string;

beforeEach(async () => {
  engine = await startEngine({ generated: GENERATED, syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`) });
  sync = `sf-${engine.suffix}`;
});
afterEach(async () => {
  await engine.stop();
});

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the first run upserts every row and the sandbox holds one Account per external id with the mapped fields', async () => {
  const run = await engine.run(sync);

  expect(run).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
  // Every request of the run: the session's token and the describe too.
  expect(run.apiCalls).toBe(engine.sf.stats().total);
  const accounts = engine.sf.records('Account');
  expect(accounts).toHaveLength(TOTAL);
  expect(new Set(accounts.map((a) => a.External_Id__c)).size).toBe(TOTAL);
  const acme = accounts.find((a) => a.External_Id__c === 'acme');
  expect(acme).toMatchObject({ Name: 'Acme', Health_Score__c: 38, Segment__c: 'at-risk', MRR__c: 900 });
});

test('re-running with no change makes zero upsert calls, and changing two rows sends exactly those two', async () => {
  await engine.run(sync);
  const afterFirst = engine.sf.stats();

  const rerun = await engine.run(sync);
  expect(rerun).toMatchObject({ added: 0, changed: 0, unchanged: TOTAL, succeeded: 0 });
  expect(engine.sf.stats().upsertRequests).toBe(afterFirst.upsertRequests);

  await updateDemoAccounts(engine.warehouse, DEMO_CHANGES);
  const changed = await engine.run(sync);
  expect(changed).toMatchObject({ changed: 2, succeeded: 2, unchanged: TOTAL - 2 });
  expect(engine.sf.stats().recordsUpserted - afterFirst.recordsUpserted).toBe(2);
  const initech = engine.sf.records('Account').find((a) => a.External_Id__c === 'initech');
  expect(initech).toMatchObject({ Health_Score__c: 45, Segment__c: 'at-risk' });
});

test('running a full resync twice or re-executing a delivered batch never duplicates an Account', async () => {
  await engine.run(sync, { kind: 'full' });
  const second = await engine.run(sync, { kind: 'full' });
  expect(second).toMatchObject({ changed: TOTAL, succeeded: TOTAL });
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);

  // As if the worker died after Salesforce accepted batch 1 but before its outcome was recorded.
  await engine.store.db.updateTable('batches').set({ delivered_at: null }).where('sync_id', '=', sync).execute();
  await engine.store.db
    .deleteFrom('record_results')
    .where('sync_id', '=', sync)
    .where('run_number', '=', second.runNumber)
    .where('key', '=', 'acme')
    .execute();
  await engine.store.db
    .insertInto('staged_records')
    .values({
      sync_id: sync,
      run_number: second.runNumber,
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
  const before = engine.sf.stats().upsertRequests;
  const result = await new MockActivityEnvironment({ attempt: 2 }).run(activities.deliverBatch, {
    syncId: sync,
    runNumber: second.runNumber,
    batchNumber: 1,
  });

  expect(result).toEqual({ succeeded: 1, failed: 0 });
  expect(engine.sf.stats().upsertRequests).toBe(before + 1);
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);
});

test('a record Salesforce rejects is a failed record with its error code, the others land, `ebb records --failed` shows it, and fixing the row delivers it', async () => {
  // Describe cannot tell ebb whether an upsert inserts, so a missing Name is Salesforce's to refuse.
  await allowMissingNames(engine.warehouse);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: null }]);
  const run = await engine.run(sync);

  expect(run).toMatchObject({ status: 'succeeded_with_failures', succeeded: TOTAL - 1, failed: 1 });
  expect(engine.sf.records('Account')).toHaveLength(TOTAL - 1);
  const [failure] = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
  expect(failure).toMatchObject({ key: 'acme', errorCode: 'REQUIRED_FIELD_MISSING' });
  expect(failure?.errorMessage).toMatch(/Name/);

  const cli = await promisify(execFile)(
    'node',
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'records', sync, '--failed'],
    {
      env: { ...process.env, ...engine.env },
    },
  );
  expect(cli.stdout).toMatch(/acme\s+upsert\s+failed/);
  expect(cli.stdout).toContain('REQUIRED_FIELD_MISSING');

  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: 'Acme Corp' }]);
  const fixed = await engine.run(sync);
  expect(fixed).toMatchObject({ added: 1, succeeded: 1, failed: 0 });
  expect(engine.sf.records('Account').find((a) => a.External_Id__c === 'acme')).toMatchObject({ Name: 'Acme Corp' });
});

test('a full resync sends every row again and a replay re-sends only the failed records', async () => {
  await allowMissingNames(engine.warehouse);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'globex', name: null }]);
  const first = await engine.run(sync);
  expect(first.failed).toBe(1);

  const beforeResync = engine.sf.stats();
  const resync = await engine.run(sync, { kind: 'full' });
  expect(resync).toMatchObject({ kind: 'full', succeeded: TOTAL - 1, failed: 1 });
  expect(engine.sf.stats().recordsUpserted - beforeResync.recordsUpserted).toBe(TOTAL - 1);

  const beforeReplay = engine.sf.stats();
  const replay = await engine.run(sync, { kind: 'replay', runNumber: first.runNumber });
  expect(replay).toMatchObject({ kind: 'replay', succeeded: 0, failed: 1 });
  expect(engine.sf.stats().recordsUpserted).toBe(beforeReplay.recordsUpserted);
  expect(engine.sf.stats().recordsFailed - beforeReplay.recordsFailed).toBe(1);
});

test('a paused sync ignores its Temporal Schedule until it is resumed', async () => {
  const { ensured: schedules } = await reconcileSchedules(
    engine.client,
    { ...engine.config, syncs: { [sync]: { ...engine.config.syncs[sync]!, schedule: { every: '1h' } } } },
    engine.names,
  );
  const schedule = engine.client.schedule.getHandle(scheduleId(sync));
  try {
    expect(schedules).toEqual([scheduleId(sync)]);
    await engine.run(sync);
    const controller = engine.client.workflow.getHandle(`sync/${sync}`);
    await controller.signal(pauseSignal, {});

    await schedule.trigger();
    const paused = await waitFor('the scheduled trigger to be dropped', async () => {
      const s = await engine.status(sync);
      return s.skippedWhilePaused === 1 && s;
    });
    expect(paused).toMatchObject({ paused: true, currentRun: null, pending: null });
    expect((await engine.store.listRuns(sync)).length).toBe(1);

    await controller.signal(resumeSignal, {});
    await schedule.trigger();
    await waitFor('the scheduled run after resume', async () =>
      (await engine.store.listRuns(sync)).find((r) => r.run_number === 2 && r.status === 'succeeded'),
    );
  } finally {
    await schedule.delete();
  }
});

test('a sync with no successful run within twice its schedule interval is reported overdue', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`, '\n    schedule: { every: 1s }'),
  });
  sync = `sf-${engine.suffix}`;
  await engine.run(sync);
  expect((await engine.status(sync)).overdue).toBe(false);
  await new Promise((r) => setTimeout(r, 2500));
  expect(await engine.status(sync)).toMatchObject({ overdue: true, scheduleIntervalMs: 1000 });
});

test('no row value, key or secret from the model appears in the workflow histories', async () => {
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'umbrella', name: LONG_NAME }]);
  const first = await engine.run(sync);
  await updateDemoAccounts(engine.warehouse, DEMO_CHANGES);
  const second = await engine.run(sync);
  const replay = await engine.run(sync, { kind: 'replay' });
  const text = await historiesText(engine.client, sync, [first.runNumber, second.runNumber, replay.runNumber]);

  expect(text).toContain('planRun');
  for (const seed of SEED_ACCOUNTS) {
    expect(text).not.toContain(seed.name);
    expect(text).not.toContain(`"${seed.account_id}"`);
  }
  expect(text).not.toContain('Overly Long');
  expect(text).not.toContain(engine.sf.clientSecret);
  // Error codes and counts are the run's failure reasons in the UI; the messages quote values and stay out.
  expect(text).toContain('STRING_TOO_LONG');
  expect(text).not.toContain('data value too large');
});

test('the controller continues as new before its history grows large, keeping its run history and requests', async () => {
  await engine.stop();
  engine = await startEngine({ generated: 0, syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`) });
  sync = `sf-${engine.suffix}`;
  const controller = engine.client.workflow.getHandle(`sync/${sync}`);
  await engine.run(sync);
  const firstRunId = (await controller.describe()).runId;

  let runs = 1;
  while ((await controller.describe()).runId === firstRunId) {
    if (runs > 40) throw new Error('the controller never continued as new');
    await engine.run(sync);
    runs++;
  }
  const last = await engine.run(sync);
  const status = await engine.status(sync);
  expect(last.runNumber).toBe(runs + 1);
  expect(status).toMatchObject({
    requestSeq: runs + 1,
    completedThroughSeq: runs + 1,
    lastRun: { runNumber: runs + 1 },
  });
  expect(status.lastSuccessAt).not.toBeNull();
});

test('recorded controller and run histories replay deterministically against the current workflow code', async () => {
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: LONG_NAME }]);
  const first = await engine.run(sync);
  const second = await engine.run(sync, { kind: 'replay' });
  const controller = engine.client.workflow.getHandle(`sync/${sync}`);
  await controller.signal(pauseSignal, {});
  await controller.signal(resumeSignal, {});
  await controller.terminate('replay test');
  const histories = [];
  for (const workflowId of [
    `sync/${sync}`,
    `sync/${sync}/run/${first.runNumber}`,
    `sync/${sync}/run/${second.runNumber}`,
  ]) {
    histories.push({ workflowId, history: await engine.client.workflow.getHandle(workflowId).fetchHistory() });
  }
  const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
  const results = [];
  for await (const result of Worker.runReplayHistories(
    bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../workflows') },
    histories,
  )) {
    results.push(result);
  }
  expect(results.map((r) => ({ id: r.workflowId, error: r.error?.message }))).toEqual(
    histories.map((h) => ({ id: h.workflowId, error: undefined })),
  );
});

test('run requests that arrive during a run are coalesced into one next run, and a full resync wins', async () => {
  engine.sf.injectFaults({ latencyMs: 1500 });
  const controller = engine.client.workflow.getHandle(`sync/${sync}`);
  const first = engine.run(sync);
  const progress = await waitFor(
    'the first run to report its progress',
    async () => (await engine.status(sync).catch(() => undefined))?.currentRun?.progress,
  );
  expect(progress).toMatchObject({ runNumber: 1, phase: 'delivering', batchesTotal: 1, recordsTotal: TOTAL });
  await controller.signal(runNowSignal, {});
  await controller.signal(fullResyncSignal, {});
  await controller.signal(runNowSignal, {});
  await first;
  engine.sf.injectFaults({ latencyMs: 0 });
  await waitFor('the coalesced run', async () => {
    const s = await engine.status(sync);
    return s.completedThroughSeq === 4 && s;
  });

  const runs = await engine.store.listRuns(sync);
  expect(runs.map((r) => [r.run_number, r.kind, r.status])).toEqual([
    [2, 'full', 'succeeded'],
    [1, 'incremental', 'succeeded'],
  ]);
});

test('model rows with a null or duplicate primary key are failed records with the reason, and the other rows land', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 0,
    extraModelsYaml: `
  messy_accounts:
    source: warehouse
    primaryKey: account_id
    sql: >
      select account_id, name, health, segment, mrr from account_health
      union all select 'globex', 'Globex Twin', 1, 'at-risk', 1
      union all select null, 'Nobody Inc', 1, 'at-risk', 1`,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`).replace('model: account_health', 'model: messy_accounts'),
  });
  sync = `sf-${engine.suffix}`;
  const run = await engine.run(sync);

  expect(run).toMatchObject({ status: 'succeeded_with_failures', added: 5, invalid: 2, succeeded: 3, failed: 0 });
  expect(
    engine.sf
      .records('Account')
      .map((a) => a.External_Id__c)
      .sort(),
  ).toEqual(['acme', 'initech', 'umbrella']);
  const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
  expect(failures.map((f) => [f.key, f.errorCode])).toEqual(
    expect.arrayContaining([
      ['globex', 'DUPLICATE_PRIMARY_KEY'],
      [expect.stringContaining('null account_id'), 'NULL_PRIMARY_KEY'],
    ]),
  );
  expect(failures.find((f) => f.key === 'globex')?.errorMessage).toMatch(/2 rows with account_id = 'globex'/);
});

test('503s, throttling with Retry-After and dropped connections are retried by Temporal until every record lands once', async () => {
  await engine.run(sync, { kind: 'full' });
  engine.sf.injectFaults({ serverUnavailable: 2, throttled: 1, retryAfterSeconds: 1, dropConnection: 1 });
  const run = await engine.run(sync, { kind: 'full' });

  expect(run).toMatchObject({ status: 'succeeded', succeeded: TOTAL, failed: 0 });
  // Two 503s, one 429, one dropped connection, then the request that landed.
  expect(run.apiCalls).toBe(5);
  expect(engine.sf.records('Account')).toHaveLength(TOTAL);
  const attempts = await engine.store.db
    .selectFrom('batches')
    .select('attempts')
    .where('sync_id', '=', sync)
    .where('run_number', '=', run.runNumber)
    .execute();
  expect(Math.max(...attempts.map((b) => b.attempts))).toBeGreaterThan(1);
});

test('in cursor mode a run reads only rows past the cursor, and the cursor moves once every record is accepted', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`, '\n    changeDetection: cursor'),
  });
  sync = `sf-${engine.suffix}`;
  const first = await engine.run(sync);
  expect(first).toMatchObject({ added: TOTAL, succeeded: TOTAL });
  const cursor = await engine.store.getCursor(sync);
  expect(cursor).toBe('2025-01-01T00:00:00.000Z');

  const nothing = await engine.run(sync);
  expect(nothing).toMatchObject({ added: 0, changed: 0, unchanged: 0 });

  await updateDemoAccounts(engine.warehouse, DEMO_CHANGES);
  const changed = await engine.run(sync);
  expect(changed).toMatchObject({ changed: 2, unchanged: 0, succeeded: 2 });
  expect((await engine.store.getCursor(sync))! > cursor!).toBe(true);
  expect((await engine.status(sync)).cursor).toBe(await engine.store.getCursor(sync));
});

test('delivery pauses before the Salesforce daily API budget runs out, and says so', async () => {
  engine.sf.injectFaults({ dailyApiLimit: 100_000, apiUsed: 99_500 });
  const { requestRun } = await import('../cli/sync-control');
  await requestRun(engine.client, sync, engine.taskQueue, {});
  const message = await waitFor('the delivery to pause', async () => {
    const run = await engine.client.workflow
      .getHandle(`sync/${sync}/run/1`)
      .describe()
      .catch(() => undefined);
    return run?.raw.pendingActivities?.find((a) => a.lastFailure?.message)?.lastFailure?.message ?? undefined;
  });
  expect(message).toMatch(/daily API budget is nearly used up \(\d+ of 100000\)/);
  expect(engine.sf.records('Account')).toHaveLength(0);
  expect((await engine.status(sync)).currentRun).toMatchObject({ runNumber: 1 });
});

test('the CLI reads runs, status and a dry-run plan as JSON', async () => {
  await engine.run(sync);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 12 }]);
  const ebb = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(
      'node',
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, ...args, '--json'],
      {
        env: { ...process.env, ...engine.env },
      },
    );
    return JSON.parse(stdout) as unknown;
  };
  const before = engine.sf.stats().total;

  expect(await ebb('runs', sync)).toEqual([
    expect.objectContaining({ runNumber: 1, status: 'succeeded', succeeded: TOTAL }),
  ]);
  expect(await ebb('status', sync)).toEqual([
    expect.objectContaining({
      syncId: sync,
      controller: 'running',
      status: expect.objectContaining({ paused: false, lastRun: expect.objectContaining({ runNumber: 1 }) }),
    }),
  ]);
  expect(await ebb('plan', sync)).toMatchObject({
    added: 0,
    changed: 1,
    unchanged: TOTAL - 1,
    batches: 1,
    samples: [{ key: 'acme', operation: 'change' }],
    apiRequests: 1,
  });
  expect(engine.sf.stats().total).toBe(before);
});

test('terminating the controller mid-run cancels its run, and a new controller delivers everything once', async () => {
  engine.sf.injectFaults({ latencyMs: 1500 });
  const { requestRun } = await import('../cli/sync-control');
  await requestRun(engine.client, sync, engine.taskQueue, {});
  const current = await waitFor(
    'the run to start',
    async () => (await engine.status(sync).catch(() => undefined))?.currentRun,
  );
  await engine.client.workflow.getHandle(`sync/${sync}`).terminate('redeploying the controller');

  const run = engine.client.workflow.getHandle(current.workflowId);
  await waitFor('the orphaned run to be cancelled', async () => (await run.describe()).status.name === 'CANCELLED');
  await waitFor(
    'the cancelled run to be closed in the state store',
    async () => (await engine.store.getRun(sync, 1))?.status === 'failed',
  );
  expect(await engine.store.getRun(sync, 1)).toMatchObject({ error_message: 'cancelled' });

  engine.sf.injectFaults({ latencyMs: 0 });
  const next = await engine.run(sync);
  expect(next).toMatchObject({ runNumber: 2, status: 'succeeded' });
  const accounts = engine.sf.records('Account');
  expect(accounts).toHaveLength(TOTAL);
  expect(new Set(accounts.map((a) => a.External_Id__c)).size).toBe(TOTAL);
});

test('in mirror mode a row that leaves the model is deleted from Salesforce, once', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`, '\n    mode: mirror'),
  });
  sync = `sf-${engine.suffix}`;
  await engine.run(sync);
  await execDuckDb(engine.warehouse, "delete from account_health where account_id in ('umbrella', 'globex')");

  const run = await engine.run(sync);
  expect(run).toMatchObject({ removed: 2, succeeded: 2, failed: 0 });
  const ids = engine.sf.records('Account').map((a) => a.External_Id__c);
  expect(ids).toHaveLength(TOTAL - 2);
  expect(ids).not.toContain('umbrella');
  expect(await engine.run(sync)).toMatchObject({ removed: 0, succeeded: 0 });
});

test('a run of a sync mapping a column the model does not select fails before sending anything, naming the column', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`).replace('health: Health_Score__c', 'helth: Health_Score__c'),
  });
  sync = `sf-${engine.suffix}`;
  const run = await engine.run(sync);

  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/ConfigError: .*mapping\.helth: Column 'helth' is not selected by the model/s);
  expect(engine.sf.stats().upsertRequests).toBe(0);
});

test('an update-mode sync never creates Accounts: missing ones fail as NOT_FOUND and land once an upsert sync created them', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) =>
      sfSync(`upd-${suffix}`, '\n    mode: update') +
      sfSync(`ups-${suffix}`, "\n    filter: \"account_id in ('acme', 'globex')\""),
  });
  const update = `upd-${engine.suffix}`;
  const first = await engine.run(update);
  expect(first).toMatchObject({ succeeded: 0, failed: 4 });
  expect(engine.sf.records('Account')).toHaveLength(0);
  const [failure] = await engine.store.listRecordResults(update, {
    runNumber: first.runNumber,
    failedOnly: true,
    limit: 1,
  });
  expect(failure).toMatchObject({ errorCode: 'NOT_FOUND' });

  await engine.run(`ups-${engine.suffix}`);
  const second = await engine.run(update);
  expect(second).toMatchObject({ succeeded: 2, failed: 2 });
  expect(
    engine.sf
      .records('Account')
      .map((a) => a.External_Id__c)
      .sort(),
  ).toEqual(['acme', 'globex']);
});

test('a run with many batches continues as new mid-delivery and still delivers every record once', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 100,
    salesforceLimits: '{ batchSize: 1, maxConcurrency: 4, requestsPerSecond: 500 }',
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`),
  });
  sync = `sf-${engine.suffix}`;
  const run = await engine.run(sync);

  expect(run).toMatchObject({ status: 'succeeded', added: 104, succeeded: 104, failed: 0 });
  expect(engine.sf.records('Account')).toHaveLength(104);
  expect(engine.sf.stats().upsertRequests).toBe(104);
  const history = await engine.client.workflow.getHandle(`sync/${sync}/run/${run.runNumber}`).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  expect(started?.continuedExecutionRunId).toBeTruthy();
  expect(history.events?.length).toBeLessThan(400);
});

test('a warehouse error while reading rows fails the run, keeping its text (which quotes a value) out of workflow history', async () => {
  await engine.stop();
  engine = await startEngine({
    generated: 0,
    extraModelsYaml: `
  bad_casts:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, cast(name as integer) as name_number from account_health`,
    syncsYaml: ({ suffix }) => `
  sf-${suffix}:
    model: bad_casts
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name_number: Name }
`,
  });
  sync = `sf-${engine.suffix}`;
  const run = await engine.run(sync);

  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/ModelReadError: model 'bad_casts' failed after \d+ rows were read; .* see `ebb runs sf-/);
  const [stored] = await engine.store.listRuns(sync);
  expect(stored?.error_detail).toMatch(/Acme/);
  const text = await historiesText(engine.client, sync, [run.runNumber]);
  expect(text).toContain('ModelReadError');
  expect(text).not.toContain('Acme');
});

test('a replay when no run has failed records sends nothing', async () => {
  await engine.run(sync);
  const before = engine.sf.stats().total;
  const replay = await engine.run(sync, { kind: 'replay' });
  expect(replay).toMatchObject({ kind: 'replay', status: 'succeeded', added: 0, changed: 0, succeeded: 0, failed: 0 });
  expect(engine.sf.stats().total).toBe(before);
});
