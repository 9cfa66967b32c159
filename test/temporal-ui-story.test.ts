/**
 * What a person sees of ebb in the Temporal UI, read through the same APIs the UI calls: every
 * configured sync listed as soon as the worker starts, summaries and details on controllers and
 * runs, batches named in the timeline, failure reasons by error code, ebb's search attributes,
 * requests rejected with a reason, and one pause shared by the sync and its Schedule.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { reconcileSyncs } from '../workers/reconcile-syncs';
import {
  pauseUpdate,
  replayFailedSignal,
  replayFailedUpdate,
  resumeUpdate,
  scheduleId,
  statusQuery,
} from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const LONG_NAME = `Acme ${'Overly Long Company Name '.repeat(4)}`;

let engine: EngineHarness;
afterEach(async () => {
  for (const syncId of Object.keys(engine?.config.syncs ?? {}))
    await engine.client.schedule
      .getHandle(scheduleId(syncId))
      .delete()
      .catch(() => undefined);
  await engine?.stop();
});

interface Metadata {
  currentDetails: string;
  definition: { signalDefinitions?: Array<{ name: string }>; updateDefinitions?: Array<{ name: string }> };
}
const metadata = (workflowId: string) =>
  engine.client.workflow.getHandle(workflowId).query<Metadata>('__temporal_workflow_metadata');

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('every configured sync has its controller, with a summary, as soon as the worker starts; a removed sync is closed', async () => {
  engine = await startEngine({
    generated: 2,
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`sf-${suffix}`, { extra: '\n    schedule: { every: 1h }' }) +
      salesforceSyncYaml(`sf-plain-${suffix}`, { mode: 'update' }),
  });
  const [scheduled, plain] = [`sf-${engine.suffix}`, `sf-plain-${engine.suffix}`];

  const first = await reconcileSyncs(engine.client, engine.config, engine.names);
  expect(first.started.sort()).toEqual([`sync/${plain}`, `sync/${scheduled}`].sort());
  expect(first.searchAttributesWarning).toBeNull();
  // A second worker starting finds them running and starts nothing.
  expect((await reconcileSyncs(engine.client, engine.config, engine.names)).started).toEqual([]);

  const handle = engine.client.workflow.getHandle(`sync/${plain}`);
  const description = await handle.describe();
  expect(description.status.name).toBe('RUNNING');
  expect(await description.staticSummary()).toBe(
    `sync ${plain}: account_health -> salesforce Account (update by External_Id__c (from account_id))`,
  );
  expect(await description.staticDetails()).toContain('schedule: none (runs when asked)');
  const meta = await eventually(
    () => metadata(`sync/${plain}`),
    (m) => m.currentDetails.includes('idle'),
  );
  expect(meta.currentDetails).toContain(`**sync ${plain}**: idle`);
  // The run-to-controller progress signal is not offered to people beside their own signals.
  expect(meta.definition.signalDefinitions?.map((s) => s.name).sort()).toEqual(
    ['fullResync', 'pause', 'replayFailed', 'resume', 'runNow'].sort(),
  );
  expect(meta.definition.updateDefinitions?.map((s) => s.name)).toEqual(
    expect.arrayContaining(['runNow', 'fullResync', 'replayFailed', 'pause', 'resume', 'requestRun']),
  );

  const { [scheduled]: _removed, ...rest } = engine.config.syncs;
  const after = await reconcileSyncs(engine.client, { ...engine.config, syncs: rest }, engine.names);
  expect(after.closed).toEqual([`sync/${scheduled}`]);
  expect(after.removedSchedules).toEqual([scheduleId(scheduled)]);
  const closed = engine.client.workflow.getHandle(`sync/${scheduled}`);
  await closed.result();
  expect((await closed.describe()).status.name).toBe('COMPLETED');
});

test('a run with failed records shows its outcome, failure reasons and batches in the UI and its search attributes', async () => {
  engine = await startEngine({
    generated: 6,
    salesforceLimits: '{ batchSize: 4, maxConcurrency: 2, requestsPerSecond: 50 }',
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
  });
  const sync = `sf-${engine.suffix}`;
  await reconcileSyncs(engine.client, engine.config, engine.names);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: LONG_NAME }]);

  const run = await engine.run(sync);
  // ebb refuses the too-long Name before sending (invalid); the UI lists it among the failure reasons.
  expect(run).toMatchObject({ status: 'succeeded_with_failures', invalid: 1 });
  expect(run.failureReasons).toEqual([{ code: 'STRING_TOO_LONG', count: 1 }]);

  const runId = `sync/${sync}/run/${run.runNumber}`;
  const runHandle = engine.client.workflow.getHandle(runId);
  const runDescription = await runHandle.describe();
  expect(await runDescription.staticSummary()).toBe(
    `run ${run.runNumber} (incremental) of ${sync}: account_health -> salesforce Account (upsert by External_Id__c (from account_id))`,
  );
  expect((await metadata(runId)).currentDetails).toContain('`STRING_TOO_LONG`: 1 record');
  expect((await metadata(`sync/${sync}`)).currentDetails).toContain('`STRING_TOO_LONG`: 1 record');

  // The timeline names each batch: "batch 2/3: 2 records".
  const history = await runHandle.fetchHistory();
  const summaries = (history.events ?? [])
    .filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    .map((e) => (e.userMetadata?.summary?.data ? Buffer.from(e.userMetadata.summary.data).toString() : ''));
  expect(summaries).toEqual(
    expect.arrayContaining([expect.stringMatching(/^"batch 1\/3: 4 records"$/), expect.stringMatching(/batch 3\/3/)]),
  );

  // "Syncs whose last run had failures", as a person filters in the UI.
  const query = `EbbLastRunOutcome = 'succeeded_with_failures' AND EbbSyncId = '${sync}'`;
  const found = await eventually(
    async () => {
      const ids: string[] = [];
      for await (const w of engine.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids.sort();
    },
    (ids) => ids.length === 2,
  );
  expect(found).toEqual([`sync/${sync}`, runId].sort());
});

test('replay requests a person cannot mean are rejected with a reason: by the update, and in the details for the signal', async () => {
  engine = await startEngine({ generated: 2, syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`) });
  const sync = `sf-${engine.suffix}`;
  await reconcileSyncs(engine.client, engine.config, engine.names);
  await engine.run(sync);
  const handle = engine.client.workflow.getHandle(`sync/${sync}`);

  const rejection = async (args: unknown) =>
    handle.executeUpdate(replayFailedUpdate, { args: [args as { runNumber?: number }] }).then(
      () => 'accepted',
      (err: unknown) =>
        err instanceof WorkflowUpdateFailedError ? String((err.cause as Error | undefined)?.message) : String(err),
    );
  expect(await rejection(4)).toBe('replayFailed takes an object such as {"runNumber": 3} (or no input), not 4');
  expect(await rejection({ runNumber: 999 })).toBe('replayFailed: there is no run 999 (the last run is 1)');
  expect(await rejection({ run: 1 })).toBe('replayFailed does not know "run"; it takes "runNumber"');
  // Run 1 exists but left no failed records: the state store says so.
  expect(await rejection({ runNumber: 1 })).toBe(`replayFailed: run 1 of sync ${sync} has no failed records to replay`);

  await handle.signal(replayFailedSignal, 4 as unknown as { runNumber?: number });
  const details = await eventually(
    () => metadata(`sync/${sync}`),
    (m) => m.currentDetails.includes('rejected requests'),
  );
  expect(details.currentDetails).toMatch(/`replayFailed`: replayFailed takes an object such as \{"runNumber": 3\}/);
  const status = await handle.query(statusQuery);
  expect(status.rejected).toHaveLength(1);
  expect(status.pending).toBeNull();
  expect(status.lastRun?.runNumber).toBe(1);
});

test('pausing the sync pauses its Schedule, a Schedule paused in the UI pauses the sync, and resuming resumes both', async () => {
  engine = await startEngine({
    generated: 2,
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`, { extra: '\n    schedule: { every: 1h }' }),
  });
  const sync = `sf-${engine.suffix}`;
  await reconcileSyncs(engine.client, engine.config, engine.names);
  const handle = engine.client.workflow.getHandle(`sync/${sync}`);
  const schedule = engine.client.schedule.getHandle(scheduleId(sync));

  expect(await handle.executeUpdate(pauseUpdate, { args: [undefined] })).toEqual({ paused: true });
  const paused = await schedule.describe();
  expect(paused.state).toMatchObject({ paused: true });
  expect(paused.state.note).toContain(`ebb resume ${sync}`);
  expect(await handle.executeUpdate(resumeUpdate, { args: [undefined] })).toEqual({ paused: false });
  expect((await schedule.describe()).state.paused).toBe(false);

  // Paused on the Schedules page: the next run request finds the sync paused, and says by what.
  await schedule.pause('paused in the UI');
  await handle.signal('runNow');
  const status = await eventually(
    () => handle.query(statusQuery),
    (s) => s.paused,
  );
  expect(status).toMatchObject({ paused: true, pausedBy: 'schedule', currentRun: null });
  expect((await metadata(`sync/${sync}`)).currentDetails).toContain('its Schedule was paused in the Temporal UI');

  await handle.executeUpdate(resumeUpdate, { args: [undefined] });
  expect((await schedule.describe()).state.paused).toBe(false);
  const resumed = await eventually(
    () => handle.query(statusQuery),
    (s) => s.lastRun !== null,
  );
  expect(resumed).toMatchObject({ paused: false, lastRun: { runNumber: 1 } });
});
