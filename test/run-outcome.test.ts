/**
 * Honest run outcomes: a run with failed records is not a plain success, a run in which every
 * record failed is a failed run (and a failed workflow), and the counts add up everywhere:
 * added + changed + removed = succeeded + failed + invalid.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { allowMissingNames, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import type { RunSummary } from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

let engine: EngineHarness;
afterEach(async () => {
  await engine?.stop();
});

const addsUp = (run: RunSummary) =>
  expect(run.added + run.changed + run.removed).toBe(run.succeeded + run.failed + run.invalid);

/** `ebb <args> --config <file>`: exit code and output, never throwing on a non-zero exit. */
async function ebb(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, ...args],
      { env: { ...process.env, ...engine.env } },
    );
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

const sfSync = (id: string, extra = '') =>
  salesforceSyncYaml(id, { mapping: '{ name: Name, health: Health_Score__c }', extra });

test('a run with some failed records says so everywhere, its counts add up, and `ebb run --wait` exits 2', async () => {
  engine = await startEngine({ generated: 6, syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`) });
  const sync = `sf-${engine.suffix}`;
  // Salesforce refuses to create acme without a Name (REQUIRED_FIELD_MISSING).
  await allowMissingNames(engine.warehouse);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: null }]);

  const cli = await ebb('run', sync, '--wait');
  expect(cli.code).toBe(2);
  expect(cli.stdout).toMatch(/run 1 \(incremental\) succeeded with 1 failed record: /);

  const status = await engine.status(sync);
  expect(status.lastRun).toMatchObject({ status: 'succeeded_with_failures', added: 10, succeeded: 9, failed: 1 });
  addsUp(status.lastRun as RunSummary);
  const runs = JSON.parse((await ebb('runs', sync, '--json')).stdout) as Array<Record<string, unknown>>;
  expect(runs[0]).toMatchObject({ runNumber: 1, status: 'succeeded_with_failures', succeeded: 9, failed: 1 });
  // The controller's details in the Temporal UI carry the same words.
  const controller = await engine.client.workflow
    .getHandle(`sync/${sync}`)
    .query<{ currentDetails: string }>('__temporal_workflow_metadata');
  expect(controller.currentDetails).toContain('**succeeded with 1 failed record**');

  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: 'Acme' }]);
  const fixed = await ebb('run', sync, '--wait');
  expect(fixed.code).toBe(0);
  expect(fixed.stdout).toMatch(/run 2 \(incremental\) succeeded: /);
});

test('a run in which every record failed is a failed run and a failed workflow, and `ebb run --wait` exits 1', async () => {
  engine = await startEngine({
    generated: 0,
    syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`, '\n    mode: update'),
  });
  const sync = `sf-${engine.suffix}`;

  // Mode update never creates: none of the four Accounts exists, so every record fails NOT_FOUND.
  const cli = await ebb('run', sync, '--wait');
  expect(cli.code).toBe(1);
  expect(cli.stdout).toMatch(/run 1 \(incremental\) failed: /);
  const status = await engine.status(sync);
  expect(status.lastRun).toMatchObject({ status: 'failed', added: 4, succeeded: 0, failed: 4, invalid: 0 });
  expect(status.lastRun?.error).toMatch(/every record of run 1 failed \(4\)/);
  addsUp(status.lastRun as RunSummary);
  const run = await engine.client.workflow.getHandle(`sync/${sync}/run/1`).describe();
  expect(run.status.name).toBe('FAILED');
  const runs = JSON.parse((await ebb('runs', sync, '--json')).stdout) as Array<Record<string, unknown>>;
  expect(runs[0]).toMatchObject({ status: 'failed', failed: 4 });
});
