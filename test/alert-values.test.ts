/**
 * Row values stay where they belong: alerts carry counts, keys and error codes, and quote error
 * messages (which may hold row values) only when the sync's alert says `quoteValues: true`, and then
 * only an excerpt. CLI lines quote an excerpt too; the whole text stays in `ebb records --json`.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

// Longer than Name's 80 characters, so ebb refuses the record before sending it; the value must not show.
const SECRET_NAME = `Acme Confidential ${'x'.repeat(2000)}`;

let engine: EngineHarness;
afterEach(async () => {
  await engine?.stop();
});

const syncWithAlert = (id: string, alert: string) =>
  salesforceSyncYaml(id, { mapping: '{ name: Name }', extra: `\n    alert: ${alert}` });

async function alertsAfterAFailedRecord(alert: string): Promise<string[]> {
  engine = await startEngine({ generated: 0, syncsYaml: ({ suffix }) => syncWithAlert(`sf-${suffix}`, alert) });
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: SECRET_NAME }]);
  const run = await engine.run(`sf-${engine.suffix}`);
  expect(run).toMatchObject({ status: 'succeeded_with_failures', invalid: 1 });
  return engine.slack.messages('#ebb-alerts').map((m) => m.text ?? '');
}

test('by default an alert names the failed key and its error code but quotes no value', async () => {
  const [alert, ...more] = await alertsAfterAFailedRecord("{ destination: slack, channel: '#ebb-alerts' }");
  expect(more).toHaveLength(0);
  expect(alert).toContain('`acme` STRING_TOO_LONG');
  expect(alert).not.toContain('Confidential');
});

test('with quoteValues an alert quotes the message, which says the length and never the value, and so does the CLI', async () => {
  const [alert] = await alertsAfterAFailedRecord("{ destination: slack, channel: '#ebb-alerts', quoteValues: true }");
  expect(alert).toMatch(/`acme` STRING_TOO_LONG: .*2018 characters/);
  expect(alert).not.toContain('Confidential');

  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      path.join(__dirname, '..', 'bin', 'ebb.js'),
      '--config',
      engine.configFile,
      'records',
      `sf-${engine.suffix}`,
      '--failed',
    ],
    { env: { ...process.env, ...engine.env } },
  );
  expect(stdout).toContain('STRING_TOO_LONG');
  expect(stdout).not.toContain('x'.repeat(300));
});
