/**
 * Invariant 2 under many crashes: a sync of a few thousand rows survives more than twenty SIGKILLs
 * of its worker process and restarts of the Temporal server (with its SQLite database kept), and
 * ends with the destination equal to the model, nothing lost, nothing doubled, one result per
 * record per run, and `ebb verify` finding no drift.
 *
 * The kills come at seeded moments: set EBB_CRASH_SEED to replay a failing schedule. The suite runs
 * its own dev server (on a fixed port and database file, so it can restart it); the shared server of
 * global setup is left alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestRun } from '../cli/sync-control';
import { freePort, startDevServer, stopProcess, type DevServer } from '../sandbox/temporal-dev-server';
import { demoAccounts, SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { controllerWorkflowId, fullResyncSignal, statusQuery } from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';
import { mulberry32 } from '../sandbox/seeded-random';

const SEED = Number(process.env.EBB_CRASH_SEED ?? 42);
const GENERATED = 2996;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;
const KILLS = 22;
const SERVER_RESTARTS = 2;
const ROOT = path.resolve(__dirname, '..');
const LOG_DIR = path.join(ROOT, '.test-logs', `crash-suite-${SEED}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it answers true; errors (the server restarting) count as "not yet". */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what} (seed ${SEED}; logs in ${LOG_DIR})` +
          (lastError ? `; last error: ${(lastError as Error).message}` : ''),
      );
    await sleep(200);
  }
}

let server: DevServer;
let serverDir: string;
let port: number;
let engine: EngineHarness;
const savedAddress = process.env.EBB_TEST_TEMPORAL_ADDRESS;

const serverOptions = () => ({
  dbFilename: path.join(serverDir, 'temporal.db'),
  port,
  logFile: path.join(LOG_DIR, 'temporal-dev-server.log'),
  // As in global setup: small enough that the run and its controller continue as new under the crashes.
  dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 },
});

interface WorkerProcess {
  child: ChildProcess;
  log: string;
}

let worker: WorkerProcess | null = null;
let workersStarted = 0;
let unexpectedExits = 0;

function spawnWorker(): WorkerProcess {
  workersStarted++;
  const log = path.join(LOG_DIR, `worker-${workersStarted}.log`);
  const fd = fs.openSync(log, 'w');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ebb.js'), '--config', engine.configFile, 'worker'], {
    env: { ...process.env, ...engine.env },
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  return { child, log };
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/** Starts a worker process and waits until it serves every queue; a worker that dies on its own is replaced. */
async function startReadyWorker(): Promise<WorkerProcess> {
  for (let attempt = 1; ; attempt++) {
    const started = spawnWorker();
    worker = started;
    const deadline = Date.now() + 60_000;
    while (!exited(started.child) && !fs.readFileSync(started.log, 'utf8').includes('worker on')) {
      if (Date.now() > deadline) throw new Error(`worker ${started.log} not ready after 60 s (seed ${SEED})`);
      await sleep(100);
    }
    if (!exited(started.child)) return started;
    unexpectedExits++;
    if (attempt >= 5) throw new Error(`worker exited before it was ready 5 times; see ${started.log} (seed ${SEED})`);
  }
}

/** SIGKILLs the worker; false when it had already exited on its own. */
async function killWorker(target: WorkerProcess): Promise<boolean> {
  if (exited(target.child)) {
    unexpectedExits++;
    return false;
  }
  const gone = new Promise((resolve) => target.child.once('exit', resolve));
  target.child.kill('SIGKILL');
  await gone;
  return true;
}

async function restartServer(random: () => number): Promise<void> {
  await server.stop();
  await sleep(500 + random() * 2000);
  server = await startDevServer(serverOptions());
}

/** Runs the ebb CLI asynchronously: the Salesforce sandbox it talks to lives in this process. */
async function runEbb(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ebb.js'), '--config', engine.configFile, ...args], {
    env: { ...process.env, ...engine.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  fs.rmSync(LOG_DIR, { recursive: true, force: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  serverDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-crash-temporal-'));
  port = await freePort();
  server = await startDevServer(serverOptions());
  // startEngine and the worker processes connect to the address this names.
  process.env.EBB_TEST_TEMPORAL_ADDRESS = server.address;
  engine = await startEngine({
    generated: GENERATED,
    workers: false,
    // Each upsert takes a while, so kills land with batches in flight.
    salesforce: { faults: { latencyMs: 150 } },
    salesforceLimits: '{ batchSize: 50, maxConcurrency: 4, requestsPerSecond: 50 }',
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
    // Every run's results are checked at the end, so none may be pruned by a later full resync.
    retention: '{ resultsPerRecord: 100 }',
  });
}, 120_000);

afterAll(async () => {
  if (worker) await stopProcess(worker.child);
  await engine?.stop();
  await server?.stop();
  fs.rmSync(serverDir, { recursive: true, force: true });
  if (savedAddress === undefined) delete process.env.EBB_TEST_TEMPORAL_ADDRESS;
  else process.env.EBB_TEST_TEMPORAL_ADDRESS = savedAddress;
}, 60_000);

test('a sync killed more than twenty times, with its Temporal server restarted twice, ends with every record delivered exactly once', async () => {
  const sync = `sf-${engine.suffix}`;
  const random = mulberry32(SEED);
  // Which kills are preceded by a server restart: two distinct ones, neither first nor last.
  const restartBefore = new Set<number>();
  while (restartBefore.size < SERVER_RESTARTS) restartBefore.add(2 + Math.floor(random() * (KILLS - 3)));
  const schedule: string[] = [];
  const startedAt = Date.now();

  let current = await startReadyWorker();
  await requestRun(engine.client, sync, engine.taskQueue, { kind: 'incremental' });
  let requested = 1;

  // While kills remain and the last run is over, ask for a full resync so the kills keep landing mid-run.
  // A kill stalls the batches it interrupts until their heartbeat timeout (20 s), plan's (30 s) or
  // finish's (1 min), so how many runs the kills span depends on where they land.
  const keepBusy = async () => {
    const runs = await engine.store.listRuns(sync, 1000);
    if (runs.length < requested || runs.some((r) => r.finished_at === null)) return;
    await engine.client.workflow.getHandle(controllerWorkflowId(sync)).signal(fullResyncSignal, {});
    requested++;
    schedule.push(`full resync ${requested} requested`);
  };

  let serverRestarts = 0;
  let kills = 0;
  try {
    while (kills < KILLS) {
      const kill = kills + 1;
      if (restartBefore.has(kill) && serverRestarts < SERVER_RESTARTS) {
        const before = Math.round(random() * 3000);
        await sleep(before);
        await restartServer(random);
        serverRestarts++;
        schedule.push(`server restart after ${before} ms`);
      }
      await keepBusy().catch(() => undefined);
      const delay = Math.round(300 + random() * 2700);
      await sleep(delay);
      const landed = engine.sf.stats().recordsUpserted;
      if (await killWorker(current)) {
        kills++;
        schedule.push(`kill ${kill} after ${delay} ms (${landed} records upserted)`);
      } else schedule.push(`worker found dead after ${delay} ms`);
      current = await startReadyWorker();
    }
  } finally {
    // Printed even when the loop fails, so the schedule can be replayed with EBB_CRASH_SEED.
    process.stdout.write(
      `[crash-suite] seed ${SEED}: ${schedule.join('; ')} (${Math.round((Date.now() - startedAt) / 1000)} s)\n`,
    );
  }
  const finalStart = Date.now();

  // The final worker runs undisturbed until every requested run is done and the controller is idle.
  const handle = engine.client.workflow.getHandle(controllerWorkflowId(sync));
  await eventually(
    'every requested run to finish after the last kill',
    async () => {
      if (exited(current.child)) current = await startReadyWorker();
      const runs = await engine.store.listRuns(sync, 1000);
      if (runs.length < requested || runs.some((r) => r.finished_at === null)) return false;
      const status = await handle.query(statusQuery);
      return status.currentRun === null && status.pending === null && status.completedThroughSeq === status.requestSeq;
    },
    150_000,
  );
  await stopProcess(current.child);
  worker = null;
  const finalSeconds = Math.round((Date.now() - finalStart) / 1000);

  // Every run succeeded and holds exactly one result per record.
  const runs = (await engine.store.listRuns(sync, 1000)).reverse();
  expect(runs.map((r) => ({ run: r.run_number, status: r.status, failed: r.failed }))).toEqual(
    runs.map((r) => ({ run: r.run_number, status: 'succeeded', failed: 0 })),
  );
  for (const run of runs) {
    const results = await engine.store.listRecordResults(sync, { runNumber: run.run_number, limit: TOTAL * 2 });
    const keys = new Set(results.map((r) => r.key));
    expect({ run: run.run_number, results: results.length, keys: keys.size }).toEqual({
      run: run.run_number,
      results: TOTAL,
      keys: TOTAL,
    });
    expect(results.filter((r) => r.status !== 'succeeded')).toEqual([]);
  }

  // The destination equals the model: every account once, with its mapped values.
  const accounts = engine.sf.records('Account');
  const byExternalId = new Map<string, Array<Record<string, unknown>>>();
  for (const account of accounts) {
    const id = String(account.External_Id__c);
    byExternalId.set(id, [...(byExternalId.get(id) ?? []), account]);
  }
  const duplicated = [...byExternalId].filter(([, found]) => found.length > 1).map(([id]) => id);
  const model = demoAccounts(GENERATED);
  const lost: string[] = [];
  const wrong: string[] = [];
  for (const row of model) {
    const found = byExternalId.get(row.account_id)?.[0];
    if (!found) lost.push(row.account_id);
    else if (
      found.Name !== row.name ||
      Number(found.Health_Score__c) !== row.health ||
      found.Segment__c !== row.segment ||
      Number(found.MRR__c) !== row.mrr
    )
      wrong.push(`${row.account_id}: ${JSON.stringify(found)}`);
  }
  expect({ lost, duplicated, wrong: wrong.slice(0, 5) }).toEqual({ lost: [], duplicated: [], wrong: [] });
  expect(accounts).toHaveLength(TOTAL);
  // Each external id was created once; every later write of it was an update.
  expect(engine.sf.stats().recordsCreated).toBe(TOTAL);
  const attempts = engine.sf.upsertAttempts('Account');
  const resent = Object.values(attempts).filter((n) => n > runs.length).length;

  // ebb verify reads every delivered record back and finds no drift.
  engine.sf.injectFaults({ latencyMs: 0 });
  const verify = await runEbb(['verify', sync, '--json', '--sample', String(TOTAL)], 60_000);
  expect({ exit: verify.code, stderr: verify.stderr }).toEqual({ exit: 0, stderr: '' });
  const report = JSON.parse(verify.stdout) as { drift: boolean; verified: number; matching: number };
  expect(report).toMatchObject({ drift: false, verified: TOTAL, matching: TOTAL });

  process.stdout.write(
    `crash suite (seed ${SEED}): ${kills} kills, ${serverRestarts} server restarts, ${runs.length} runs of ${TOTAL} records: ` +
      `${lost.length} lost, ${duplicated.length} duplicated, ${resent} records re-sent after a crash, ` +
      `${unexpectedExits} workers exited on their own, verify: ${report.matching}/${report.verified} matching, no drift ` +
      `(${Math.round((Date.now() - startedAt) / 1000)} s, ${finalSeconds} s of them for the final clean run)\n`,
  );
}, 300_000);
