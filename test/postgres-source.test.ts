import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  createPostgresSource,
  postgresSourceConfigSchema,
  type PostgresSourceSettings,
} from '../connectors/sources/postgres/postgres-source';
import { openSource } from '../connectors/sources/registry';
import { Row, Source, SourceError, TransientSourceError } from '../connectors/sources/source';
import { retainedHeap } from './harness/retained-heap';

// Against a real server: EBB_TEST_POSTGRES_URL=postgres://ebb:ebb@127.0.0.1:5432/postgres (role with createdb).
const serverUrl = process.env.EBB_TEST_POSTGRES_URL;
const suite = serverUrl ? describe : describe.skip;

const context = { name: 'warehouse', baseDir: __dirname };
const database = `ebb_pg_source_${process.pid}_${randomBytes(3).toString('hex')}`;
let databaseUrl: string;
let admin: Client;

function urlFor(db: string, password?: string): string {
  const url = new URL(serverUrl ?? '');
  url.pathname = `/${db}`;
  if (password !== undefined) url.password = password;
  return url.toString();
}

function openTestSource(settings: Partial<PostgresSourceSettings> = {}): Source {
  const config = postgresSourceConfigSchema.parse({ type: 'postgres', url: databaseUrl, ...settings });
  return createPostgresSource(config, context);
}

async function collect(source: Source, sql: string, chunkSize = 1000): Promise<Row[][]> {
  const chunks: Row[][] = [];
  for await (const chunk of source.stream({ sql, chunkSize })) chunks.push(chunk);
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

suite('PostgreSQL source', () => {
  beforeAll(async () => {
    const server = new Client({ connectionString: serverUrl });
    await server.connect();
    await server.query(`create database ${database}`);
    // Settings a server or database may have: the source must give the same values regardless.
    await server.query(`alter database ${database} set timezone = 'America/New_York'`);
    await server.query(`alter database ${database} set datestyle = 'SQL, DMY'`);
    await server.query(`alter database ${database} set bytea_output = 'escape'`);
    await server.end();

    databaseUrl = urlFor(database);
    admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`
      create table typed (
        id bigint primary key,
        big_decimal numeric(38, 10),
        big_integer bigint,
        amount numeric(12, 2),
        small integer,
        ratio double precision,
        not_a_number double precision,
        happened_at timestamptz,
        local_at timestamp,
        day date,
        doc jsonb,
        ints int[],
        words text[],
        amounts numeric[],
        uid uuid,
        bytes bytea,
        flag boolean,
        span interval,
        at_time time,
        nothing text
      );
      insert into typed values (
        1,
        '12345678901234567890.1234567891',
        9223372036854775807,
        900.00,
        42,
        1.5,
        'NaN',
        '2026-01-02 04:04:05.123456+01',
        '2026-01-02 03:04:05',
        '2026-01-02',
        '{"a": [1, 2.5, null], "big": 12345678901234567890, "s": "x"}',
        '{1,2,NULL}',
        '{"a,b","say \\"hi\\"",c}',
        '{900.00,12345678901234567890.5}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '\\x0102ff',
        true,
        '1 day 2 hours',
        '12:34:56',
        null
      );
    `);
  });

  afterAll(async () => {
    await admin?.end();
    if (!serverUrl) return;
    const server = new Client({ connectionString: serverUrl });
    await server.connect();
    await server.query(`drop database if exists ${database} with (force)`);
    await server.end();
  });

  test('values arrive exactly, in the shapes every source yields, whatever the database’s own settings', async () => {
    const source = openTestSource();
    try {
      const [rows] = await collect(source, 'select * from typed');

      const expected = {
        id: 1,
        big_decimal: '12345678901234567890.1234567891',
        big_integer: '9223372036854775807',
        amount: 900,
        small: 42,
        ratio: 1.5,
        not_a_number: 'NaN',
        happened_at: '2026-01-02T03:04:05.123456Z',
        local_at: '2026-01-02T03:04:05.000Z',
        day: '2026-01-02',
        doc: { a: [1, 2.5, null], big: '12345678901234567890', s: 'x' },
        ints: [1, 2, null],
        words: ['a,b', 'say "hi"', 'c'],
        amounts: [900, '12345678901234567890.5'],
        uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        bytes: '0102ff',
        flag: true,
        span: 'P1DT2H',
        at_time: '12:34:56',
        nothing: null,
      };
      expect(rows).toEqual([expected]);
      expect(JSON.parse(JSON.stringify(rows))).toEqual([expected]);
    } finally {
      await source.close();
    }
  });

  test('describes column names and types without reading a row', async () => {
    const source = openTestSource();
    try {
      // The division fails for any row it is evaluated on, so this only succeeds if no row is read.
      const columns = await source.describe('select id, big_decimal, day, 1 / (id - id) as boom from typed;');

      expect(columns).toEqual([
        { name: 'id', type: 'bigint' },
        { name: 'big_decimal', type: 'numeric(38,10)' },
        { name: 'day', type: 'date' },
        { name: 'boom', type: 'bigint' },
      ]);
    } finally {
      await source.close();
    }
  });

  test('streams 200,000 rows in chunks of chunkSize with bounded memory', async () => {
    const source = openTestSource();
    try {
      // About 200 MB of padding in all: holding the result would show in the heap.
      const sql = "select g as id, repeat('x', 1000) as padding from generate_series(1, 200000) as g order by g";
      const baseline = retainedHeap();
      let peak = 0;
      let count = 0;
      let lastId = 0;
      const sizes = new Set<number>();
      for await (const chunk of source.stream({ sql, chunkSize: 1500 })) {
        sizes.add(chunk.length);
        count += chunk.length;
        lastId = chunk[chunk.length - 1]?.id as number;
        // Every 20 chunks: a full collection per chunk would cost more than the query.
        if (count % 30_000 === 0) peak = Math.max(peak, retainedHeap() - baseline);
      }
      process.stdout.write(`retained while streaming: at most ${Math.round(peak / 1048576)} MB\n`);

      expect(count).toBe(200_000);
      expect(lastId).toBe(200_000);
      expect([...sizes].sort((a, b) => a - b)).toEqual([500, 1500]);
      expect(peak).toBeLessThan(40 * 1024 * 1024);
    } finally {
      await source.close();
    }
  });

  test('a model that writes fails, as it runs in a read-only transaction', async () => {
    const source = openTestSource();
    try {
      const sql = 'with added as (insert into typed (id) values (2) returning id) select * from added';
      const error = await failureOf(collect(source, sql));

      expect(error).toBeInstanceOf(SourceError);
      expect(error.message).toContain('in a read-only transaction (SQLSTATE 25006)');
      expect(error.message).toContain('a model must only read');
      expect((await admin.query('select count(*)::int as n from typed')).rows[0]).toEqual({ n: 1 });
    } finally {
      await source.close();
    }
  });

  test('a statement timeout is transient, so the run retries', async () => {
    const source = openTestSource({ statementTimeoutSeconds: 0.2 });
    try {
      const error = await failureOf(collect(source, 'select pg_sleep(2)'));

      expect(error).toBeInstanceOf(TransientSourceError);
      expect(error.message).toContain('canceling statement due to statement timeout');
      expect(error.message).toContain('SQL: select pg_sleep(2)');
    } finally {
      await source.close();
    }
  });

  test('a wrong password is a SourceError naming the source, without the password', async () => {
    const password = 'not-the-password-7f3a';
    const source = openTestSource({ url: urlFor(database, password) });
    try {
      const error = await failureOf(source.connect());

      expect(error).toBeInstanceOf(SourceError);
      expect(error.message).toContain(`source warehouse (postgres 127.0.0.1:5432/${database})`);
      expect(error.message).toContain('password authentication failed');
      expect(error.message).not.toContain(password);
    } finally {
      await source.close();
    }
  });

  test('an unreachable server is transient', async () => {
    const source = openTestSource({ url: 'postgres://ebb@127.0.0.1:1/nowhere' });
    try {
      const error = await failureOf(source.connect());

      expect(error).toBeInstanceOf(TransientSourceError);
      expect(error.message).toContain('ECONNREFUSED');
    } finally {
      await source.close();
    }
  });

  test('a CA file that cannot be read is a SourceError pointing at sslRootCert', async () => {
    const source = openTestSource({ sslmode: 'verify-full', sslRootCert: 'no-such-ca.pem' });
    try {
      const error = await failureOf(source.connect());

      expect(error).toBeInstanceOf(SourceError);
      expect(error.message).toContain(`sources.warehouse.sslRootCert: cannot read ${__dirname}/no-such-ca.pem`);
    } finally {
      await source.close();
    }
  });

  test('a missing table is a SourceError quoting the server’s message and the SQL', async () => {
    const source = openTestSource();
    try {
      const streamed = await failureOf(collect(source, 'select * from no_such_table'));
      const described = await failureOf(source.describe('select * from no_such_table'));

      for (const error of [streamed, described]) {
        expect(error).toBeInstanceOf(SourceError);
        expect(error.name).toBe('SourceError');
        expect(error.message).toContain('relation "no_such_table" does not exist (SQLSTATE 42P01)');
        expect(error.message).toContain('SQL: select * from no_such_table');
      }
    } finally {
      await source.close();
    }
  });

  test('stopping early closes the cursor and releases the connection', async () => {
    const applicationName = `ebb-test-${randomBytes(3).toString('hex')}`;
    const source = openTestSource({ applicationName });
    try {
      // More early stops than the pool has connections: a leaked one would make the last read wait forever.
      for (let i = 0; i < 3; i++) {
        for await (const chunk of source.stream({ sql: 'select g from generate_series(1, 100000) g', chunkSize: 10 })) {
          expect(chunk).toHaveLength(10);
          break;
        }
      }
      const sessions = await admin.query(
        'select state from pg_stat_activity where datname = $1 and application_name = $2',
        [database, applicationName],
      );

      expect(sessions.rows.map((row: { state: string }) => row.state)).not.toContain('idle in transaction');
      expect((await collect(source, 'select 1 as one')).flat()).toEqual([{ one: 1 }]);
    } finally {
      await source.close();
    }
  });

  test('a stream shows its run label to the database’s admins', async () => {
    const source = openTestSource();
    try {
      const seen: string[] = [];
      for await (const _chunk of source.stream({
        sql: 'select g from generate_series(1, 10) g',
        chunkSize: 5,
        label: 'ebb:accounts:7',
      })) {
        const sessions = await admin.query('select application_name from pg_stat_activity where datname = $1', [
          database,
        ]);
        seen.push(...sessions.rows.map((row: { application_name: string }) => row.application_name));
        break;
      }

      expect(seen).toContain('ebb:accounts:7');
    } finally {
      await source.close();
    }
  });

  test('the registry opens a source from host, port, database, user and password', async () => {
    const url = new URL(databaseUrl);
    const config = postgresSourceConfigSchema.parse({
      type: 'postgres',
      host: url.hostname,
      port: url.port || '5432',
      database,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      sslmode: 'disable',
    });
    const source = openSource(config, context);
    try {
      await source.connect();
      expect((await collect(source, 'select count(*)::int as n from typed')).flat()).toEqual([{ n: 1 }]);
    } finally {
      await source.close();
    }
  });
});

describe('PostgreSQL source config', () => {
  const issues = (config: unknown): string[] => {
    const result = postgresSourceConfigSchema.safeParse(config);
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  test('applies the defaults for statement timeout and application name', () => {
    expect(postgresSourceConfigSchema.parse({ type: 'postgres', url: 'postgres://u:p@h/db' })).toEqual({
      type: 'postgres',
      url: 'postgres://u:p@h/db',
      statementTimeoutSeconds: 3600,
      applicationName: 'ebb',
    });
  });

  test('takes either a url or host/database/user, not both and not neither', () => {
    expect(issues({ type: 'postgres', url: 'postgres://u:p@h/db', host: 'h' })).toEqual([
      'host: set either url or host, not both',
    ]);
    expect(issues({ type: 'postgres', host: 'h' })).toEqual([
      'database: required unless url is set',
      'user: required unless url is set',
    ]);
  });

  test('reports a malformed url without repeating it, as it may hold the password', () => {
    const [issue] = issues({ type: 'postgres', url: 'mysql://u:secret@h/db' });

    expect(issue).toBe('url: must start with postgres:// or postgresql://, not mysql://');
    expect(issues({ type: 'postgres', url: 'postgres://u:p@h/db?sslmode=require', sslmode: 'disable' })).toEqual([
      'sslmode: url says sslmode=require but sslmode is disable; keep one',
    ]);
    expect(issues({ type: 'postgres', url: 'postgres://u:p@h/db?sslmode=prefer' })).toEqual([
      'url: sslmode must be one of disable, require, verify-ca, verify-full',
    ]);
  });
});
