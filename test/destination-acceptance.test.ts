/**
 * What every destination must do, as one suite run over each of them: a re-run sends nothing, only
 * changed rows are sent, a re-executed delivery duplicates nothing, a record the destination (or
 * ebb, on its behalf) refuses is recorded as failed, and mirror mode removes rows that left the
 * model. Real Temporal dev server, the demo DuckDB warehouse, ebb's workers and each destination's
 * sandbox over HTTP.
 *
 * Adding a destination is one entry in DESTINATIONS: how to start its sandbox, its sync's YAML, how
 * to read what it holds, and how to make one record fail there.
 *
 * Slack takes part in its mirror mode (one message per row, edited in place, deleted when the row
 * leaves), which has these behaviours. Its `append` mode is left out on purpose: it posts a new
 * message for every change, so "a change is sent once, to the record of its row" does not apply.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { startHubSpotSandbox, type HubSpotSandbox } from '../sandbox/hubspot/hubspot-sandbox';
import { MetaAdAccount, startMetaSandbox, type MetaSandbox } from '../sandbox/meta/meta-sandbox';
import { demoAccounts, execDuckDb, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startWebhookSandbox, type WebhookSandbox } from '../sandbox/webhook/webhook-sandbox';
import type { DeliverInput, DeliverResult } from '../activities/deliver-batch';
import type { FinishInput } from '../activities/finish-run';
import type { RunSummary } from '../workflows/definitions';
import { startEngine, type EngineHarness, type EngineHarnessOptions } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 6;
const ACCOUNTS = demoAccounts(GENERATED);
const ALL_KEYS = ACCOUNTS.map((a) => a.account_id).sort();
const TOTAL = ALL_KEYS.length;
/** The rows a test changes, and the one it makes fail and removes. */
const RENAMED = [
  { account_id: 'acme', name: 'Acme Renamed' },
  { account_id: 'initech', name: 'Initech Renamed' },
];
const FAILING = 'globex';
const LEAVING = 'umbrella';

/** One destination's sandbox, started for one test, with what the suite needs to know of it. */
interface DestinationFixture {
  /** Variables the config's `${VAR}`s need (the sandbox's URL and credentials). */
  env: Record<string, string>;
  /** More `destinations:` entries (salesforce and slack are always there). */
  destinationsYaml?: string;
  /** More `models:` entries (account_health is always there). */
  modelsYaml?: string;
  /** The `syncs:` entry of a mirror sync to the destination. */
  syncYaml(id: string): string;
  /** The model keys of the records the destination holds now (a key held twice appears twice). */
  heldKeys(engine: EngineHarness): string[];
  /** Records created or updated so far, as the sandbox counts them (removals not included). */
  upsertsReceived(engine: EngineHarness): number;
  /** Makes the record of `key` fail at its next delivery: a value the destination refuses, or a sandbox fault. */
  makeFail(engine: EngineHarness, key: string): Promise<void>;
  /** Undoes makeFail, so the record can be delivered. */
  fix(engine: EngineHarness, key: string): Promise<void>;
  /** The error code the failed record is recorded with. */
  failureCode: string;
  /** Options of the engine harness the destination needs (e.g. the Slack sandbox's rate). */
  engineOptions?: Pick<EngineHarnessOptions, 'slack' | 'salesforce'>;
  /** Destination-specific checks after a delivery was re-executed (the webhook receiver's own count). */
  afterReexecution?(expectedChanges: number): void;
  close(): Promise<void>;
}

interface DestinationUnderTest {
  name: string;
  start(): Promise<DestinationFixture>;
}

const salesforce: DestinationUnderTest = {
  name: 'Salesforce',
  start: async () => ({
    env: {},
    syncYaml: (id) => salesforceSyncYaml(id, { mode: 'mirror' }),
    heldKeys: (engine) => engine.sf.records('Account').map((a) => String(a.External_Id__c)),
    upsertsReceived: (engine) => engine.sf.stats().recordsUpserted,
    // A row another transaction keeps locked: re-sent within the delivery, then recorded as failed.
    makeFail: async (engine, key) => engine.sf.injectFaults({ lockErrors: { keys: [key] } }),
    fix: async (engine) => engine.sf.injectFaults({ lockErrors: null }),
    failureCode: 'UNABLE_TO_LOCK_ROW',
    close: async () => undefined,
  }),
};

const metaAudience: DestinationUnderTest = {
  name: 'Meta audience',
  start: async () => {
    const meta: MetaSandbox = await startMetaSandbox();
    const byHash = new Map(ALL_KEYS.map((key) => [MetaAdAccount.normalisedHash('EXTERN_ID', key), key]));
    return {
      env: { META_ACCESS_TOKEN: meta.token, META_API_URL: meta.url },
      destinationsYaml: `
  meta:
    type: meta-audiences
    accessToken: \${META_ACCESS_TOKEN}
    apiUrl: \${META_API_URL}
    limits: { batchSize: 4 }`,
      modelsYaml: `
  account_people:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, account_id || '@example.com' as email, name from account_health`,
      syncYaml: (id) => `
  ${id}:
    model: account_people
    destination: meta
    audienceId: "${meta.audienceId}"
    mode: mirror
    identifiers: { email: EMAIL, name: FN, account_id: EXTERN_ID }
`,
      heldKeys: () => meta.members().map((m) => byHash.get(m.EXTERN_ID ?? '') ?? `unknown ${m.EXTERN_ID}`),
      upsertsReceived: () =>
        meta
          .sessions()
          .flatMap((s) => s.batches)
          .filter((b) => b.method === 'POST')
          .reduce((sum, b) => sum + b.numReceived, 0),
      // A first name with no letter cannot be normalised: ebb refuses the row before it leaves.
      makeFail: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: '1234' }]),
      fix: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: 'Fixed' }]),
      failureCode: 'INVALID_IDENTIFIER',
      close: () => meta.close(),
    };
  },
};

const webhook: DestinationUnderTest = {
  name: 'webhook',
  start: async () => {
    const hook: WebhookSandbox = await startWebhookSandbox();
    return {
      env: { WEBHOOK_URL: hook.url, WEBHOOK_SECRET: hook.secret },
      destinationsYaml: `
  hooks:
    type: webhook
    url: \${WEBHOOK_URL}
    secret: \${WEBHOOK_SECRET}
    limits: { batchSize: 4 }`,
      syncYaml: (id) => `
  ${id}:
    model: account_health
    destination: hooks
    mode: mirror
    mapping: { name: name, health: health, segment: segment, mrr: mrr }
`,
      heldKeys: () => Object.keys(hook.records()),
      upsertsReceived: () => hook.received().filter((r) => r.operation === 'upsert').length,
      makeFail: async (_engine, key) =>
        hook.injectFaults({ rejectKeys: { keys: [key], status: 422, message: 'name is not a known account' } }),
      fix: async (_engine, key) => hook.injectFaults({ acceptKeys: [key] }),
      failureCode: 'HTTP_422',
      afterReexecution: (expectedChanges) => {
        const stats = hook.stats();
        // Every request verified; the re-sent records arrived again and were recognised, not applied.
        expect(stats).toMatchObject({ signatureFailures: 0, verified: stats.requests });
        expect(stats.duplicates).toBe(RENAMED.length);
        const changes = hook.changes();
        expect(changes).toHaveLength(expectedChanges);
        const seen = changes.map((c) => `${c.key} ${c.operation} ${JSON.stringify(c.data)}`);
        expect(new Set(seen).size).toBe(seen.length);
      },
      close: () => hook.close(),
    };
  },
};

const SLACK_CHANNEL = 'C0CSALERTS';

const slack: DestinationUnderTest = {
  name: 'Slack (mirror)',
  start: async () => ({
    env: {},
    // Slack's own pace (1 post a second per channel) is tested in slack-sync.test.ts; here it only slows.
    engineOptions: { slack: { postRateLimit: { perSecond: 100, burst: 100 } } },
    destinationsYaml: `
  slack-fast:
    type: slack
    token: \${SLACK_BOT_TOKEN}
    apiUrl: \${SLACK_API_URL}
    limits: { postsPerChannelPerSecond: 100 }`,
    syncYaml: (id) => `
  ${id}:
    model: account_health
    destination: slack-fast
    mode: mirror
    channel: '#cs-alerts'
    template: '*{{ name }}*: health {{ health }}, MRR {{ mrr }}'
`,
    heldKeys: (engine) =>
      engine.slack.messages(SLACK_CHANNEL).map((m) => String(m.metadata?.event_payload.key ?? `no key: ${m.ts}`)),
    upsertsReceived: (engine) => {
      const calls = engine.slack.stats().calls;
      return (calls['chat.postMessage'] ?? 0) + (calls['chat.update'] ?? 0);
    },
    // Slack refuses text over 40,000 characters (msg_too_long) for that message only.
    makeFail: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: 'x'.repeat(40_001) }]),
    fix: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: 'Fixed' }]),
    failureCode: 'msg_too_long',
    close: async () => undefined,
  }),
};

const hubspot: DestinationUnderTest = {
  name: 'HubSpot',
  start: async () => {
    const portal: HubSpotSandbox = await startHubSpotSandbox();
    // A worker reads the token from the variable the destination names, not from ebb.yaml.
    process.env.EBB_ACCEPTANCE_HUBSPOT_TOKEN = portal.token;
    const contacts = () => portal.records('contacts');
    return {
      env: { HUBSPOT_BASE_PATH: portal.url },
      destinationsYaml: `
  hubspot:
    type: hubspot
    accessTokenEnv: EBB_ACCEPTANCE_HUBSPOT_TOKEN
    basePath: \${HUBSPOT_BASE_PATH}
    limits: { batchSize: 4 }`,
      modelsYaml: `
  account_contacts:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name, lower(replace(name, ' ', '')) || '@example.com' as email from account_health`,
      syncYaml: (id) => `
  ${id}:
    model: account_contacts
    destination: hubspot
    object: contacts
    mode: mirror
    idProperty: { from: account_id, to: external_contact_id }
    mapping: { name: firstname, email: email }
`,
      heldKeys: () => contacts().map((c) => c.properties.external_contact_id ?? `no id ${c.id}`),
      upsertsReceived: () => portal.stats().inputsUpserted,
      // A name with an '@' makes an email HubSpot refuses: its 207 answer fails that input alone.
      makeFail: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: 'Fails@Here' }]),
      fix: (engine, key) => updateDemoAccounts(engine.warehouse, [{ account_id: key, name: 'Fixed' }]),
      failureCode: 'VALIDATION_ERROR',
      close: async () => {
        delete process.env.EBB_ACCEPTANCE_HUBSPOT_TOKEN;
        await portal.close();
      },
    };
  },
};

const DESTINATIONS: DestinationUnderTest[] = [salesforce, metaAudience, webhook, slack, hubspot];

describe.each(DESTINATIONS.map((d) => [d.name, d] as const))('%s', (_name, destination) => {
  let fixture: DestinationFixture;
  let engine: EngineHarness;
  let sync: string;

  beforeEach(async () => {
    fixture = await destination.start();
    engine = await startEngine({
      ...fixture.engineOptions,
      generated: GENERATED,
      extraEnv: fixture.env,
      extraDestinationsYaml: fixture.destinationsYaml,
      extraModelsYaml: fixture.modelsYaml,
      syncsYaml: ({ suffix }) => fixture.syncYaml(`acceptance-${suffix}`),
      // Records failing with a transient code are re-sent twice, quickly, before they count as failed.
      recordRetries: { delaysMs: [20, 20], jitter: 0 },
    });
    sync = `acceptance-${engine.suffix}`;
  });
  afterEach(async () => {
    await engine.stop();
    await fixture.close();
  });

  const held = () => fixture.heldKeys(engine).sort();

  test('the first run delivers every row once, and a re-run with no change sends nothing', async () => {
    const first = await engine.run(sync);
    expect(first).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
    expect(held()).toEqual(ALL_KEYS);
    const sent = fixture.upsertsReceived(engine);
    expect(sent).toBe(TOTAL);

    const rerun = await engine.run(sync);
    expect(rerun).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: TOTAL, succeeded: 0 });
    expect(fixture.upsertsReceived(engine)).toBe(sent);
  });

  test('after two rows change, only those two are sent', async () => {
    await engine.run(sync);
    const sent = fixture.upsertsReceived(engine);

    await updateDemoAccounts(engine.warehouse, RENAMED);
    const changed = await engine.run(sync);
    expect(changed).toMatchObject({ changed: 2, succeeded: 2, unchanged: TOTAL - 2 });
    expect(fixture.upsertsReceived(engine) - sent).toBe(2);
    expect(held()).toEqual(ALL_KEYS);
  });

  test('a delivery re-executed after the destination took it, but before ebb recorded it, duplicates nothing', async () => {
    await engine.run(sync);
    await updateDemoAccounts(engine.warehouse, RENAMED);
    const activities = engine.activities();
    const { runNumber } = await activities.allocateRun({
      syncId: sync,
      kind: 'incremental',
      replayOfRun: null,
      requestId: `reexecution-${engine.suffix}`,
    });
    const plan = (await new MockActivityEnvironment().run(activities.planRun, {
      syncId: sync,
      runNumber,
      kind: 'incremental' as const,
      replayOfRun: null,
    })) as { batches: number };
    expect(plan.batches).toBeGreaterThanOrEqual(1);
    const batches = Array.from({ length: plan.batches }, (_, i) => i + 1);
    const snapshots = await engine.store.db.selectFrom('snapshots').selectAll().where('sync_id', '=', sync).execute();
    for (const batchNumber of batches) {
      await new MockActivityEnvironment().run(activities.deliverBatch, { syncId: sync, runNumber, batchNumber });
    }

    // The worker died after the destination took every batch, before the outcomes were committed:
    // the state store is as it was before delivery, and Temporal runs each delivery again.
    await engine.store.db
      .deleteFrom('record_results')
      .where('sync_id', '=', sync)
      .where('run_number', '=', runNumber)
      .execute();
    await engine.store.db
      .updateTable('batches')
      .set({ delivered_at: null, succeeded: 0, failed: 0 })
      .where('sync_id', '=', sync)
      .where('run_number', '=', runNumber)
      .execute();
    await engine.store.db.deleteFrom('snapshots').where('sync_id', '=', sync).execute();
    await engine.store.db.insertInto('snapshots').values(snapshots).execute();
    let succeeded = 0;
    for (const batchNumber of batches) {
      const result = await new MockActivityEnvironment({ attempt: 2 }).run<
        [DeliverInput],
        DeliverResult,
        typeof activities.deliverBatch
      >(activities.deliverBatch, { syncId: sync, runNumber, batchNumber });
      succeeded += result.succeeded;
    }
    const finish: FinishInput = { syncId: sync, runNumber, status: 'succeeded', error: null };
    await new MockActivityEnvironment().run<[FinishInput], RunSummary, typeof activities.finishRun>(
      activities.finishRun,
      finish,
    );

    expect(succeeded).toBe(RENAMED.length);
    expect(held()).toEqual(ALL_KEYS);
    fixture.afterReexecution?.(TOTAL + RENAMED.length);
    // Everything was recorded in the end: the next run finds nothing to send.
    const sent = fixture.upsertsReceived(engine);
    expect(await engine.run(sync)).toMatchObject({ changed: 0, added: 0, unchanged: TOTAL });
    expect(fixture.upsertsReceived(engine)).toBe(sent);
  });

  test('a record the destination refuses is recorded as failed with its code, the others land, and the next run after a fix delivers it', async () => {
    await fixture.makeFail(engine, FAILING);
    const run = await engine.run(sync);
    expect(run).toMatchObject({ status: 'succeeded_with_failures', succeeded: TOTAL - 1 });
    expect(run.failed + (run.invalid ?? 0)).toBe(1);
    const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failures).toEqual([expect.objectContaining({ key: FAILING, errorCode: fixture.failureCode })]);
    expect(held()).toEqual(ALL_KEYS.filter((k) => k !== FAILING));

    await fixture.fix(engine, FAILING);
    const fixed = await engine.run(sync);
    expect(fixed).toMatchObject({ succeeded: 1, failed: 0 });
    expect(held()).toEqual(ALL_KEYS);
  });

  test('mirror mode removes the record of a row that left the model', async () => {
    await engine.run(sync);
    await execDuckDb(engine.warehouse, `delete from account_health where account_id = '${LEAVING}'`);

    const run = await engine.run(sync);
    expect(run).toMatchObject({ removed: 1, succeeded: 1, failed: 0, unchanged: TOTAL - 1 });
    expect(held()).toEqual(ALL_KEYS.filter((k) => k !== LEAVING));
  });
});
