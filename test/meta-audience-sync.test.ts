/**
 * Meta Custom Audiences syncs end to end: real Temporal dev server, DuckDB, ebb's workers, and the
 * Meta sandbox reached over HTTP. The sandbox knows the raw identifiers of the people in the model,
 * so it can tell whether each arrived hashed and normalised; the state store, the captured worker
 * logs and the Slack alerts are then searched for those raw identifiers.
 */
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { MetaAdAccount, startMetaSandbox, type MetaSandbox } from '../sandbox/meta/meta-sandbox';
import { historiesText, startEngine, type EngineHarness } from './harness/engine';

interface Person {
  id: number;
  email: string;
  phone: string;
  first: string;
  last: string;
  country: string;
}

/** Written the way warehouses hold them: mixed case, padded, punctuated. The last one's email is unusable. */
const PEOPLE: Person[] = [
  {
    id: 1,
    email: ' Grace.Hopper@Example.COM ',
    phone: '+1 (650) 555-0101',
    first: 'Grace',
    last: 'Hopper',
    country: 'US',
  },
  {
    id: 2,
    email: 'linus.torvalds@example.org',
    phone: '+358 40 555 0102',
    first: 'Linus',
    last: 'Torvalds',
    country: 'FI',
  },
  {
    id: 3,
    email: 'Margaret.Hamilton@Example.com',
    phone: '+1 617 555 0103',
    first: 'Margaret',
    last: 'Hamilton',
    country: 'US',
  },
  {
    id: 4,
    email: 'KATHERINE.JOHNSON@EXAMPLE.NET ',
    phone: '1-757-555-0104',
    first: 'Katherine',
    last: 'Johnson',
    country: 'us',
  },
  {
    id: 5,
    email: 'timothy.berners-lee@example.co.uk',
    phone: '+44 20 7946 0105',
    first: 'Timothy',
    last: 'Berners-Lee',
    country: 'GB',
  },
  {
    id: 6,
    email: 'Radia.Perlman@example.com',
    phone: '+1 (425) 555-0106',
    first: 'Radia',
    last: 'Perlman',
    country: 'US',
  },
  { id: 7, email: 'edsger(at)example.nl', phone: '+31 20 555 0107', first: 'Edsger', last: 'Dijkstra', country: 'NL' },
];
const NEW_EMAIL = 'Margaret@Apollo.Example';
const valid = PEOPLE.filter((p) => p.id !== 7);
const seeds = [...PEOPLE, { ...(PEOPLE[2] as Person), email: NEW_EMAIL }].map((p) => ({
  EMAIL: p.email,
  PHONE: p.phone,
  FN: p.first,
  LN: p.last,
}));

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

async function createCustomers(warehouse: string): Promise<void> {
  const rows = PEOPLE.map(
    (p) => `(${p.id}, ${quote(p.email)}, ${quote(p.phone)}, ${quote(p.first)}, ${quote(p.last)}, ${quote(p.country)})`,
  );
  await execDuckDb(
    warehouse,
    `create table customers (customer_id integer, email varchar, phone varchar, first_name varchar, last_name varchar, country varchar);
     insert into customers values ${rows.join(', ')};`,
  );
}

let meta: MetaSandbox | undefined;
let engine: EngineHarness | undefined;
afterEach(async () => {
  jest.restoreAllMocks();
  await engine?.stop();
  await meta?.close();
  engine = undefined;
  meta = undefined;
});

async function start(
  options: { keyedByEmail?: boolean } = {},
): Promise<{ engine: EngineHarness; meta: MetaSandbox; sync: string }> {
  meta = await startMetaSandbox({ people: seeds });
  const audience = meta.audienceId;
  engine = await startEngine({
    generated: 0,
    extraEnv: { META_ACCESS_TOKEN: meta.token, META_API_URL: meta.url },
    extraDestinationsYaml: `
  meta:
    type: meta-audiences
    accessToken: \${META_ACCESS_TOKEN}
    apiUrl: \${META_API_URL}
    limits: { batchSize: 2 }`,
    extraModelsYaml: `
  customers:
    source: warehouse
    primaryKey: ${options.keyedByEmail ? 'email' : 'customer_id'}
    sql: select customer_id, email, phone, first_name, last_name, country from customers`,
    syncsYaml: ({ suffix }) => `
  meta-${suffix}:
    model: customers
    destination: meta
    audienceId: "${audience}"
    mode: mirror
    identifiers: { email: EMAIL, phone: PHONE, first_name: FN, last_name: LN, country: COUNTRY }
    alert: { destination: slack, channel: '#ebb-alerts', failedRecordsThreshold: 1, quoteValues: true }
`,
  });
  await createCustomers(engine.warehouse);
  return { engine, meta, sync: `meta-${engine.suffix}` };
}

const emailHash = (email: string) => MetaAdAccount.normalisedHash('EMAIL', email);
const memberEmails = (sandbox: MetaSandbox) => sandbox.members().map((m) => m.EMAIL);

/** Every text value of every table of the state store, as one lowercase haystack. */
async function stateStoreText(harness: EngineHarness): Promise<string> {
  const parts: string[] = [];
  for (const table of await harness.store.db.introspection.getTables()) {
    const rows = (await harness.store.db
      .selectFrom(table.name as never)
      .selectAll()
      .execute()) as Array<Record<string, unknown>>;
    for (const row of rows) for (const value of Object.values(row)) if (typeof value === 'string') parts.push(value);
  }
  return parts.join('\n').toLowerCase();
}

/** The raw identifiers as written, and as they look once normalised (before hashing). */
function rawIdentifiers(): string[] {
  return [...PEOPLE, { ...(PEOPLE[2] as Person), email: NEW_EMAIL }].flatMap((p) => [
    p.email.trim(),
    p.email.trim().split('@')[0] as string,
    p.phone,
    p.phone.replace(/\D/g, ''),
    p.first,
    p.last,
  ]);
}

function captureLogs(): string[] {
  const captured: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    captured.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write);
  for (const level of ['log', 'info', 'warn', 'error'] as const) {
    const original = console[level].bind(console);
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      captured.push(args.map(String).join(' '));
      original(...args);
    });
  }
  return captured;
}

test('a mirror sync adds the people as hashed, normalised identifiers in one upload session, removes those who leave, and keeps every raw identifier out of the state store, logs, alerts and workflow histories', async () => {
  const logs = captureLogs();
  const { engine, meta, sync } = await start();
  meta.injectFaults({ rateLimit: { code: 17, times: 1 } });

  const first = await engine.run(sync);
  expect(first).toMatchObject({ status: 'succeeded_with_failures', added: 7, succeeded: 6, invalid: 1 });
  expect(memberEmails(meta).sort()).toEqual(valid.map((p) => emailHash(p.email)).sort());
  expect(meta.members()[0]).toEqual({
    EMAIL: expect.stringMatching(/^[0-9a-f]{64}$/),
    PHONE: expect.stringMatching(/^[0-9a-f]{64}$/),
    FN: expect.stringMatching(/^[0-9a-f]{64}$/),
    LN: expect.stringMatching(/^[0-9a-f]{64}$/),
    COUNTRY: expect.stringMatching(/^[0-9a-f]{64}$/),
  });
  // The sandbox found no unhashed value and no hash of an un-normalised one among all it received.
  expect(meta.received().filter((v) => v.invalid)).toEqual([]);
  expect(meta.received().length).toBeGreaterThanOrEqual(6 * 5);
  expect(meta.sessions()).toEqual([
    expect.objectContaining({
      stage: 'completed',
      numReceived: 6,
      numInvalidEntries: 0,
      numMatched: 6,
      estimatedNumTotal: 7,
      batches: [1, 2, 3].map((seq) =>
        expect.objectContaining({ method: 'POST', batchSeq: seq, lastBatchFlag: seq === 3, numReceived: 2 }),
      ),
    }),
  ]);
  const [failed] = await engine.store.listRecordResults(sync, { failedOnly: true });
  expect(failed).toMatchObject({ key: '7', errorCode: 'INVALID_IDENTIFIER' });
  expect(failed?.errorMessage).toMatch(/^column email \(EMAIL\) does not hold an email address/);

  const calls = meta.stats().calls['POST users'];
  // The unusable row is tried again (and counted invalid again); nothing is sent.
  expect(await engine.run(sync)).toMatchObject({ added: 1, invalid: 1, changed: 0, removed: 0, unchanged: 6 });
  expect(meta.stats().calls['POST users']).toBe(calls);

  await execDuckDb(
    engine.warehouse,
    `delete from customers where customer_id = 2; update customers set email = ${quote(NEW_EMAIL)} where customer_id = 3;`,
  );
  const third = await engine.run(sync);
  expect(third).toMatchObject({ status: 'succeeded_with_failures', removed: 1, changed: 1, succeeded: 2 });
  const emails = memberEmails(meta);
  expect(emails).toHaveLength(5);
  expect(emails).not.toContain(emailHash(PEOPLE[1]?.email ?? ''));
  expect(emails).not.toContain(emailHash(PEOPLE[2]?.email ?? ''));
  expect(emails).toContain(emailHash(NEW_EMAIL));

  const alerts = engine.slack.messages('C0EBBALERT').map((m) => m.text);
  expect(alerts.length).toBeGreaterThan(0);
  const store = await stateStoreText(engine);
  const logText = logs.join('\n');
  // The places searched hold what they should, so the search below is not of empty text.
  expect(store).toContain('column email (email) does not hold an email address');
  expect(store).toContain(`email:${emailHash(NEW_EMAIL)}`);
  expect(logText).toContain('TransientDestinationError');
  const histories = await historiesText(engine.client, sync, [1, 2, 3], engine.names);
  expect(histories).toContain('(#17) User request limit reached (code 17)');
  const places = {
    'state store': store,
    logs: logText.toLowerCase(),
    alerts: alerts.join('\n').toLowerCase(),
    'workflow histories': histories.toLowerCase(),
  };
  const leaks = rawIdentifiers().flatMap((raw) =>
    Object.entries(places)
      .filter(([, text]) => text.includes(raw.toLowerCase()))
      .map(([where]) => `${raw} in ${where}`),
  );
  expect(leaks).toEqual([]);
});

test('a throttled upload (Meta codes 613 and 80003) is retried by Temporal and every person arrives once', async () => {
  const { engine, meta, sync } = await start();
  meta.injectFaults({ rateLimit: { code: 613, times: 1 } });
  meta.injectFaults({ rateLimit: { code: 80003, times: 1 } });

  const run = await engine.run(sync);
  expect(run).toMatchObject({ succeeded: 6, failed: 0, invalid: 1 });
  expect(meta.stats()).toMatchObject({ rateLimited: 2, calls: { 'POST users': 3 + 2 } });
  expect(memberEmails(meta).sort()).toEqual(valid.map((p) => emailHash(p.email)).sort());
  expect(meta.sessions()[0]).toMatchObject({ stage: 'completed', numReceived: 6 });
});

test('an expired access token fails the run at its check, before any upload, naming the setting and what to do', async () => {
  const { engine, meta, sync } = await start();
  meta.injectFaults({ expireToken: true });

  const run = await engine.run(sync);
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(
    /the access token in destinations\.meta\.accessToken was refused \(expired, revoked or invalid\): generate a new system user token with the ads_management permission/,
  );
  // Not retried: one audience read, no upload.
  expect(meta.stats().calls).toEqual({ 'GET audience': 1 });
  expect(run.error).not.toContain(meta.token);
});

test('a mirror sync of a model keyed by email stores every key as its hash, removes by it, and keeps the emails out of the state store', async () => {
  const { engine, meta, sync } = await start({ keyedByEmail: true });

  expect(await engine.run(sync)).toMatchObject({ status: 'succeeded_with_failures', succeeded: 6, invalid: 1 });
  const keys = (await engine.store.listRecordResults(sync, {})).map((r) => r.key);
  expect(keys).toHaveLength(7);
  for (const key of keys) expect(key).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(await engine.run(sync)).toMatchObject({ changed: 0, removed: 0, unchanged: 6 });

  await execDuckDb(engine.warehouse, 'delete from customers where customer_id = 2');
  expect(await engine.run(sync)).toMatchObject({ removed: 1, succeeded: 1 });
  expect(memberEmails(meta)).not.toContain(emailHash(PEOPLE[1]?.email ?? ''));
  expect(meta.members()).toHaveLength(5);
  const store = await stateStoreText(engine);
  expect(rawIdentifiers().filter((raw) => store.includes(raw.toLowerCase()))).toEqual([]);
});
