import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDuckDbSource } from '../connectors/sources/duckdb/duckdb-source';
import { Row } from '../connectors/sources/source';
import {
  DEMO_BUILT_AT,
  DEMO_CHANGES,
  DemoWarehouseError,
  buildDemoWarehouse,
  execDuckDb,
  updateDemoAccounts,
} from '../sandbox/warehouse/demo-warehouse';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-demo-warehouse-'));
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Reads the model as a sync would: through a read-only source, in this process. */
async function readAccounts(file: string): Promise<Row[]> {
  const source = createDuckDbSource({ path: file });
  try {
    const rows: Row[] = [];
    for await (const chunk of source.stream({
      sql: 'SELECT * FROM account_health ORDER BY account_id',
      chunkSize: 100,
    })) {
      rows.push(...chunk);
    }
    return rows;
  } finally {
    await source.close();
  }
}

/** Another process can only open the file read-write if every writer here has closed it. */
function anotherProcessCanWrite(file: string): boolean {
  const script = `require('@duckdb/node-api').DuckDBInstance.create(${JSON.stringify(file)})
    .then((db) => { db.closeSync(); process.stdout.write('opened'); })
    .catch((error) => process.stdout.write(error.message));`;
  return execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..') }).toString() === 'opened';
}

test('the demo warehouse holds the four seed accounts plus the generated ones', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file);

  const rows = await readAccounts(file);
  expect(rows).toHaveLength(304);
  const byId = new Map(rows.map((row) => [row.account_id, row]));
  expect(['acme', 'globex', 'initech', 'umbrella'].map((id) => byId.get(id))).toEqual([
    { account_id: 'acme', name: 'Acme', health: 38, segment: 'at-risk', mrr: 900, updated_at: DEMO_BUILT_AT },
    { account_id: 'globex', name: 'Globex', health: 82, segment: 'healthy', mrr: 4000, updated_at: DEMO_BUILT_AT },
    { account_id: 'initech', name: 'Initech', health: 55, segment: 'neutral', mrr: 700, updated_at: DEMO_BUILT_AT },
    { account_id: 'umbrella', name: 'Umbrella', health: 91, segment: 'healthy', mrr: 1200, updated_at: DEMO_BUILT_AT },
  ]);

  const generated = rows.filter((row) => String(row.account_id).startsWith('acct-'));
  expect(generated.map((row) => row.account_id)).toEqual(
    Array.from({ length: 300 }, (_, i) => `acct-${String(i + 1).padStart(4, '0')}`),
  );
  for (const row of generated) {
    const health = row.health as number;
    expect(health).toBeGreaterThanOrEqual(0);
    expect(health).toBeLessThanOrEqual(100);
    expect(row.segment).toBe(health < 50 ? 'at-risk' : health < 80 ? 'neutral' : 'healthy');
  }
  // Every segment is represented, so filtered syncs have something to send.
  expect(new Set(generated.map((row) => row.segment))).toEqual(new Set(['at-risk', 'neutral', 'healthy']));
});

test('building twice gives the same rows, and a rebuild replaces the old file', async () => {
  const first = path.join(dir, 'first.duckdb');
  const second = path.join(dir, 'second.duckdb');
  await buildDemoWarehouse(first, { generated: 50 });
  await buildDemoWarehouse(second, { generated: 50 });
  expect(await readAccounts(second)).toEqual(await readAccounts(first));

  await buildDemoWarehouse(first, { generated: 10 });
  expect(await readAccounts(first)).toHaveLength(14);
});

test('updateDemoAccounts changes exactly the named rows', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file, { generated: 20 });
  const before = await readAccounts(file);

  await updateDemoAccounts(file, DEMO_CHANGES);

  const after = await readAccounts(file);
  const changedIds = after
    .filter((row, i) => JSON.stringify(row) !== JSON.stringify(before[i]))
    .map((row) => row.account_id);
  expect(changedIds).toEqual(['acme', 'initech']);

  const acme = after.find((row) => row.account_id === 'acme');
  const initech = after.find((row) => row.account_id === 'initech');
  expect(acme).toMatchObject({ name: 'Acme', health: 30, segment: 'at-risk', mrr: 900 });
  expect(initech).toMatchObject({ name: 'Initech', health: 45, segment: 'at-risk', mrr: 700 });
  for (const row of [acme, initech]) expect(String(row?.updated_at) > DEMO_BUILT_AT).toBe(true);
});

test('updateDemoAccounts sets the named fields and moves updated_at past every earlier change', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file, { generated: 0 });

  await updateDemoAccounts(file, [{ account_id: 'globex', name: 'Globex Corp', mrr: 4100.5 }]);
  await updateDemoAccounts(file, [{ account_id: 'umbrella', health: 20, segment: 'watch' }]);

  const [globex, umbrella] = (await readAccounts(file)).filter((row) =>
    ['globex', 'umbrella'].includes(String(row.account_id)),
  );
  expect(globex).toMatchObject({ name: 'Globex Corp', health: 82, segment: 'healthy', mrr: 4100.5 });
  expect(umbrella).toMatchObject({ name: 'Umbrella', health: 20, segment: 'watch', mrr: 1200 });
  expect(String(umbrella?.updated_at) > String(globex?.updated_at)).toBe(true);
});

test('an unknown account id fails and changes nothing', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file, { generated: 0 });
  const before = await readAccounts(file);

  const update = updateDemoAccounts(file, [
    { account_id: 'acme', health: 10 },
    { account_id: 'hooli', health: 10 },
  ]);

  await expect(update).rejects.toThrow(DemoWarehouseError);
  await expect(update).rejects.toThrow('No account "hooli"');
  expect(await readAccounts(file)).toEqual(before);
});

test('updating a warehouse that was never built says to build it', async () => {
  await expect(updateDemoAccounts(path.join(dir, 'missing.duckdb'), DEMO_CHANGES)).rejects.toThrow(
    /No demo warehouse at .*missing\.duckdb; build it first/,
  );
});

test('every writer lets go of the file, so another process can open it afterwards', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file, { generated: 5 });
  expect(anotherProcessCanWrite(file)).toBe(true);

  await updateDemoAccounts(file, DEMO_CHANGES);
  expect(anotherProcessCanWrite(file)).toBe(true);

  expect(await execDuckDb(file, 'SELECT count(*) AS accounts FROM account_health')).toEqual([{ accounts: '9' }]);
  expect(anotherProcessCanWrite(file)).toBe(true);
});

test('writing while a source in this process has the file open is refused, since that source would read old data', async () => {
  const file = path.join(dir, 'warehouse.duckdb');
  await buildDemoWarehouse(file, { generated: 0 });
  const source = createDuckDbSource({ path: file });
  await source.describe('SELECT * FROM account_health');

  await expect(updateDemoAccounts(file, DEMO_CHANGES)).rejects.toThrow(
    /is open by a source in this process; close the source before writing/,
  );
  await expect(buildDemoWarehouse(file)).rejects.toThrow(DemoWarehouseError);
  await source.close();

  await updateDemoAccounts(file, DEMO_CHANGES);
  expect((await readAccounts(file)).find((row) => row.account_id === 'acme')).toMatchObject({ health: 30 });
});
