import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openSource } from '../connectors/sources/registry';
import { SourceError, TransientSourceError, type Row, type Source } from '../connectors/sources/source';
import { snowflakeSourceConfigSchema } from '../connectors/sources/snowflake/snowflake-source';
import { startSnowflakeSandbox, type SnowflakeSandbox } from '../sandbox/snowflake/snowflake-sandbox';

const PASSWORD = 'correct horse battery staple';
const PASSPHRASE = 'key passphrase';
const plainKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const encryptedKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: crypto.KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

let sandbox: SnowflakeSandbox;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-snowflake-source-'));
  sandbox = await startSnowflakeSandbox({
    rowsPerChunk: 8_000,
    pollHoldMs: 100,
    users: [
      { username: 'EBB', password: PASSWORD },
      { username: 'EBB_KEYPAIR', publicKey: pem(plainKeys.publicKey) },
      { username: 'EBB_ENCRYPTED', publicKey: pem(encryptedKeys.publicKey) },
    ],
  });
  await sandbox.sql(`create table accounts (
    id NUMBER(38,0), amount NUMBER(38,10), score FLOAT, name VARCHAR, active BOOLEAN,
    signed_up DATE, seen_at TIMESTAMP_NTZ, traits VARIANT, avatar BINARY)`);
  await sandbox.sql(`insert into accounts values
    (9007199254740993, 12345678901234567890.1234567891, 0.5, 'Acme', true, '2026-01-02',
     '2026-01-02 03:04:05.123456', parse_json('{"plan":"pro","seats":12345678901234567890}'), '\\xCA\\xFE'::blob),
    (2, 900.00, null, null, false, null, null, null, null)`);
  await sandbox.sql("create table events as select range as id, 'event ' || range as label from range(60000)");
});

afterAll(async () => {
  await sandbox.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function passwordConfig(overrides: Record<string, unknown> = {}) {
  return snowflakeSourceConfigSchema.parse({
    type: 'snowflake',
    account: sandbox.account,
    username: 'EBB',
    password: PASSWORD,
    warehouse: 'EBB_WH',
    database: 'ANALYTICS',
    schema: 'GOLD',
    accessUrl: sandbox.url,
    ...overrides,
  });
}

function open(overrides: Record<string, unknown> = {}): Source {
  return openSource(passwordConfig(overrides), { name: 'warehouse', baseDir: dir });
}

async function collect(source: Source, sql: string, chunkSize = 1000, label?: string): Promise<Row[][]> {
  const chunks: Row[][] = [];
  for await (const chunk of source.stream({ sql, chunkSize, ...(label ? { label } : {}) })) chunks.push(chunk);
  return chunks;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

test('logs in with a password', async () => {
  const source = open();
  try {
    await source.connect();
    expect(sandbox.stats().logins.at(-1)).toMatchObject({ username: 'EBB', authenticator: 'SNOWFLAKE', ok: true });
  } finally {
    await source.close();
  }
});

test('logs in with a key pair given as PEM text', async () => {
  const privateKey = plainKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const source = open({ username: 'EBB_KEYPAIR', password: undefined, privateKey });
  try {
    expect(await collect(source, 'select 1 as one')).toEqual([[{ ONE: 1 }]]);
    expect(sandbox.stats().logins.at(-1)).toMatchObject({ authenticator: 'SNOWFLAKE_JWT', ok: true });
  } finally {
    await source.close();
  }
});

test('logs in with an encrypted key file relative to ebb.yaml and its passphrase', async () => {
  const encrypted = encryptedKeys.privateKey
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE })
    .toString();
  fs.writeFileSync(path.join(dir, 'ebb.p8'), encrypted);
  const source = open({
    username: 'EBB_ENCRYPTED',
    password: undefined,
    privateKeyPath: 'ebb.p8',
    privateKeyPassphrase: PASSPHRASE,
  });
  try {
    await source.connect();
    expect(sandbox.stats().logins.at(-1)).toMatchObject({ username: 'EBB_ENCRYPTED', ok: true });
  } finally {
    await source.close();
  }
});

test('a config with two ways to log in, or none, is refused', () => {
  expect(() => passwordConfig({ privateKey: 'x' })).toThrow(/only one way to log in/);
  expect(() => passwordConfig({ password: undefined })).toThrow(/needs one way to log in/);
});

test('rows arrive exact: big ids, long decimals, timestamps, dates, variants and binary', async () => {
  const source = open();
  try {
    const rows = (await collect(source, 'select * from accounts order by id desc')).flat();
    expect(rows).toEqual([
      {
        ID: '9007199254740993',
        AMOUNT: '12345678901234567890.1234567891',
        SCORE: 0.5,
        NAME: 'Acme',
        ACTIVE: true,
        SIGNED_UP: '2026-01-02',
        SEEN_AT: '2026-01-02T03:04:05.123456Z',
        TRAITS: { plan: 'pro', seats: '12345678901234567890' },
        AVATAR: 'cafe',
      },
      {
        ID: 2,
        AMOUNT: 900,
        SCORE: null,
        NAME: null,
        ACTIVE: false,
        SIGNED_UP: null,
        SEEN_AT: null,
        TRAITS: null,
        AVATAR: null,
      },
    ]);
  } finally {
    await source.close();
  }
});

test('describes columns with Snowflake types without reading rows', async () => {
  const source = open();
  try {
    expect(await source.describe('select id, amount, seen_at, traits from accounts;')).toEqual([
      { name: 'ID', type: 'NUMBER(38,0)' },
      { name: 'AMOUNT', type: 'NUMBER(38,10)' },
      { name: 'SEEN_AT', type: 'TIMESTAMP_NTZ' },
      { name: 'TRAITS', type: 'VARIANT' },
    ]);
    expect(sandbox.stats().queries.at(-1)).toMatchObject({ rowCount: 0, status: 'succeeded' });
  } finally {
    await source.close();
  }
});

// Memory: the sandbox holds its results in this same heap, so bounded memory is measured on a worker
// process of its own, in snowflake-sync.test.ts.
test('a 60,000-row result arrives in chunks of at most chunkSize rows, across several downloaded result chunks', async () => {
  const source = open();
  try {
    const before = sandbox.stats();
    let count = 0;
    let last: Row | undefined;
    for await (const chunk of source.stream({ sql: 'select id, label from events order by id', chunkSize: 5000 })) {
      expect(chunk.length).toBeLessThanOrEqual(5000);
      count += chunk.length;
      last = chunk.at(-1);
    }
    expect(count).toBe(60_000);
    expect(last).toEqual({ ID: 59_999, LABEL: 'event 59999' });
    expect(sandbox.stats().chunkDownloads - before.chunkDownloads).toBeGreaterThan(1);
    expect(sandbox.stats().bytesServed).toBeGreaterThan(before.bytesServed);
  } finally {
    await source.close();
  }
});

test('the run label becomes the query tag and the statement timeout reaches the session', async () => {
  const source = open({ statementTimeoutSeconds: 900 });
  try {
    await collect(source, 'select count(*) as n from events', 10, 'ebb:x:1');
    const query = sandbox.stats().queries.find((entry) => entry.sql === 'select count(*) as n from events');
    expect(query).toMatchObject({ queryTag: 'ebb:x:1', statementTimeoutSeconds: 900, status: 'succeeded' });
  } finally {
    await source.close();
  }
});

test('a query that keeps running is polled until it completes', async () => {
  const source = open();
  try {
    await source.connect();
    sandbox.setQueryDelay(700);
    const rows = (await collect(source, 'select 42 as answer')).flat();
    expect(rows).toEqual([{ ANSWER: 42 }]);
    const query = sandbox.stats().queries.find((entry) => entry.sql === 'select 42 as answer');
    expect(query?.polls).toBeGreaterThanOrEqual(2);
  } finally {
    sandbox.setQueryDelay(0);
    await source.close();
  }
});

test('a missing table is a SourceError quoting Snowflake and naming the source', async () => {
  const source = open();
  try {
    const error = await failureOf(collect(source, 'select * from no_such_table'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.message).toContain('sources.warehouse');
    expect(error.message).toContain("Object 'NO_SUCH_TABLE' does not exist or not authorized.");
    expect(error.message).toContain('002003');
    expect(error.message).toContain('SQL: select * from no_such_table');
  } finally {
    await source.close();
  }
});

test("a syntax error is a SourceError with Snowflake's code 001003", async () => {
  const source = open();
  try {
    const error = await failureOf(collect(source, 'select id form accounts'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.message).toContain('syntax error line 1 at position');
    expect(error.message).toContain('001003');
  } finally {
    await source.close();
  }
});

test('bad credentials are a SourceError that points at the config', async () => {
  const source = open({ password: 'wrong' });
  try {
    const error = await failureOf(source.connect());
    expect(error).toBeInstanceOf(SourceError);
    expect(error).not.toBeInstanceOf(TransientSourceError);
    expect(error.message).toContain('sources.warehouse');
    expect(error.message).toContain('Incorrect username or password was specified.');
  } finally {
    await source.close();
  }
});

test('a statement timeout is a TransientSourceError', async () => {
  const source = open({ statementTimeoutSeconds: 1 });
  try {
    await source.connect();
    sandbox.setQueryDelay(1_500);
    const error = await failureOf(collect(source, 'select 1 as slow'));
    expect(error).toBeInstanceOf(TransientSourceError);
    expect(error.message).toContain('000630');
  } finally {
    sandbox.setQueryDelay(0);
    await source.close();
  }
});

test('an expired session is renewed and the query succeeds', async () => {
  const source = open();
  try {
    await source.connect();
    const renewals = sandbox.stats().tokenRenewals;
    sandbox.expireSessions();
    expect((await collect(source, 'select 7 as seven')).flat()).toEqual([{ SEVEN: 7 }]);
    expect(sandbox.stats().tokenRenewals).toBe(renewals + 1);
  } finally {
    await source.close();
  }
});

test('a session that can no longer be renewed is a TransientSourceError, and the next query logs in again', async () => {
  const source = open();
  try {
    await source.connect();
    sandbox.expireSessions({ master: true });
    const error = await failureOf(collect(source, 'select 8 as eight'));
    expect(error).toBeInstanceOf(TransientSourceError);
    expect((await collect(source, 'select 9 as nine')).flat()).toEqual([{ NINE: 9 }]);
  } finally {
    await source.close();
  }
});
