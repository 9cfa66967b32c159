/**
 * Scale-out: two `ebb worker --queues ...` processes serve one destination's queue. The server-side
 * rate limit of that queue holds across both, and killing one of them mid-run loses and doubles
 * nothing (invariants 1 and 2).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deliveryTaskQueue } from '../activities/engine-context';
import { requestRun, waitForRequest } from '../cli/sync-control';
import { stopProcess } from '../sandbox/temporal-dev-server';
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 196;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;
const BATCH_SIZE = 5;
/** Requests per second the salesforce destination allows; each delivered batch is one upsert request. */
const RATE = 5;
/**
 * The server splits a queue's rate over its read partitions (4 unless the cluster is configured
 * otherwise), each a token bucket of rate RATE/4 holding ceil(RATE/4) tokens (Temporal's matching
 * rateLimitManager). So any T seconds dispatch at most RATE * T plus one full bucket per partition.
 */
const PARTITIONS = 4;
const BURST = PARTITIONS * Math.ceil(RATE / PARTITIONS);

let engine: EngineHarness;
const workers: ChildProcess[] = [];

function startWorkerProcess(name: string, queues: string): ChildProcess {
  const log = fs.openSync(path.join(engine.dir, `${name}.log`), 'a');
  const child = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'worker', '--queues', queues],
    { env: { ...process.env, ...engine.env }, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  workers.push(child);
  return child;
}

async function activityPollers(taskQueue: string): Promise<string[]> {
  const response = await engine.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
  });
  return (response.pollers ?? []).map((poller) => poller.identity ?? '');
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function deliveredBatches(sync: string): Promise<number> {
  const row = await engine.store.db
    .selectFrom('batches')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('sync_id', '=', sync)
    .where('delivered_at', 'is not', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The most upsert requests seen in any window of `windowMs`, from (time, running count) samples. */
function maxInWindow(samples: ReadonlyArray<{ at: number; upserts: number }>, windowMs: number): number {
  let max = 0;
  let start = 0;
  for (const end of samples) {
    while (end.at - (samples[start] as { at: number }).at > windowMs) start++;
    max = Math.max(max, end.upserts - (samples[start] as { upserts: number }).upserts);
  }
  return max;
}

/** Identities of the workers that ran each deliverBatch attempt, over every run of the run workflow. */
async function deliveryIdentities(workflowId: string): Promise<string[]> {
  const identities: string[] = [];
  for await (const execution of engine.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await engine.client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    for (const event of history.events ?? []) {
      const identity = event.activityTaskStartedEventAttributes?.identity;
      if (identity) identities.push(identity);
    }
  }
  return identities;
}

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    workers: false,
    // Each worker alone could send 2 / 0.1 s = 20 requests/s: only the server's queue limit holds them to RATE.
    salesforce: { faults: { latencyMs: 100 } },
    salesforceLimits: `{ batchSize: ${BATCH_SIZE}, maxConcurrency: 2, requestsPerSecond: ${RATE} }`,
    syncsYaml: ({ suffix }) =>
      salesforceSyncYaml(`sf-${suffix}`, { mapping: '{ name: Name, health: Health_Score__c }' }),
  });
});

afterEach(async () => {
  for (const w of workers.splice(0)) await stopProcess(w);
  await engine.stop();
});

test('two workers on one destination queue keep its rate limit, and killing one mid-run loses and doubles nothing', async () => {
  const sync = `sf-${engine.suffix}`;
  const salesforceQueue = deliveryTaskQueue(engine.taskQueue, 'salesforce');
  startWorkerProcess('engine-and-salesforce', 'engine,salesforce');
  const second = startWorkerProcess('salesforce-only', 'salesforce');
  await eventually('both workers polling the salesforce queue', async () => {
    const pollers = await activityPollers(salesforceQueue);
    return pollers.some((identity) => identity.startsWith(`${second.pid}@`)) && pollers.length >= 2;
  });

  const samples: Array<{ at: number; upserts: number }> = [];
  const sample = () => samples.push({ at: performance.now(), upserts: engine.sf.stats().upsertRequests });
  const sampler = setInterval(sample, 20);
  try {
    const { requestSeq } = await requestRun(engine.client, sync, engine.taskQueue, { kind: 'incremental' });
    await eventually(
      'a third of the batches delivered',
      async () => (await deliveredBatches(sync)) >= TOTAL / BATCH_SIZE / 3,
    );
    second.kill('SIGKILL');
    expect(engine.sf.records('Account').length).toBeLessThan(TOTAL);
    const status = await waitForRequest(engine.client, sync, requestSeq, () => undefined);
    sample();

    expect(status.lastRun).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
    const accounts = engine.sf.records('Account');
    expect(accounts).toHaveLength(TOTAL);
    expect(new Set(accounts.map((a) => a.External_Id__c)).size).toBe(TOTAL);
    const results = await engine.store.listRecordResults(sync, { runNumber: status.lastRun?.runNumber });
    expect(results).toHaveLength(TOTAL);
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);

    const identities = await deliveryIdentities(`sync/${sync}/run/${status.lastRun?.runNumber}`);
    const byKilled = identities.filter((identity) => identity.startsWith(`${second.pid}@`)).length;
    expect(byKilled).toBeGreaterThan(0);

    const busiest = [1, 2, 3, 5].map((seconds) => ({ seconds, upserts: maxInWindow(samples, seconds * 1000) }));
    process.stdout.write(
      `[multi-worker] ${engine.sf.stats().upsertRequests} upserts (${byKilled} attempts by the killed worker); ` +
        `most in any window: ${busiest.map((w) => `${w.upserts} in ${w.seconds} s`).join(', ')}; limit ${RATE}/s\n`,
    );
    for (const window of busiest)
      expect({ ...window, withinLimit: window.upserts <= RATE * window.seconds + BURST }).toMatchObject({
        withinLimit: true,
      });
    // Unlimited, the two workers (2 requests in flight each, 0.1 s apiece) would send all 40 in about a second.
    const sending = samples.filter((s) => s.upserts > 0);
    const firstToLast = ((sending.at(-1)?.at ?? 0) - (sending[0]?.at ?? 0)) / 1000;
    expect(firstToLast).toBeGreaterThanOrEqual((TOTAL / BATCH_SIZE - BURST) / RATE);
  } finally {
    clearInterval(sampler);
  }
}, 120_000);
