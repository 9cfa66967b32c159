/** `ebb validate` checks a config against the warehouse: model SQL, sync filters and the columns it names. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateCommand } from '../cli/commands/validate';
import { buildDemoWarehouse } from '../sandbox/warehouse/demo-warehouse';

let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-validate-'));
  await buildDemoWarehouse(path.join(dir, 'warehouse.duckdb'), { generated: 0 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function validate(yaml: string): Promise<{ text: string; exitCode: number }> {
  const file = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(file, yaml);
  const out: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  let exitCode = 0;
  try {
    await validateCommand({ file });
  } catch (err) {
    exitCode = (err as { code?: number }).code ?? -1;
  } finally {
    write.mockRestore();
  }
  return { text: out.join(''), exitCode };
}

const config = (sync: string, sql = 'select account_id, name, health from account_health') => `
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
models:
  account_health: { source: warehouse, primaryKey: account_id, sql: "${sql}" }
syncs:
  accounts-to-sf:
    model: account_health
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
${sync}`;

test('a mapping of a column the model does not select is reported with its path and the columns it does select', async () => {
  const { text, exitCode } = await validate(config('    mapping: { name: Name, helth: Health_Score__c }'));
  expect(exitCode).toBe(1);
  expect(text).toMatch(
    /ebb\.yaml:14:\d+ syncs\.accounts-to-sf\.mapping\.helth: Column 'helth' is not selected by the model/,
  );
  expect(text).toMatch(/Columns the model selects: account_id, name, health/);
});

test('a filter that does not run on the model is reported at the sync filter', async () => {
  const { text, exitCode } = await validate(config('    mapping: { name: Name }\n    filter: "segmnt = \'at-risk\'"'));
  expect(exitCode).toBe(1);
  expect(text).toMatch(/syncs\.accounts-to-sf\.filter: the filter does not run on model 'account_health'/);
  expect(text).toContain('segmnt');
});

test('model SQL that does not run is reported at the model', async () => {
  const { text } = await validate(config('    mapping: { name: Name }', 'select account_id, name from account_helth'));
  expect(text).toMatch(/models\.account_health\.sql: the model's SQL does not run: .*account_helth/);
});

test('a config that matches the warehouse is ok', async () => {
  const { text, exitCode } = await validate(config('    mapping: { name: Name, health: Health_Score__c }'));
  expect(exitCode).toBe(0);
  expect(text).toMatch(/^ok: 1 sources, 1 destinations, 1 models, 1 syncs/);
});
