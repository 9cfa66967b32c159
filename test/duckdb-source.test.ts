import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDuckDbSource } from '../connectors/sources/duckdb/duckdb-source';
import { openSource } from '../connectors/sources/registry';
import { Row, Source, SourceError } from '../connectors/sources/source';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { retainedHeap } from './harness/retained-heap';

let dir: string;
let warehouse: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-duckdb-source-'));
  warehouse = path.join(dir, 'warehouse.duckdb');
  await execDuckDb(
    warehouse,
    `CREATE TABLE events AS
       SELECT range AS id, 'event ' || range AS label, range % 7 = 0 AS flagged
       FROM range(10000)`,
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(source: Source, sql: string, chunkSize: number): Promise<Row[][]> {
  const chunks: Row[][] = [];
  for await (const chunk of source.stream({ sql, chunkSize })) chunks.push(chunk);
  return chunks;
}

/** DuckDB's file lock only bites across processes, so only another process can tell whether we let go. */
function anotherProcessCanWrite(file: string): boolean {
  const script = `require('@duckdb/node-api').DuckDBInstance.create(${JSON.stringify(file)})
    .then((db) => { db.closeSync(); process.stdout.write('opened'); })
    .catch((error) => process.stdout.write(error.message));`;
  const output = execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..') }).toString();
  return output === 'opened';
}

test('streams a 10,000-row model in chunks no larger than chunkSize', async () => {
  const source = createDuckDbSource({ path: warehouse });
  try {
    const chunks = await collect(source, 'SELECT id, label FROM events ORDER BY id', 750);

    expect(chunks.map((chunk) => chunk.length)).toEqual([...Array<number>(13).fill(750), 250]);
    const rows = chunks.flat();
    expect(rows.map((row) => row.id)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(rows[9_999]).toEqual({ id: 9_999, label: 'event 9999' });
  } finally {
    await source.close();
  }
});

test('a chunkSize larger than DuckDB’s own chunks still fills each chunk', async () => {
  const source = createDuckDbSource({ path: warehouse });
  try {
    const chunks = await collect(source, 'SELECT id FROM events', 4_500);

    expect(chunks.map((chunk) => chunk.length)).toEqual([4_500, 4_500, 1_000]);
  } finally {
    await source.close();
  }
});

test('describes columns and types without reading rows', async () => {
  const source = createDuckDbSource({ path: warehouse });
  try {
    // error() fails as soon as a row is produced, so this only succeeds if nothing is executed.
    const columns = await source.describe(
      "SELECT id, label, flagged, id::DECIMAL(12, 2) AS amount, error('a row was read') AS boom FROM events",
    );

    expect(columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'label', type: 'VARCHAR' },
      { name: 'flagged', type: 'BOOLEAN' },
      { name: 'amount', type: 'DECIMAL(12,2)' },
      { name: 'boom', type: 'INTEGER' },
    ]);
  } finally {
    await source.close();
  }
});

test('converts dates, timestamps, decimals and bigints to JSON-friendly values', async () => {
  const source = createDuckDbSource({ path: warehouse });
  try {
    const [chunk] = await collect(
      source,
      `SELECT
         DATE '2024-02-29' AS day,
         TIMESTAMP '2024-03-01 12:34:56.789' AS at,
         TIMESTAMP '2024-03-01 12:34:56.123456' AS at_micros,
         TIMESTAMPTZ '2024-01-01 10:00:00+02' AS at_tz,
         1234.56::DECIMAL(12, 2) AS amount,
         42::BIGINT AS small_big,
         9007199254740993::BIGINT AS unsafe_big,
         170141183460469231731687303715884105727::HUGEINT AS huge,
         true AS yes,
         NULL AS nothing,
         'x' AS text,
         [1, 2, 3] AS list,
         {'name': 'Acme', 'since': DATE '2020-01-31'} AS struct,
         'NaN'::DOUBLE AS not_a_number`,
      10,
    );

    const row = chunk?.[0];
    expect(row).toEqual({
      day: '2024-02-29',
      at: '2024-03-01T12:34:56.789Z',
      at_micros: '2024-03-01T12:34:56.123456Z',
      at_tz: '2024-01-01T08:00:00.000Z',
      amount: 1234.56,
      small_big: 42,
      unsafe_big: '9007199254740993',
      huge: '170141183460469231731687303715884105727',
      yes: true,
      nothing: null,
      text: 'x',
      list: [1, 2, 3],
      struct: { name: 'Acme', since: '2020-01-31' },
      not_a_number: 'NaN',
    });
    expect(JSON.parse(JSON.stringify(row))).toEqual(row);
  } finally {
    await source.close();
  }
});

test('stopping early closes the stream and the file can be reopened', async () => {
  const source = createDuckDbSource({ path: warehouse });
  // A hundred million rows: reading them all after the break would take far longer than the test.
  const endless = 'SELECT a.id, b.label FROM events a CROSS JOIN events b';
  let seen = 0;
  for await (const chunk of source.stream({ sql: endless, chunkSize: 100 })) {
    seen += chunk.length;
    break;
  }
  expect(seen).toBe(100);
  expect(anotherProcessCanWrite(warehouse)).toBe(false);

  // The same source can still be used after an abandoned stream.
  expect((await collect(source, 'SELECT count(*) AS n FROM events', 10)).flat()).toEqual([{ n: 10_000 }]);

  await source.close();
  expect(anotherProcessCanWrite(warehouse)).toBe(true);
});

test('sources of the same file share one instance and release it when the last one closes', async () => {
  const first = createDuckDbSource({ path: warehouse });
  const second = createDuckDbSource({ path: warehouse });
  await first.describe('SELECT id FROM events');
  await second.describe('SELECT id FROM events');

  await first.close();
  expect(await second.describe('SELECT label FROM events')).toEqual([{ name: 'label', type: 'VARCHAR' }]);
  expect(anotherProcessCanWrite(warehouse)).toBe(false);

  await second.close();
  expect(anotherProcessCanWrite(warehouse)).toBe(true);
});

test('a SQL error names the problem', async () => {
  const source = createDuckDbSource({ path: warehouse, name: 'warehouse' });
  try {
    const streaming = collect(source, 'SELECT nope FROM events', 10);
    await expect(streaming).rejects.toThrow(SourceError);
    await expect(streaming).rejects.toThrow(/source warehouse .*Referenced column "nope" not found/s);
    await expect(streaming).rejects.toThrow(/SQL: SELECT nope FROM events/);

    const longSql = `SELECT nope FROM events WHERE label IN (${Array.from({ length: 100 }, (_, i) => `'${i}'`).join(', ')})`;
    const describing = source.describe(longSql);
    await expect(describing).rejects.toThrow(/Referenced column "nope" not found/);
    await expect(describing).rejects.toThrow(`SQL: ${longSql.slice(0, 200)}...`);
  } finally {
    await source.close();
  }
});

test('a query returning two columns of the same name asks for an alias', async () => {
  const source = createDuckDbSource({ path: warehouse });
  try {
    await expect(source.describe('SELECT id, id FROM events')).rejects.toThrow(
      'The query returns column "id" more than once',
    );
  } finally {
    await source.close();
  }
});

test('a missing file is a SourceError naming the path', async () => {
  const missing = path.join(dir, 'nowhere.duckdb');
  const source = openSource({ type: 'duckdb', path: missing }, { name: 'warehouse', baseDir: dir });

  await expect(source.describe('SELECT 1')).rejects.toThrow(SourceError);
  await expect(source.describe('SELECT 1')).rejects.toThrow(
    `DuckDB file not found: ${missing} (sources.warehouse.path)`,
  );
  await expect(collect(source, 'SELECT 1', 10)).rejects.toThrow('DuckDB file not found');
  await source.close();
  expect(fs.existsSync(missing)).toBe(false);
});

test('an unknown source type is refused by name, listing the known types', () => {
  expect(() => openSource({ type: 'oracle' }, { name: 'erp', baseDir: dir })).toThrow(
    new SourceError("sources.erp: unknown source type 'oracle'; known types: duckdb, snowflake, postgres"),
  );
});

test('streaming a million wide rows never holds more than a small part of them', async () => {
  const source = createDuckDbSource({ path: warehouse });
  // Each row carries ~200 bytes of text: the whole result would take well over 200 MB as JS objects.
  const sql = "SELECT range AS id, repeat('x', 200) || range AS padding FROM range(1000000)";
  const before = retainedHeap();
  let peak = 0;
  let rows = 0;
  try {
    for await (const chunk of source.stream({ sql, chunkSize: 1_000 })) {
      rows += chunk.length;
      if (rows % 100_000 === 0) peak = Math.max(peak, retainedHeap() - before);
    }
  } finally {
    await source.close();
  }
  process.stdout.write(`retained while streaming: at most ${Math.round(peak / 1048576)} MB\n`);
  expect(rows).toBe(1_000_000);
  expect(peak).toBeLessThan(40 * 1024 * 1024);
});
