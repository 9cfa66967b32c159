/**
 * One API budget per Salesforce connection (`apiBudget`): every sync and worker of the connection
 * spends one share together, counted in the state store; at the share they pause together, say why
 * in `ebb status` and one alert, and resume when the next window starts.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { NativeConnection } from '@temporalio/worker';
import { requestRun, runAttention, waitForRequest } from '../cli/sync-control';
import { budgetWindow, ConnectionApiBudget } from '../connectors/destinations/api-budget';
import { salesforceConnector } from '../connectors/destinations/salesforce-destination';
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { apiBudgetWindow, storeRequestCounter } from '../state/api-budget-windows';
import { openStateStore } from '../state/state-store';
import { startWorkers, type RunningWorkers } from '../workers/start-workers';
import { startEngine, type EngineHarness } from './harness/engine';
import { STATE_BACKENDS } from './harness/state-backends';
import { temporalAddress } from './harness/temporal';

const SHARE = 1000;
const WINDOW_SECONDS = 60;
const GENERATED = 600;
const PER_SYNC = GENERATED + SEED_ACCOUNTS.length;

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('apiBudget takes exactly one of maxPercent or requestsPerDay, and says so', () => {
  const parse = (apiBudget: unknown) =>
    salesforceConnector.connectionSchema.safeParse({
      type: 'salesforce',
      loginUrl: 'https://acme.my.salesforce.com',
      auth: { clientId: 'id', clientSecret: 'secret' },
      apiBudget,
    });
  expect(parse({ maxPercent: 20 }).success).toBe(true);
  expect(parse({ requestsPerDay: 1000, windowSeconds: 60 }).success).toBe(true);
  for (const wrong of [{}, { maxPercent: 20, requestsPerDay: 1000 }]) {
    expect(parse(wrong).error?.issues[0]?.message).toBe(
      'apiBudget needs exactly one of maxPercent (e.g. { maxPercent: 20 }) or requestsPerDay (e.g. { requestsPerDay: 1000 })',
    );
  }
  expect(parse({ maxPercent: 120 }).success).toBe(false);
});

describe.each(STATE_BACKENDS)('an API budget counted in the $name state store', (backend) => {
  test('requests taken by two workers at once never exceed the share, and the next window starts afresh', async () => {
    const opened = await backend.open();
    const second = await opened.reopen();
    try {
      const config = { requestsPerDay: 25, windowSeconds: 3600 };
      // Two workers' gates on one connection, each with its own store connection.
      const gates = [opened.store, second].map((s) => new ConnectionApiBudget('crm', config, storeRequestCounter(s)));
      const org = { orgLimit: () => null, learnOrgLimit: () => Promise.resolve(null) };
      const attempts = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => gates[i % 2]?.take(org)));
      expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(25);
      const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      expect(refused).toHaveLength(35);
      const window = budgetWindow(config, Date.now());
      expect(String(refused[0]?.reason)).toContain(
        `paused for API budget until ${window.end.toISOString()}: destination 'crm' has used its share of 25 API requests per 3600-second window`,
      );
      expect(await apiBudgetWindow(opened.store, 'crm', window.start.toISOString())).toMatchObject({ used: 25 });

      const nextWindow = storeRequestCounter(second);
      const taken = await nextWindow.take({
        connection: 'crm',
        windowStart: window.end.toISOString(),
        share: 25,
        requests: 1,
      });
      expect(taken).toBe(true);
    } finally {
      await second.close();
      await opened.store.close();
      await opened.drop();
    }
  });

  test("a maxPercent share follows the org's allowance, learned once a window and remembered for every worker", async () => {
    const opened = await backend.open();
    try {
      const counter = storeRequestCounter(opened.store);
      const config = { maxPercent: 20, windowSeconds: 3600 };
      let learned = 0;
      const learnOrgLimit = () => {
        learned++;
        return Promise.resolve(50);
      };
      const first = new ConnectionApiBudget('crm', config, counter);
      // Another worker that knows no limit yet finds the share the first one remembered.
      const other = new ConnectionApiBudget('crm', config, counter);
      await first.take({ orgLimit: () => null, learnOrgLimit });
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, () => other.take({ orgLimit: () => null, learnOrgLimit })),
      );
      expect(learned).toBe(1);
      // 20% of 50 is 10: the learning request and its own, then 8 more.
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(8);
    } finally {
      await opened.store.close();
      await opened.drop();
    }
  });
});

describe('two syncs sharing one Salesforce connection', () => {
  let engine: EngineHarness;
  let secondWorkers: RunningWorkers | null = null;
  let secondConnection: NativeConnection | null = null;

  afterEach(async () => {
    await secondWorkers?.shutdown();
    await secondConnection?.close();
    await engine?.stop();
  });

  test('with a 1,000-request share they stop at the share together, say why, alert once and resume in the next window', async () => {
    engine = await startEngine({
      generated: GENERATED,
      extraDestinationsYaml: `
  crm:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth:
      clientId: \${SF_CLIENT_ID}
      clientSecret: \${SF_CLIENT_SECRET}
    limits: { batchSize: 1, maxConcurrency: 10 }
    apiBudget: { requestsPerDay: ${SHARE}, windowSeconds: ${WINDOW_SECONDS} }
`,
      extraModelsYaml: `
  partner_health:
    source: warehouse
    primaryKey: account_id
    sql: select 'partner-' || account_id as account_id, name, health from account_health
`,
      syncsYaml: ({ suffix }) => `
  accounts-${suffix}:
    model: account_health
    destination: crm
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c }
    alert: { destination: slack, channel: '#ebb-alerts' }
  partners-${suffix}:
    model: partner_health
    destination: crm
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c }
    alert: { destination: slack, channel: '#ebb-alerts' }
`,
    });
    const syncs = [`accounts-${engine.suffix}`, `partners-${engine.suffix}`];
    // A second worker process's worth: its own store connection, session and describe.
    secondConnection = await NativeConnection.connect({ address: temporalAddress() });
    const secondStore = await openStateStore({ path: path.join(engine.dir, 'state.sqlite') });
    secondWorkers = await startWorkers({
      config: engine.config,
      baseDir: engine.dir,
      store: secondStore,
      connection: secondConnection,
      client: engine.client,
      taskQueue: engine.taskQueue,
      queues: { engine: false, destinations: ['crm'] },
    });

    // Start at the beginning of a window, so the share is spent within it.
    const window = budgetWindow({ windowSeconds: WINDOW_SECONDS }, Date.now() + WINDOW_SECONDS * 1000);
    await new Promise((r) => setTimeout(r, window.start.getTime() - Date.now() + 50));
    const requests = await Promise.all(syncs.map((sync) => requestRun(engine.client, sync, engine.names, {})));

    const reasons = await Promise.all(
      syncs.map((sync) =>
        waitFor(
          `${sync} to pause`,
          async () => (await runAttention(engine.client, engine.names.run(sync, 1))).waiting,
          WINDOW_SECONDS * 1000,
        ),
      ),
    );
    const pausedAt = Date.now();
    expect(pausedAt).toBeLessThan(window.end.getTime());
    for (const reason of reasons) {
      expect(reason).toContain(
        `paused for API budget until ${window.end.toISOString()}: destination 'crm' has used its share of ${SHARE} API requests`,
      );
    }
    // Both syncs and both workers together sent exactly the share (token requests do not count in Salesforce).
    const stats = engine.sf.stats();
    expect(stats.total - stats.tokenRequests).toBe(SHARE);
    expect(await apiBudgetWindow(engine.store, 'crm', window.start.toISOString())).toMatchObject({ used: SHARE });
    const landed = engine.sf.records('Account').length;
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThan(2 * PER_SYNC);

    // `ebb status` says why each sync waits and until when.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'status'],
      { env: { ...process.env, ...engine.env } },
    );
    for (const sync of syncs) {
      const line = stdout.split('\n').find((l) => l.startsWith(sync)) ?? '';
      expect(line).toContain(`paused for API budget until ${window.end.toISOString()}`);
    }

    // `ebb plan` plans against the share: spent, so a run pauses until the window ends.
    const plan = await promisify(execFile)(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'plan', syncs[0] as string],
      { env: { ...process.env, ...engine.env } },
    );
    expect(plan.stdout).toContain(
      `API budget of destination 'crm': ${SHARE} of ${SHARE} requests used in the window until ${window.end.toISOString()}; this run needs about`,
    );
    expect(plan.stdout).toContain('so its syncs pause at the share until the window ends and go on then');

    const alerts = () => engine.slack.messages('#ebb-alerts').map((m) => m.text ?? '');
    await waitFor('the alert', () => Promise.resolve(alerts().length > 0));
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]).toContain(`destination *crm* for API budget until ${window.end.toISOString()}`);
    expect(alerts()[0]).toContain(`*${syncs[0]}*, *${syncs[1]}*`);

    // The next window: both runs finish on their own, every record delivered, nothing sent twice.
    const done = await Promise.all(
      syncs.map((sync, i) =>
        waitForRequest(engine.client, sync, requests[i]?.requestSeq ?? 0, () => undefined, {}, engine.names),
      ),
    );
    for (const status of done) expect(status.lastRun).toMatchObject({ status: 'succeeded', succeeded: PER_SYNC });
    expect(Date.now()).toBeGreaterThanOrEqual(window.end.getTime());
    expect(engine.sf.records('Account')).toHaveLength(2 * PER_SYNC);
    expect(engine.sf.stats().recordsUpserted).toBe(2 * PER_SYNC);
    expect(alerts()).toHaveLength(1);
    await secondStore.close();
  }, 300_000);
});

describe('a sync on a connection with little of its share left', () => {
  let engine: EngineHarness;
  afterEach(async () => {
    await engine.stop();
  });

  test('goes through one Bulk API 2.0 job when collections would not fit what is left, and ebb plan says why', async () => {
    engine = await startEngine({
      generated: 40,
      extraDestinationsYaml: `
  crm:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth:
      clientId: \${SF_CLIENT_ID}
      clientSecret: \${SF_CLIENT_SECRET}
    limits: { batchSize: 1 }
    apiBudget: { requestsPerDay: 30, windowSeconds: 3600 }
    bulk: { pollSeconds: 0.2 }
`,
      syncsYaml: ({ suffix }) => `
  accounts-${suffix}:
    model: account_health
    destination: crm
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c }
`,
    });
    const sync = `accounts-${engine.suffix}`;
    const records = 40 + SEED_ACCOUNTS.length;
    // 44 records at one a request would take 44 requests of a 30-request share; a Bulk job takes a handful.
    const plan = await promisify(execFile)(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'plan', sync],
      { env: { ...process.env, ...engine.env } },
    );
    expect(plan.stdout).toContain(
      "through Bulk API 2.0, one job per 100,000 records, polled every 0.2 s (sObject Collections would need more requests than the connection's apiBudget has left)",
    );

    const run = await engine.run(sync);
    expect(run).toMatchObject({ status: 'succeeded', succeeded: records, failed: 0 });
    expect(engine.sf.bulkJobs()).toHaveLength(1);
    expect(engine.sf.stats().upsertRequests).toBe(0);
    expect(engine.sf.records('Account')).toHaveLength(records);
    const stats = engine.sf.stats();
    expect(stats.total - stats.tokenRequests).toBeLessThanOrEqual(30);
  });
});
