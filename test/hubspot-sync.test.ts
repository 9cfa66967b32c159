/**
 * HubSpot syncs end to end: real Temporal dev server, DuckDB, ebb's workers, and the HubSpot CRM v3
 * sandbox reached through the real @hubspot/api-client. The sandbox answers batch upserts out of
 * input order, so every destination id checked here proves results were matched by record.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../config/load-config';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import {
  startHubSpotSandbox,
  type HubSpotSandbox,
  type HubSpotSandboxOptions,
} from '../sandbox/hubspot/hubspot-sandbox';
import { checkDestinationsOnline } from '../cli/online-checks';
import { requestRun } from '../cli/sync-control';
import { nextDailyReset } from '../connectors/destinations/hubspot-destination';
import { historiesText, startEngine, type EngineHarness } from './harness/engine';

const TOKEN_ENV = 'EBB_TEST_HUBSPOT_TOKEN';

let hubspot: HubSpotSandbox | undefined;
let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  await hubspot?.close();
  engine = undefined;
  hubspot = undefined;
  delete process.env[TOKEN_ENV];
});

/** A companies sync of the demo accounts (`{suffix}` made unique), and contacts for the 207 test. */
async function start(options: {
  sync: string;
  generated?: number;
  sandbox?: HubSpotSandboxOptions;
  token?: string;
  /** How the destination names its token (default: accessTokenEnv). */
  tokenYaml?: string;
}): Promise<{ engine: EngineHarness; hubspot: HubSpotSandbox; sync: string }> {
  hubspot = await startHubSpotSandbox(options.sandbox);
  // The worker reads the token from the variable the config names, as a deployment's worker would.
  process.env[TOKEN_ENV] = options.token ?? hubspot.token;
  engine = await startEngine({
    generated: options.generated ?? 0,
    extraEnv: { HUBSPOT_BASE_PATH: hubspot.url },
    extraDestinationsYaml: `
  hubspot:
    type: hubspot
    ${options.tokenYaml ?? `accessTokenEnv: ${TOKEN_ENV}`}
    basePath: \${HUBSPOT_BASE_PATH}`,
    extraModelsYaml: `
  people:
    source: warehouse
    primaryKey: person_id
    sql: select person_id, email, first_name, stage from people`,
    syncsYaml: ({ suffix }) => options.sync.replace('{suffix}', suffix),
  });
  const id = /^\s*([a-z0-9-]+):/m.exec(options.sync.replace('{suffix}', engine.suffix))?.[1] as string;
  return { engine, hubspot, sync: id };
}

const companiesSync = (mode: string, mapping = '{ name: name, health: health_score, mrr: mrr }') => `
  companies-{suffix}:
    model: account_health
    destination: hubspot
    object: companies
    mode: ${mode}
    idProperty: { from: account_id, to: external_account_id }
    mapping: ${mapping}
`;

test('a companies sync upserts every row by idProperty, 100 inputs a request, keeps each HubSpot id, and a re-run sends nothing', async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert'), generated: 146 });

  const first = await engine.run(sync);
  expect(first).toMatchObject({ status: 'succeeded', added: 150, succeeded: 150, failed: 0 });
  const companies = hubspot.records('companies');
  expect(companies).toHaveLength(150);
  expect(hubspot.stats().calls['POST upsert']).toBe(2);
  expect(companies.find((c) => c.properties.external_account_id === 'acme')?.properties).toMatchObject({
    name: 'Acme',
    health_score: '38',
    mrr: '900',
  });
  // The sandbox answered every batch in reverse: each stored id must still be its own record's.
  const idOf = new Map(companies.map((c) => [c.properties.external_account_id, c.id]));
  const results = await engine.store.listRecordResults(sync, { limit: 500 });
  expect(results).toHaveLength(150);
  for (const result of results) expect(result.destinationId).toBe(idOf.get(result.key));

  const calls = hubspot.stats().calls['POST upsert'];
  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', unchanged: 150, added: 0, changed: 0 });
  expect(hubspot.stats().calls['POST upsert']).toBe(calls);

  // A changed row sends its key and the changed property only; a CRM-side edit of another survives.
  await execDuckDb(engine.warehouse, "update account_health set health = 12 where account_id = 'globex'");
  expect(await engine.run(sync)).toMatchObject({ changed: 1, succeeded: 1 });
  const globex = hubspot.records('companies').find((c) => c.properties.external_account_id === 'globex');
  expect(globex).toMatchObject({ id: idOf.get('globex'), properties: { health_score: '12', name: 'Globex' } });
});

test('a mirror sync archives by the stored HubSpot id the records whose rows left the model', async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('mirror') });
  expect(await engine.run(sync)).toMatchObject({ added: 4, succeeded: 4 });
  const umbrella = hubspot.records('companies').find((c) => c.properties.external_account_id === 'umbrella');

  await execDuckDb(engine.warehouse, "delete from account_health where account_id = 'umbrella'");
  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', removed: 1, succeeded: 1 });
  expect(hubspot.stats().calls['POST archive']).toBe(1);
  expect(
    hubspot
      .records('companies')
      .map((c) => c.properties.external_account_id)
      .sort(),
  ).toEqual(['acme', 'globex', 'initech']);
  expect(hubspot.records('companies').map((c) => c.id)).not.toContain(umbrella?.id);
});

test("a 207 answer fails only the record HubSpot refused, with HubSpot's category and message, and the rest land", async () => {
  const { engine, hubspot, sync } = await start({
    sync: `
  people-{suffix}:
    model: people
    destination: hubspot
    object: contacts
    idProperty: { from: person_id, to: external_contact_id }
    mapping: { email: email, first_name: firstname, stage: lifecyclestage }
`,
  });
  await execDuckDb(
    engine.warehouse,
    `create table people (person_id varchar, email varchar, first_name varchar, stage varchar);
     insert into people values ('p1', 'grace@example.com', 'Grace', 'lead'), ('p2', 'edsger(at)example.nl', 'Edsger', 'customer'),
       ('p3', 'ada@example.org', 'Ada', 'Customer'), ('p4', 'alan@example.net', 'Alan', 'subscriber');`,
  );

  const run = await engine.run(sync);
  expect(run).toMatchObject({ status: 'succeeded_with_failures', added: 4, succeeded: 3, failed: 1 });
  expect(hubspot.stats().calls['POST upsert']).toBe(1);
  const [failed] = await engine.store.listRecordResults(sync, { failedOnly: true });
  expect(failed).toMatchObject({ key: 'p2', errorCode: 'VALIDATION_ERROR', destinationId: null });
  expect(failed?.errorMessage).toBe(
    'email: Email address edsger(at)example.nl is invalid (INVALID_PROPERTY_VALUE) (fields: email)',
  );
  const contacts = hubspot.records('contacts');
  expect(contacts.map((c) => c.properties.external_contact_id).sort()).toEqual(['p1', 'p3', 'p4']);
  // 'Customer' is the option's label: sent as its value.
  expect(contacts.find((c) => c.properties.external_contact_id === 'p3')?.properties.lifecyclestage).toBe('customer');
  const idOf = new Map(contacts.map((c) => [c.properties.external_contact_id, c.id]));
  for (const r of await engine.store.listRecordResults(sync, { failedOnly: false }))
    if (r.status === 'succeeded') expect(r.destinationId).toBe(idOf.get(r.key));

  // The refused record is tried again by the next run; the others are not sent again.
  await execDuckDb(engine.warehouse, "update people set email = 'edsger@example.nl' where person_id = 'p2'");
  // It was never accepted, so it counts as added again.
  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', added: 1, succeeded: 1, unchanged: 3 });
  expect(hubspot.records('contacts')).toHaveLength(4);
});

test('a 502 and a reply lost after HubSpot wrote the batch are retried by Temporal, and no record is created twice', async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert') });
  expect(await engine.run(sync)).toMatchObject({ succeeded: 4 });
  await execDuckDb(engine.warehouse, 'update account_health set mrr = mrr + 1');
  hubspot.injectFaults({ fail5xx: 1, dropAfterWrite: 1 });

  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', changed: 4, succeeded: 4, failed: 0 });
  // First run 4, then the lost reply's 4 and the retry's 4: written again, not created again.
  expect(hubspot.stats()).toMatchObject({ faults: 2, inputsUpserted: 12, calls: { 'POST upsert': 4 } });
  expect(hubspot.records('companies')).toHaveLength(4);
  expect(hubspot.records('companies').find((c) => c.properties.external_account_id === 'acme')?.properties.mrr).toBe(
    '901',
  );
});

test("a 429 of HubSpot's ten-second policy is waited out for the interval its headers give, and every record lands once", async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert'), sandbox: { intervalMs: 2000 } });
  expect(await engine.run(sync)).toMatchObject({ succeeded: 4 });
  await execDuckDb(engine.warehouse, 'update account_health set health = health + 1');
  // The worker checked the properties in the first run, so the next request is the upsert.
  hubspot.injectFaults({ rateLimit: { policy: 'TEN_SECONDLY_ROLLING', times: 1 } });

  const run = await engine.run(sync);
  expect(run).toMatchObject({ status: 'succeeded', changed: 4, succeeded: 4 });
  expect(hubspot.stats()).toMatchObject({ rateLimited: 1, inputsUpserted: 8, calls: { 'POST upsert': 3 } });
  expect(hubspot.records('companies')).toHaveLength(4);
  expect(
    hubspot.records('companies').find((c) => c.properties.external_account_id === 'acme')?.properties,
  ).toMatchObject({ health_score: '39' });
  // Temporal waited the 2 s interval from X-HubSpot-RateLimit-Interval-Milliseconds before the retry.
  expect(Date.parse(run.finishedAt) - Date.parse(run.startedAt)).toBeGreaterThanOrEqual(2000);
  const histories = await historiesText(engine.client, sync, [2], engine.names);
  expect(histories).toContain("HubSpot's ten-second rate limit (100 requests per 2 s) was reached");
});

test("a 429 of HubSpot's daily policy pauses delivery until the limit resets at midnight, and says so", async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert') });
  expect(await engine.run(sync)).toMatchObject({ succeeded: 4 });
  await execDuckDb(engine.warehouse, 'update account_health set health = health + 1');
  hubspot.injectFaults({ rateLimit: { policy: 'DAILY', times: 1 } });

  await requestRun(engine.client, sync, engine.names, {});
  const message = await waitFor(async () => {
    const run = await engine.client.workflow
      .getHandle(engine.names.run(sync, 2))
      .describe()
      .catch(() => undefined);
    return run?.raw.pendingActivities?.find((a) => a.lastFailure?.message)?.lastFailure?.message ?? undefined;
  });
  const midnight = nextDailyReset(new Date(), 'UTC').toISOString();
  expect(message).toContain(
    `HubSpot's daily request limit (250000 requests) is used up for the private app of destinations.hubspot: sync ${sync} pauses delivery until ${midnight} (midnight UTC, when HubSpot resets it) and resumes then by itself.`,
  );
  expect(hubspot.stats()).toMatchObject({ rateLimited: 1, calls: { 'POST upsert': 2 } });
});

/** Polls `probe` until it returns a value (30 s at most). */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('timed out waiting');
}

test('ebb verify reads the records back by idProperty and reports a CRM-side edit and an archived record', async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert') });
  expect(await engine.run(sync)).toMatchObject({ succeeded: 4 });
  // A HubSpot user edits one company and deletes another, through the API with the same portal.
  const crm = (route: string, body: unknown) =>
    fetch(`${hubspot.url}/crm/v3/objects/companies/batch/${route}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${hubspot.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  await crm('upsert', {
    inputs: [{ idProperty: 'external_account_id', id: 'acme', properties: { health_score: '99' } }],
  });
  const globex = hubspot.records('companies').find((c) => c.properties.external_account_id === 'globex');
  await crm('archive', { inputs: [{ id: globex?.id }] });

  const verified = await promisify(execFile)(
    'node',
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'verify', sync, '--json'],
    { env: { ...process.env, ...engine.env } },
  ).catch((error: { stdout: string }) => error);
  const report = JSON.parse(verified.stdout) as {
    matching: number;
    missing: Array<{ key: string }>;
    changed: Array<{ key: string; fields: Array<{ field: string; sent: unknown; stored: unknown }> }>;
  };
  expect(report.matching).toBe(2);
  expect(report.missing.map((m) => m.key)).toEqual(['globex']);
  expect(report.changed).toEqual([
    expect.objectContaining({ key: 'acme', fields: [{ field: 'health_score', sent: '38', stored: '99' }] }),
  ]);
});

test('property mistakes are caught before any record is sent, each naming sync, column and property, also by validate --online', async () => {
  const { engine, hubspot, sync } = await start({
    sync: `
  companies-{suffix}:
    model: account_health
    destination: hubspot
    object: companies
    idProperty: { from: account_id, to: name }
    mapping: { health: helth_score, mrr: num_associated_contacts }
`,
  });

  const run = await engine.run(sync);
  expect(run.status).toBe('failed');
  expect(run.error).toContain(
    `idProperty.to: sync ${sync}, column account_id: property 'name' of companies is not a unique-value property (hasUniqueValue is false), so HubSpot cannot upsert by it. Unique-value properties of companies: external_account_id`,
  );
  expect(run.error).toContain(
    `mapping.health: sync ${sync}, column health: companies has no property 'helth_score'; did you mean 'health_score'?`,
  );
  expect(run.error).toContain(
    `mapping.mrr: sync ${sync}, column mrr: property 'num_associated_contacts' of companies is read-only; its value cannot be set`,
  );
  // Not retried, and nothing but the property definitions was asked for.
  expect(hubspot.stats().calls).toEqual({ 'GET properties': 1 });

  const online = await checkDestinationsOnline(engine.config, engine.dir);
  expect(online.problems.map((p) => p.path)).toEqual([
    `syncs.${sync}.idProperty.to`,
    `syncs.${sync}.mapping.health`,
    `syncs.${sync}.mapping.mrr`,
  ]);
});

test("a value outside an enumeration property's options fails its record before sending, naming sync, column, property and the options", async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert', '{ name: name, segment: segment }') });

  const run = await engine.run(sync);
  // acme is at-risk, an option of segment; globex, initech and umbrella are healthy or neutral.
  expect(run).toMatchObject({ status: 'succeeded_with_failures', succeeded: 1, invalid: 3 });
  expect(hubspot.stats().inputsUpserted).toBe(1);
  const failed = await engine.store.listRecordResults(sync, { failedOnly: true });
  expect(failed.find((r) => r.key === 'globex')).toMatchObject({
    errorCode: 'INVALID_OPTION',
    errorMessage: `sync ${sync}, column segment -> property segment of companies: holds 'healthy', which is not among the property's options (enterprise, mid-market, smb, at-risk); the record was not sent`,
  });
});

test('a refused token fails the run at its check, naming the variable that holds it and what to do, without retries', async () => {
  const { engine, hubspot, sync } = await start({ sync: companiesSync('upsert'), token: 'pat-na1-revoked' });

  const run = await engine.run(sync);
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(
    new RegExp(
      `HubSpot refused the access token from environment variable ${TOKEN_ENV} \\(destinations\\.hubspot\\.accessTokenEnv\\): it is expired, revoked or not a private app token\\. Create or rotate the private app's token`,
    ),
  );
  expect(run.error).not.toContain('pat-na1-revoked');
  expect(hubspot.stats().calls).toEqual({ 'GET properties': 1 });
});

test('the token may come from a file named by accessTokenFile, and a token written in ebb.yaml is refused without being echoed', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-hubspot-')), 'hubspot-token');
  const { engine, hubspot, sync } = await start({
    sync: companiesSync('upsert'),
    token: 'not this one',
    tokenYaml: `accessTokenFile: ${file}`,
  });
  fs.writeFileSync(file, `${hubspot.token}\n`);
  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded', succeeded: 4 });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });

  const written = fs
    .readFileSync(engine.configFile, 'utf8')
    .replace(`accessTokenFile: ${file}`, 'accessToken: pat-na1-0123-secret');
  const { problems } = parseConfig(written, { env: { ...process.env, ...engine.env } });
  expect(problems).toEqual([
    expect.objectContaining({
      path: 'destinations.hubspot.accessToken',
      message:
        'the access token does not go in ebb.yaml: name the environment variable holding it with accessTokenEnv (default HUBSPOT_ACCESS_TOKEN), or a file with accessTokenFile',
    }),
  ]);
  expect(JSON.stringify(problems)).not.toContain('pat-na1-0123-secret');
});

test("HubSpot's daily limit resets at the next midnight of the account's time zone", () => {
  const now = new Date('2026-03-08T03:30:00Z');
  expect(nextDailyReset(now, 'UTC').toISOString()).toBe('2026-03-09T00:00:00.000Z');
  // 22:30 on 7 March in New York; clocks go forward that night, so midnight is still at -05:00.
  expect(nextDailyReset(now, 'America/New_York').toISOString()).toBe('2026-03-08T05:00:00.000Z');
  expect(nextDailyReset(new Date('2026-07-01T12:00:00Z'), 'Europe/Berlin').toISOString()).toBe(
    '2026-07-01T22:00:00.000Z',
  );
});
