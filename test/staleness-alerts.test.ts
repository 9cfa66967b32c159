/**
 * Staleness alerts: a sync scheduled every 2 s whose model cannot be read becomes overdue after 4 s
 * without a successful run; its alert channel (the Slack sandbox) gets one overdue alert however
 * many runs keep failing, and one recovered alert when a run succeeds again. Real Temporal, ebb's
 * workers, a DuckDB warehouse and the Salesforce and Slack sandboxes.
 */
import { requestRun } from '../cli/sync-control';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

let engine: EngineHarness;
afterEach(async () => {
  await engine?.stop();
});

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('an overdue sync alerts once while its runs keep failing, and once more when a run succeeds again', async () => {
  engine = await startEngine({
    generated: 0,
    // The model reads a table that does not exist yet: every run fails until it is created.
    extraModelsYaml: `  next_accounts:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name, health, segment, mrr from account_health_next
`,
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`stale-${suffix}`, {
        model: 'next_accounts',
        extra: "\n    schedule: { every: 2s }\n    alert: { destination: slack, channel: '#ebb-alerts' }",
      }),
  });
  const sync = `stale-${engine.suffix}`;
  const alerts = (word: string) => engine.slack.messages('#ebb-alerts').filter((m) => m.text.includes(word));

  const failed = await engine.run(sync);
  expect(failed.status).toBe('failed');
  const overdue = await waitFor('the overdue alert', () => alerts('is overdue')[0]);
  expect(overdue.text).toContain(`*${sync}*`);
  expect(overdue.text).toContain('every 2s');
  expect(overdue.text).toContain(`Last run ${failed.runNumber}: failed`);
  expect((await engine.status(sync)).overdue).toBe(true);

  // More failed runs and more time overdue: still the one alert.
  await engine.run(sync);
  await engine.run(sync);
  await new Promise((r) => setTimeout(r, 4500));
  expect(alerts('is overdue')).toHaveLength(1);
  expect(alerts('recovered')).toHaveLength(0);

  await execDuckDb(engine.warehouse, 'create table account_health_next as select * from account_health');
  const fixed = await engine.run(sync);
  expect(fixed.status).toBe('succeeded');
  const recovered = await waitFor('the recovered alert', () => alerts('recovered')[0]);
  expect(recovered.text).toContain(`*${sync}*`);
  expect(recovered.text).toContain(fixed.finishedAt);
  expect((await engine.status(sync)).overdue).toBe(false);

  // Healthy runs after the recovery say nothing more.
  await engine.run(sync);
  await new Promise((r) => setTimeout(r, 1000));
  expect(alerts('is overdue')).toHaveLength(1);
  expect(alerts('recovered')).toHaveLength(1);
});

test('a run stuck retrying a destination that is down still raises the overdue alert, and its success the recovered one', async () => {
  engine = await startEngine({
    generated: 5,
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`stuck-${suffix}`, {
        extra: "\n    schedule: { every: 2s }\n    alert: { destination: slack, channel: '#ebb-alerts' }",
      }),
  });
  const sync = `stuck-${engine.suffix}`;
  const alerts = (word: string) => engine.slack.messages('#ebb-alerts').filter((m) => m.text.includes(word));
  expect((await engine.run(sync)).status).toBe('succeeded');

  // Salesforce answers 503 to everything: the full resync's deliveries retry with backoff, and the run stays open.
  engine.sf.injectFaults({ serverUnavailable: 1_000_000 });
  await requestRun(engine.client, sync, engine.names, { kind: 'full' });
  const overdue = await waitFor('the overdue alert', () => alerts('is overdue')[0]);
  const stuck = await engine.status(sync);
  expect(stuck.currentRun).not.toBeNull();
  expect(overdue.text).toMatch(/still (planning|delivering)/);

  engine.sf.injectFaults({ serverUnavailable: 0 });
  await waitFor('the recovered alert', () => alerts('recovered')[0], 60_000);
  const recovered = await engine.status(sync);
  expect(recovered).toMatchObject({ overdue: false, lastRun: { kind: 'full', status: 'succeeded' } });
  expect(alerts('is overdue')).toHaveLength(1);
  expect(alerts('recovered')).toHaveLength(1);
}, 120_000);
