/**
 * Warehouse trouble during a run: what is transient is retried by Temporal until it passes, what is
 * not fails the run at once with the warehouse's own message and the source's name.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { historiesText, startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const sfSync = (id: string) => salesforceSyncYaml(id, { mapping: '{ name: Name, health: Health_Score__c }' });

let engine: EngineHarness;
afterEach(async () => {
  await engine?.stop();
});

/** Another process opens the DuckDB file read-write, which locks every other process out, until `release`. */
async function lockDuckDbFile(file: string): Promise<{ release: () => Promise<void> }> {
  const script = `require('@duckdb/node-api').DuckDBInstance.create(${JSON.stringify(file)}).then((db) => {
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => { db.closeSync(); process.exit(0); });
  });`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: path.join(__dirname, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the locking process exited with ${code}`)));
  });
  return {
    release: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.write('go\n');
      await exited;
    },
  };
}

test('a DuckDB file another process is writing is retried until it is free, naming the file, and the run then delivers', async () => {
  engine = await startEngine({ generated: 10, syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`) });
  const sync = `sf-${engine.suffix}`;
  const lock = await lockDuckDbFile(engine.warehouse);

  const running = engine.run(sync);
  // Long enough for the plan to have failed on the lock and been retried at least once.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  expect(engine.sf.records('Account')).toHaveLength(0);
  await lock.release();

  expect(await running).toMatchObject({ status: 'succeeded', added: 14, succeeded: 14 });
  const history = await historiesText(engine.client, sync, [1]);
  expect(history).toContain('TransientSourceError');
  expect(history).toContain(`Could not open DuckDB file ${engine.warehouse} (sources.warehouse.path)`);
  expect(history).not.toContain('"type":"ConfigError"');
});

test('a missing DuckDB file fails the run at once, naming the file and its config key, not ebb.yaml', async () => {
  engine = await startEngine({ generated: 0, syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`) });
  const sync = `sf-${engine.suffix}`;
  fs.rmSync(engine.warehouse);

  const run = await engine.run(sync);
  expect(run.status).toBe('failed');
  expect(run.error).toContain(`SourceError: DuckDB file not found: ${engine.warehouse} (sources.warehouse.path)`);
  expect(run.error).not.toContain('ebb.yaml');
});
