/**
 * Invariant 2: kill the worker process mid-run and start another; the run completes with the
 * destination equal to the model, nothing lost, nothing doubled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requestRun, waitForRequest } from '../cli/sync-control';
import { stopProcess } from '../sandbox/temporal-dev-server';
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 150;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let engine: EngineHarness;
const workers: ChildProcess[] = [];

function startWorkerProcess(name: string): ChildProcess {
  const log = fs.openSync(path.join(engine.dir, `${name}.log`), 'a');
  const child = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'worker'],
    {
      env: { ...process.env, ...engine.env },
      stdio: ['ignore', log, log],
    },
  );
  fs.closeSync(log);
  workers.push(child);
  return child;
}

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    workers: false,
    // Small, slow batches so the kill lands mid-run.
    salesforce: { faults: { latencyMs: 120 } },
    salesforceLimits: '{ batchSize: 5, maxConcurrency: 2, requestsPerSecond: 20 }',
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`sf-${suffix}`, { mapping: '{ name: Name, health: Health_Score__c }' }),
  });
});

afterEach(async () => {
  for (const w of workers.splice(0)) await stopProcess(w);
  await engine.stop();
});

test('killing the worker process mid-run and starting another finishes the run with nothing lost or doubled', async () => {
  const sync = `sf-${engine.suffix}`;
  const first = startWorkerProcess('worker-1');
  const { requestSeq } = await requestRun(engine.client, sync, engine.taskQueue, { kind: 'incremental' });

  const deadline = Date.now() + 90_000;
  for (;;) {
    const delivered = await engine.store.db
      .selectFrom('batches')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sync_id', '=', sync)
      .where('delivered_at', 'is not', null)
      .executeTakeFirst();
    if (Number(delivered?.n ?? 0) >= 3) break;
    if (Date.now() > deadline) throw new Error('the first worker delivered nothing in 90 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  first.kill('SIGKILL');
  const landedAtKill = engine.sf.records('Account').length;
  expect(landedAtKill).toBeLessThan(TOTAL);

  startWorkerProcess('worker-2');
  const status = await waitForRequest(engine.client, sync, requestSeq, () => undefined);

  expect(status.lastRun).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
  const accounts = engine.sf.records('Account');
  expect(accounts).toHaveLength(TOTAL);
  expect(new Set(accounts.map((a) => a.External_Id__c)).size).toBe(TOTAL);
  const results = await engine.store.listRecordResults(sync, { runNumber: status.lastRun?.runNumber });
  expect(results).toHaveLength(TOTAL);
  expect(results.every((r) => r.status === 'succeeded')).toBe(true);
}, 180_000);
