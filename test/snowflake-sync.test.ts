/**
 * A large Snowflake model end to end: the real snowflake-sdk streams a result that arrives in
 * several downloaded chunks, an `ebb worker` process delivers it to the Salesforce sandbox, and the
 * worker's peak memory stays bounded by chunk and batch size, not by the model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startEngine, type EngineHarness } from './harness/engine';
import { startTestWarehouse, type TestWarehouse } from './harness/warehouses';

const ROWS = 50_000;
const NOTE_BYTES = 4000;

let engine: EngineHarness;
let worker: ChildProcess | undefined;
afterEach(async () => {
  if (process.env.EBB_TEST_DEBUG) fs.copyFileSync(path.join(engine.dir, 'worker.log'), '/tmp/sf-worker.log');
  worker?.kill('SIGKILL');
  await engine?.stop();
});

/** Peak resident memory of a process (Linux VmHWM), in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

async function pollersOf(taskQueue: string): Promise<number> {
  const response = await engine.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // workflow tasks: the engine queue is served once this shows a poller
  });
  return response.pollers?.length ?? 0;
}

const onLinux = process.platform === 'linux' ? test : test.skip;

onLinux(
  'a 50,000-row Snowflake model arriving in many result chunks lands once per row, and the worker never holds the model',
  async () => {
    let warehouse: TestWarehouse | undefined;
    engine = await startEngine({
      workers: false,
      warehouse: async (dir) =>
        (warehouse = await startTestWarehouse('snowflake', dir, { snowflakeRowsPerChunk: 2500 })),
      salesforceLimits: '{ batchSize: 200, maxConcurrency: 4, requestsPerSecond: 500 }',
      extraModelsYaml: `
  many_accounts:
    source: warehouse
    primaryKey: account_id
    sql: select account_id as "account_id", name as "name", health as "health", notes as "notes" from many_accounts`,
      syncsYaml: ({ suffix }) => `
  sf-${suffix}:
    model: many_accounts
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c }
`,
    });
    const sync = `sf-${engine.suffix}`;
    // 4 KB of unmapped notes per row: the model is 200 MB of text, which no worker should hold at once.
    await warehouse?.exec(
      `create table many_accounts as select 'acct-' || lpad(cast(range as varchar), 6, '0') as account_id, ` +
        `'Account ' || range as name, range % 100 as health, repeat('n', ${NOTE_BYTES}) || range as notes from range(${ROWS})`,
    );
    const log = fs.openSync(path.join(engine.dir, 'worker.log'), 'a');
    // A heap limit below the model's size: a worker that held the model would die of it.
    const heapLimitMb = 256;
    worker = spawn(
      process.execPath,
      [
        `--max-old-space-size=${heapLimitMb}`,
        path.join(__dirname, '..', 'bin', 'ebb.js'),
        '--config',
        engine.configFile,
        'worker',
      ],
      {
        env: { ...process.env, ...engine.env },
        stdio: ['ignore', log, log],
      },
    );
    fs.closeSync(log);
    const deadline = Date.now() + 60_000;
    while ((await pollersOf(engine.taskQueue)) === 0) {
      if (Date.now() > deadline)
        throw new Error(`no worker polled: ${fs.readFileSync(path.join(engine.dir, 'worker.log'), 'utf8')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const idle = peakRss(worker.pid as number);

    const run = await engine.run(sync);

    expect(run).toMatchObject({ status: 'succeeded', added: ROWS, succeeded: ROWS, failed: 0 });
    expect(worker.exitCode).toBeNull();
    expect(engine.sf.records('Account')).toHaveLength(ROWS);
    expect(warehouse?.sandbox?.stats().chunkDownloads).toBeGreaterThanOrEqual(ROWS / 2500 - 1);
    const growth = peakRss(worker.pid as number) - idle;
    // The model is ROWS * NOTE_BYTES = 200 MB of text; a chunk of 2,500 rows is 10 MB.
    process.stdout.write(
      `worker peak RSS: ${Math.round(peakRss(worker.pid as number) / 1048576)} MB (+${Math.round(growth / 1048576)} MB during the run)\n`,
    );
    // An idle worker already uses part of its heap (workflow bundle, connections): the model
    // (plus the driver's JSON text of it) could never fit in what is left.
    expect(ROWS * NOTE_BYTES).toBeGreaterThan((heapLimitMb - 100) * 1024 * 1024);
  },
  240_000,
);
