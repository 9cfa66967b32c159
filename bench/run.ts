/**
 * `npm run bench [-- --rows N] [--latency-ms MS] [--json]`: ebb against a naive baseline, both measured
 * in this run against the same warehouse and the same Salesforce sandbox. See bench/README.md.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { printJson } from '../cli/output';
import { quietTemporalLogs } from '../cli/runtime-logging';
import { demoAccounts, SEED_ACCOUNTS, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { PLAN_SYNC_IDS, startBenchEnvironment, SYNC_ID, type BenchEnvironment } from './bench-environment';
import { printReport, type BenchResults, type Measurement, type MemoryFigure } from './bench-report';
import { BenchRunError, planDryRun, runEbb } from './ebb-runs';
import { measurePeakMemory, type MemoryPeak } from './memory-sampler';
import { naiveSync } from './naive-baseline';

export class BenchOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

interface BenchOptions {
  rows: number;
  latencyMs: number;
  json: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: process.env.EBB_BENCH_ROWS ?? '5000' },
      'latency-ms': { type: 'string', default: process.env.EBB_BENCH_LATENCY_MS ?? '10' },
      json: { type: 'boolean', default: false },
    },
  });
  const rows = Number(values.rows);
  const latencyMs = Number(values['latency-ms']);
  if (!Number.isInteger(rows) || rows < 100)
    throw new BenchOptionsError(
      `--rows must be a whole number of at least 100 (1% of it is changed), got ${values.rows}`,
    );
  if (!Number.isInteger(latencyMs) || latencyMs < 0)
    throw new BenchOptionsError(`--latency-ms must be a whole number of milliseconds, got ${values['latency-ms']}`);
  return { rows, latencyMs, json: values.json };
}

const progress = (text: string) => process.stderr.write(`${text}\n`);
const MB = 1024 * 1024;

// Heap growth means something only from a collected heap; `npm run bench` cannot pass --expose-gc through tsx.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

async function measure(env: BenchEnvironment, work: () => Promise<number>): Promise<Measurement> {
  const before = env.salesforce.stats();
  const started = performance.now();
  const records = await work();
  const seconds = (performance.now() - started) / 1000;
  const after = env.salesforce.stats();
  return {
    seconds,
    records,
    apiRequests: after.total - before.total,
    upsertRequests: after.upsertRequests - before.upsertRequests,
  };
}

async function memoryOf(phase: string, work: () => Promise<number>): Promise<MemoryFigure> {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const { result: rows, peak }: { result: number; peak: MemoryPeak } = await measurePeakMemory(work);
  return {
    phase,
    rows,
    peakRssMb: peak.rssBytes / MB,
    peakHeapMb: peak.heapUsedBytes / MB,
    heapGrowthMb: (peak.heapUsedBytes - heapBefore) / MB,
  };
}

function expectSent(what: string, measurement: Measurement, expected: number): void {
  if (measurement.records !== expected)
    throw new BenchRunError(`${what} sent ${measurement.records} records where ${expected} were expected`);
}

async function runScenarios(env: BenchEnvironment, options: BenchOptions): Promise<BenchResults> {
  const { rows } = options;
  const naiveTarget = {
    warehouse: env.warehouse,
    loginUrl: env.salesforce.url,
    clientId: env.salesforce.clientId,
    clientSecret: env.salesforce.clientSecret,
    externalIdPrefix: 'naive-',
  };
  const ebbSent = async (kind: 'incremental' = 'incremental') => {
    const run = await runEbb(env, SYNC_ID, kind);
    return run.succeeded;
  };
  const naiveSent = () => naiveSync(naiveTarget);

  progress(`1/4 initial sync of ${rows} rows: ebb ...`);
  let ebbInitial: Measurement | undefined;
  const initialMemory = await memoryOf('ebb initial sync (plan + delivery)', async () => {
    ebbInitial = await measure(env, ebbSent);
    return rows;
  });
  if (!ebbInitial) throw new BenchRunError('the initial ebb run was not measured');
  expectSent('ebb initial sync', ebbInitial, rows);
  progress('1/4 initial sync: naive baseline ...');
  const naiveInitial = await measure(env, naiveSent);

  const changed = demoAccounts(rows - SEED_ACCOUNTS.length)
    .slice(SEED_ACCOUNTS.length, SEED_ACCOUNTS.length + Math.floor(rows / 100))
    .map((a) => ({ account_id: a.account_id, health: (a.health + 1) % 101 }));
  await updateDemoAccounts(env.warehouse, changed);
  progress(`2/4 re-sync after changing ${changed.length} rows: ebb ...`);
  const ebbIncremental = await measure(env, ebbSent);
  expectSent('ebb incremental sync', ebbIncremental, changed.length);
  progress('2/4 re-sync: naive baseline ...');
  const naiveIncremental = await measure(env, naiveSent);

  progress('3/4 re-run with nothing changed: ebb ...');
  const noChange = await measure(env, ebbSent);
  expectSent('ebb re-run without changes', noChange, 0);

  progress(`4/4 memory of ebb's dry-run plan at ${rows} and ${4 * rows} rows ...`);
  const planOf = async (syncId: string) => {
    const plan = await planDryRun(env, syncId);
    return plan.added + plan.changed + plan.unchanged;
  };
  const planSingle = await memoryOf('ebb plan (dry run)', () => planOf(PLAN_SYNC_IDS.single));
  const planQuadruple = await memoryOf('ebb plan (dry run)', () => planOf(PLAN_SYNC_IDS.quadruple));
  const { window } = await planDryRun(env, PLAN_SYNC_IDS.single);

  return {
    rows,
    latencyMs: options.latencyMs,
    limits: env.deliveryLimits,
    window,
    initial: { ebb: ebbInitial, naive: naiveInitial },
    incremental: { changedRows: changed.length, ebb: ebbIncremental, naive: naiveIncremental },
    noChange: { ebb: noChange },
    memory: [initialMemory, planSingle, planQuadruple],
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  quietTemporalLogs();
  progress(
    `starting a Temporal dev server, the Salesforce sandbox (${options.latencyMs} ms per request) and ebb's workers ...`,
  );
  const env = await startBenchEnvironment(options);
  try {
    const results = await runScenarios(env, options);
    if (options.json) printJson(results);
    else printReport(results);
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const known = err instanceof BenchOptionsError || err instanceof BenchRunError;
    process.stderr.write(
      `bench failed: ${known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
