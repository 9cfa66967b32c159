/**
 * Slack syncs end to end: real Temporal dev server, DuckDB, ebb's workers, and the Slack sandbox
 * reached through @slack/web-api.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { validateCommand } from '../cli/commands/validate';
import { execDuckDb, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';

const CS_ALERTS = 'C0CSALERTS';
const EBB_ALERTS = 'C0EBBALERT';

const slackSync = (id: string, extra = '') => `
  ${id}:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    template: '*{{ name }}* is at risk (health {{ health }}, MRR \${{ mrr | number }})'${extra}
`;

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

test('at-risk rows become one message each, a re-run calls Slack for nothing, and a changed row updates its message in place', async () => {
  engine = await startEngine({
    generated: 6,
    syncsYaml: ({ suffix }) => slackSync(`slack-${suffix}`, `\n    filter: "segment = 'at-risk'"`),
  });
  const sync = `slack-${engine.suffix}`;
  const [{ n }] = (await execDuckDb(
    engine.warehouse,
    "select count(*) as n from account_health where segment = 'at-risk'",
  )) as [{ n: string }];
  const atRisk = Number(n);

  const first = await engine.run(sync);
  expect(first).toMatchObject({ added: atRisk, succeeded: atRisk, failed: 0 });
  // Every call of the run: the check's auth.test and channel lookup too.
  expect(first.apiCalls).toBe(Object.values(engine.slack.stats().calls).reduce((a, b) => a + b, 0));
  const messages = engine.slack.messages(CS_ALERTS);
  expect(messages).toHaveLength(atRisk);
  const acme = messages.find((m) => m.text.startsWith('*Acme*'));
  expect(acme?.text).toBe('*Acme* is at risk (health 38, MRR $900)');

  const callsBefore = engine.slack.stats().calls;
  const rerun = await engine.run(sync);
  expect(rerun).toMatchObject({ added: 0, changed: 0, unchanged: atRisk });
  expect(engine.slack.stats().calls['chat.postMessage']).toBe(callsBefore['chat.postMessage']);
  expect(engine.slack.stats().calls['chat.update'] ?? 0).toBe(callsBefore['chat.update'] ?? 0);

  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 30 }]);
  const changed = await engine.run(sync);
  expect(changed).toMatchObject({ changed: 1, succeeded: 1 });
  const updated = engine.slack.messages(CS_ALERTS).find((m) => m.ts === acme?.ts);
  expect(updated).toMatchObject({ text: '*Acme* is at risk (health 30, MRR $900)', edits: 1 });
  expect(engine.slack.messages(CS_ALERTS)).toHaveLength(atRisk);
});

test('re-executing a batch whose posts were accepted but never recorded posts nothing twice', async () => {
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) => slackSync(`slack-${suffix}`, `\n    filter: "account_id in ('acme', 'globex')"`),
  });
  const sync = `slack-${engine.suffix}`;
  const run = await engine.run(sync);
  expect(engine.slack.messages(CS_ALERTS)).toHaveLength(2);

  // As if the worker died after Slack accepted the posts but before their ts were recorded.
  const activities = engine.activities();
  const plan = await new MockActivityEnvironment().run(activities.planRun, {
    syncId: sync,
    runNumber: run.runNumber + 1,
    kind: 'full' as const,
    replayOfRun: null,
  });
  expect((plan as { batches: number }).batches).toBe(1);
  await engine.store.db.updateTable('snapshots').set({ destination_id: null }).where('sync_id', '=', sync).execute();
  await engine.store.db
    .updateTable('staged_records')
    .set({ destination_id: null })
    .where('sync_id', '=', sync)
    .execute();
  const result = await new MockActivityEnvironment({ attempt: 2 }).run(activities.deliverBatch, {
    syncId: sync,
    runNumber: run.runNumber + 1,
    batchNumber: 1,
  });

  expect(result).toEqual({ succeeded: 2, failed: 0 });
  expect(engine.slack.messages(CS_ALERTS)).toHaveLength(2);
});

test('a channel limited to 1 message per second receives 30 messages, all delivered, in about the time the limit implies', async () => {
  engine = await startEngine({
    generated: 30,
    syncsYaml: ({ suffix }) => slackSync(`slack-${suffix}`, `\n    filter: "account_id like 'acct-%'"`),
  });
  const sync = `slack-${engine.suffix}`;
  const started = Date.now();
  const run = await engine.run(sync);
  const seconds = (Date.now() - started) / 1000;

  expect(run).toMatchObject({ status: 'succeeded', added: 30, succeeded: 30, failed: 0 });
  expect(engine.slack.messages(CS_ALERTS)).toHaveLength(30);
  // 30 posts at 1/s (after a burst of 3) need ~27 s; pacing and Temporal retries must not add more than half again.
  expect(seconds).toBeGreaterThanOrEqual(25);
  expect(seconds).toBeLessThanOrEqual(45);
});

test('a failing run sends exactly one alert with what failed and how to see the rest', async () => {
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) => `
  sf-${suffix}:
    model: account_health
    destination: salesforce
    object: Acount
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name }
    alert: { destination: slack, channel: '#ebb-alerts' }
`,
  });
  const sync = `sf-${engine.suffix}`;
  const run = await engine.run(sync);
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/Acount/);

  const alerts = engine.slack.messages(EBB_ALERTS);
  expect(alerts).toHaveLength(1);
  expect(alerts[0]?.text).toContain(`run ${run.runNumber} failed`);
  expect(alerts[0]?.text).toContain(`ebb records ${sync}`);

  // The alert activity retried (e.g. after a lost answer) finds its post instead of posting again.
  const activities = engine.activities();
  await new MockActivityEnvironment({ attempt: 2 }).run(activities.notifyRun, {
    syncId: sync,
    runNumber: run.runNumber,
  });
  expect(engine.slack.messages(EBB_ALERTS)).toHaveLength(1);
});

test('a template error is reported by `ebb validate` with the sync path, before any run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-template-'));
  const file = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(
    file,
    `sources:
  warehouse: { type: duckdb, path: ./w.duckdb }
destinations:
  slack: { type: slack, token: xoxb-test }
models:
  account_health: { source: warehouse, primaryKey: account_id, sql: select * from account_health }
syncs:
  at-risk-to-slack:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    template: '{{ name | shout }} is at risk'
  broken-syntax:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    template: '{{ name '
`,
  );
  const out: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  await expect(validateCommand({ file })).rejects.toMatchObject({ code: 1 });
  write.mockRestore();
  const text = out.join('');
  expect(text).toMatch(/syncs\.at-risk-to-slack\.template: .*shout/);
  expect(text).toMatch(/syncs\.broken-syntax\.template: /);
  expect(text).toContain('2 errors');
});
