/**
 * `ebb verify`: reads delivered records back from the Salesforce sandbox and reports drift, through
 * the real CLI, against a real run of the engine.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { SEED_ACCOUNTS, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';

const REPO = path.resolve(__dirname, '..');
const GENERATED = 10;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let engine: EngineHarness;
let sync: string;

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => `
  sf-${suffix}:
    model: account_health
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }
  slack-${suffix}:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    filter: "account_id in ('acme', 'globex', 'initech')"
    template: '*{{ name }}* is at risk (health {{ health }})'
`,
  });
  sync = `sf-${engine.suffix}`;
});
afterEach(async () => {
  await engine.stop();
});

interface VerifyJson {
  verified: number;
  matching: number;
  drift: boolean;
  missing: Array<{ key: string; destinationId: string | null }>;
  changed: Array<{ key: string; fields: Array<{ field: string; sent: unknown; stored: unknown }> }>;
  pending: Array<{ key: string; reason: string }>;
}

/** Runs `ebb verify` as a user would; a non-zero exit is returned, not thrown. */
async function verify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return verifySync(sync, ...args);
}

async function verifySync(
  syncId: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      'node',
      ['bin/ebb.js', '--config', engine.configFile, 'verify', syncId, ...args],
      { cwd: REPO, env: { ...process.env, ...engine.env } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A CRM user's change, made through Salesforce's REST API with another session than ebb's. */
async function crmUser(method: 'PATCH' | 'DELETE', query: string, body?: unknown): Promise<void> {
  const response = await fetch(`${engine.sf.url}/services/data/v60.0/composite/sobjects${query}`, {
    method,
    headers: { Authorization: `Bearer ${engine.sf.accessToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const results = (await response.json()) as Array<{ success: boolean }>;
  if (!response.ok || !results.every((r) => r.success))
    throw new Error(`sandbox refused the edit: ${JSON.stringify(results)}`);
}

const account = (externalId: string) => {
  const found = engine.sf.records('Account').find((a) => a.External_Id__c === externalId);
  if (!found) throw new Error(`no Account ${externalId} in the sandbox`);
  return found;
};

test('after a clean run, verify finds every delivered record as sent and exits 0', async () => {
  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', succeeded: TOTAL });

  const human = await verify();
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(`verified ${TOTAL} records of ${sync}: 0 missing, 0 changed, 0 pending`);

  const json = await verify('--json');
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({
    verified: TOTAL,
    matching: TOTAL,
    drift: false,
    missing: [],
    changed: [],
  });
});

test('fields edited and a record deleted behind ebb’s back are reported with old and new values, exit 3', async () => {
  await engine.run(sync);
  await crmUser('PATCH', '', {
    allOrNone: true,
    records: [{ attributes: { type: 'Account' }, Id: account('acme').Id, Health_Score__c: 12, Segment__c: 'healthy' }],
  });
  await crmUser('DELETE', `?ids=${account('globex').Id}&allOrNone=true`);

  const json = await verify('--json');
  expect(json.code).toBe(3);
  const report = JSON.parse(json.stdout) as VerifyJson;
  expect(report).toMatchObject({ verified: TOTAL, matching: TOTAL - 2, drift: true, pending: [] });
  expect(report.missing).toEqual([{ key: 'globex', destinationId: expect.any(String) }]);
  expect(report.changed).toEqual([
    {
      key: 'acme',
      destinationId: account('acme').Id,
      fields: [
        { field: 'Health_Score__c', sent: 38, stored: 12 },
        { field: 'Segment__c', sent: 'at-risk', stored: 'healthy' },
      ],
    },
  ]);

  const human = await verify();
  expect(human.code).toBe(3);
  expect(human.stdout).toContain(
    `verified ${TOTAL} records of ${sync}: 1 missing, 1 changed (acme: Health_Score__c 38 → 12, Segment__c "at-risk" → "healthy"), 0 pending`,
  );
  expect(human.stdout).toMatch(/globex\s+missing/);
});

test('a row changed in the warehouse since the last run is pending, not drift', async () => {
  await engine.run(sync);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'initech', health: 45 }]);

  const json = await verify('--json');
  expect(json.code).toBe(0);
  const report = JSON.parse(json.stdout) as VerifyJson;
  expect(report).toMatchObject({ verified: TOTAL, matching: TOTAL - 1, drift: false, missing: [], changed: [] });
  expect(report.pending).toEqual([
    { key: 'initech', reason: 'changed in the warehouse since the last accepted delivery' },
  ]);
});

test('--sample checks that many delivered records', async () => {
  await engine.run(sync);

  const report = JSON.parse((await verify('--sample', '3', '--json')).stdout) as VerifyJson;
  expect(report).toMatchObject({ verified: 3, matching: 3 });
});

test('a Slack message edited or deleted by hand is reported as changed text or missing', async () => {
  const slackSync = `slack-${engine.suffix}`;
  expect(await engine.run(slackSync)).toMatchObject({ status: 'succeeded', succeeded: 3 });
  expect((await verifySync(slackSync, '--json')).code).toBe(0);

  const message = (name: string) => {
    const found = engine.slack.messages('#cs-alerts').find((m) => m.text.startsWith(`*${name}*`));
    if (!found) throw new Error(`no message for ${name}`);
    return found;
  };
  const slackUser = async (method: string, args: Record<string, unknown>) => {
    const response = await fetch(`${engine.slack.url}${method}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${engine.slack.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(args),
    });
    expect(await response.json()).toMatchObject({ ok: true });
  };
  const acme = message('Acme');
  await slackUser('chat.update', { channel: acme.channel, ts: acme.ts, text: 'resolved, ignore' });
  const globex = message('Globex');
  await slackUser('chat.delete', { channel: globex.channel, ts: globex.ts });

  const json = await verifySync(slackSync, '--json');
  expect(json.code).toBe(3);
  const report = JSON.parse(json.stdout) as VerifyJson;
  expect(report).toMatchObject({ verified: 3, matching: 1, missing: [{ key: 'globex' }] });
  expect(report.changed).toEqual([
    {
      key: 'acme',
      destinationId: `${acme.channel}:${acme.ts}`,
      fields: [{ field: 'text', sent: '*Acme* is at risk (health 38)', stored: 'resolved, ignore' }],
    },
  ]);
});
