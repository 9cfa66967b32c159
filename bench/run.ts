/**
 * `npm run bench [-- --rows N] [--large] [--cases a,b] [--json] [--write-readme]`: ebb against the
 * script it replaces and against the sandbox's own ceiling, all measured in this run on the same
 * sandbox. Writes bench/results/latest.json. See bench/README.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { printJson } from '../cli/output';
import { quietTemporalLogs } from '../cli/runtime-logging';
import type { RunKind } from '../workflows/definitions';
import { runWorkflowId } from '../workflows/definitions';
import type { BaselineTarget } from './baseline-scripts';
import {
  emptyOrg,
  startBenchEnvironment,
  startGroup,
  type BenchEnvironment,
  type GroupEnvironment,
} from './bench-environment';
import {
  mergeResults,
  printReport,
  readResults,
  thisMachine,
  writeReadmeTable,
  type BenchFile,
  type CaseKind,
  type CaseResult,
} from './bench-report';
import { changeOnePercent } from './bench-warehouse';
import { runClient, type ClientJob, type ClientResult } from './client-runs';
import { BenchRunError, runEbb } from './ebb-runs';
import { runHistoryStats } from './history-stats';
import { ProcessUsage } from './process-usage';

export class BenchOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const RESULTS_FILE = path.join(__dirname, 'results', 'latest.json');
const README = path.join(__dirname, 'README.md');

const LARGE_ROWS = 1_000_000;
/** The one-record-per-request script runs only where it finishes in seconds. */
const PER_RECORD_MAX_ROWS = 5000;

interface CaseSpec {
  name: string;
  kind: CaseKind;
  rows: number;
  latencyMs: number;
}

const sizeLabel = (rows: number) =>
  rows % 1_000_000 === 0 ? `${rows / 1_000_000}m` : rows % 1000 === 0 ? `${rows / 1000}k` : String(rows);
const caseName = (kind: CaseKind, rows: number, latencyMs: number) => `${kind}-${sizeLabel(rows)}-${latencyMs}ms`;
const spec = (kind: CaseKind, rows: number, latencyMs: number): CaseSpec => ({
  name: caseName(kind, rows, latencyMs),
  kind,
  rows,
  latencyMs,
});

function parseSize(text: string): number {
  const match = /^(\d+)([km]?)$/.exec(text);
  if (!match) return NaN;
  return Number(match[1]) * (match[2] === 'm' ? 1_000_000 : match[2] === 'k' ? 1000 : 1);
}

function parseCase(name: string): CaseSpec {
  const match = /^(cold|no-change|changed-1pct)-(\d+[km]?)-(\d+)ms$/.exec(name);
  const rows = match ? parseSize(match[2] as string) : NaN;
  if (!match || !(rows >= 100))
    throw new BenchOptionsError(
      `unknown case "${name}": write <cold|no-change|changed-1pct>-<rows, e.g. 5k, 100k, 1m, at least 100>-<latency>ms, as in cold-100k-0ms`,
    );
  return spec(match[1] as CaseKind, rows, Number(match[3]));
}

/** Cold at 0 and 100 ms, no change and 1% changed at 0 ms; at a million rows the 0 ms cases only. */
function defaultCases(rows: number): CaseSpec[] {
  return [
    spec('cold', rows, 0),
    ...(rows < LARGE_ROWS ? [spec('cold', rows, 100)] : []),
    spec('no-change', rows, 0),
    spec('changed-1pct', rows, 0),
  ];
}

interface BenchOptions {
  cases: CaseSpec[];
  json: boolean;
  writeReadme: boolean;
  readmeOnly: boolean;
  /** Where the figures are merged into (default bench/results/latest.json) and the README written. */
  resultsFile: string;
  readme: string;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: process.env.EBB_BENCH_ROWS ?? '5000' },
      large: { type: 'boolean', default: false },
      cases: { type: 'string' },
      json: { type: 'boolean', default: false },
      'write-readme': { type: 'boolean', default: false },
      'readme-only': { type: 'boolean', default: false },
      results: { type: 'string', default: RESULTS_FILE },
      readme: { type: 'string', default: README },
    },
  });
  const rows = parseSize(values.rows);
  if (!(rows >= 100))
    throw new BenchOptionsError(
      `--rows must be a whole number of at least 100 (1% of it is changed), got ${values.rows}`,
    );
  const cases = values.cases
    ? values.cases.split(',').map((name) => parseCase(name.trim()))
    : [...defaultCases(rows), ...(values.large && rows !== LARGE_ROWS ? defaultCases(LARGE_ROWS) : [])];
  return {
    cases,
    json: values.json,
    writeReadme: values['write-readme'],
    readmeOnly: values['readme-only'],
    resultsFile: path.resolve(values.results),
    readme: path.resolve(values.readme),
  };
}

const progress = (text: string) => process.stderr.write(`${text}\n`);

function fileMb(file: string): number {
  return (
    [file, `${file}-wal`, `${file}-shm`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0) /
    (1024 * 1024)
  );
}

interface GroupContext {
  env: BenchEnvironment;
  group: GroupEnvironment;
  rows: number;
  latencyMs: number;
  runNumber: number;
}

type EbbFigures = Pick<
  CaseResult,
  | 'ebbRecords'
  | 'ebbSeconds'
  | 'ebbRecordsPerSec'
  | 'requests'
  | 'upsertRequests'
  | 'rejectedRequests'
  | 'peakRssMb'
  | 'workerCpuSeconds'
  | 'sandboxCpuSeconds'
  | 'temporalCpuSeconds'
  | 'historyEvents'
  | 'activities'
  | 'historyEventsPerActivity'
  | 'activitiesPer1000Records'
  | 'stateStoreMb'
>;

async function measureEbb(ctx: GroupContext, what: string, expected: number, kind: RunKind): Promise<EbbFigures> {
  const { env, group } = ctx;
  const worker = new ProcessUsage(group.worker.pid);
  const temporal = new ProcessUsage(env.server.process.pid as number);
  emptyOrg(env, ctx.latencyMs);
  const before = env.salesforce.stats();
  const driverCpu = process.cpuUsage();
  worker.start();
  temporal.start();
  const started = performance.now();
  const runNumber = ++ctx.runNumber;
  const summary = await runEbb(env.client, { syncId: group.syncId, taskQueue: group.taskQueue, runNumber }, kind);
  const seconds = (performance.now() - started) / 1000;
  const workerUsage = worker.stop();
  const temporalUsage = temporal.stop();
  const cpu = process.cpuUsage(driverCpu);
  const after = env.salesforce.stats();
  if (summary.succeeded !== expected)
    throw new BenchRunError(`ebb's ${what} sent ${summary.succeeded} records where ${expected} were expected`);
  const history = await runHistoryStats(env.client, runWorkflowId(group.syncId, runNumber));
  return {
    ebbRecords: summary.succeeded,
    ebbSeconds: seconds,
    ebbRecordsPerSec: summary.succeeded / seconds,
    requests: after.total - before.total,
    upsertRequests: after.upsertRequests - before.upsertRequests,
    rejectedRequests: after.rejectedRequests - before.rejectedRequests,
    peakRssMb: workerUsage.peakRssMb,
    workerCpuSeconds: workerUsage.cpuSeconds,
    sandboxCpuSeconds: (cpu.user + cpu.system) / 1e6,
    temporalCpuSeconds: temporalUsage.cpuSeconds,
    historyEvents: history.events,
    activities: history.activities,
    historyEventsPerActivity: history.events / history.activities,
    activitiesPer1000Records: summary.succeeded > 0 ? (history.activities * 1000) / summary.succeeded : null,
    stateStoreMb: fileMb(group.stateFile),
  };
}

async function measureClient(ctx: GroupContext, job: Omit<ClientJob, 'target'>, prefix: string) {
  const target: BaselineTarget = {
    warehouse: ctx.group.warehouse,
    loginUrl: ctx.env.salesforce.url,
    clientId: ctx.env.salesforce.clientId,
    clientSecret: ctx.env.salesforce.clientSecret,
    externalIdPrefix: prefix,
  };
  emptyOrg(ctx.env, ctx.latencyMs);
  const before = ctx.env.salesforce.stats();
  const result: ClientResult = await runClient({ ...job, target });
  const requests = ctx.env.salesforce.stats().total - before.total;
  if (result.records !== ctx.rows)
    throw new BenchRunError(`the ${job.kind} client sent ${result.records} records where ${ctx.rows} were expected`);
  return { ...result, requests };
}

async function measureCase(ctx: GroupContext, kind: CaseKind, expected: number): Promise<CaseResult> {
  const name = caseName(kind, ctx.rows, ctx.latencyMs);
  const { limits } = ctx.group.worker;
  progress(`${name}: ebb ...`);
  const ebb = await measureEbb(ctx, name, expected, 'incremental');
  progress(`${name}: the 200-per-request script ...`);
  const baseline = await measureClient(ctx, { kind: 'collections' }, 'script-');
  const result: CaseResult = {
    name,
    kind,
    rows: ctx.rows,
    latencyMs: ctx.latencyMs,
    measuredAt: new Date().toISOString(),
    ...ebb,
    baselineRecords: baseline.records,
    baselineSeconds: baseline.seconds,
    baselineRecordsPerSec: baseline.records / baseline.seconds,
    ratio: baseline.seconds / ebb.ebbSeconds,
    baselineRequests: baseline.requests,
    baselineCpuSeconds: baseline.cpuSeconds,
    baselinePeakRssMb: baseline.peakRssMb,
    perRecordRecordsPerSec: null,
    ceilingSequentialRecordsPerSec: null,
    ceilingConcurrentRecordsPerSec: null,
    ceilingConcurrency: null,
    limits,
  };
  if (kind !== 'cold') return result;
  if (ctx.rows <= PER_RECORD_MAX_ROWS && ctx.latencyMs === 0) {
    progress(`${name}: the one-record-per-request script ...`);
    const perRecord = await measureClient(ctx, { kind: 'per-record' }, 'per-record-');
    result.perRecordRecordsPerSec = perRecord.records / perRecord.seconds;
  }
  progress(`${name}: the sandbox's ceiling, 1 and ${limits.maxConcurrency} requests in flight ...`);
  const sequential = await measureClient(
    ctx,
    { kind: 'ceiling', concurrency: 1, batchSize: limits.batchSize },
    'ceiling-1-',
  );
  const concurrent = await measureClient(
    ctx,
    { kind: 'ceiling', concurrency: limits.maxConcurrency, batchSize: limits.batchSize },
    `ceiling-${limits.maxConcurrency}-`,
  );
  result.ceilingSequentialRecordsPerSec = sequential.records / sequential.seconds;
  result.ceilingConcurrentRecordsPerSec = concurrent.records / concurrent.seconds;
  result.ceilingConcurrency = limits.maxConcurrency;
  return result;
}

/**
 * The cases of one size and latency, on one fresh state store: the cold sync first (measured even when
 * not asked for, as the others need it), then a re-run with nothing changed, then one after 1% changed.
 */
async function runGroup(env: BenchEnvironment, specs: CaseSpec[]): Promise<CaseResult[]> {
  const { rows, latencyMs } = specs[0] as CaseSpec;
  const wanted = new Set(specs.map((s) => s.kind));
  const label = `${sizeLabel(rows)}-${latencyMs}ms`;
  progress(`${label}: building a warehouse of ${rows.toLocaleString('en-US')} rows and starting ebb's worker ...`);
  const group = await startGroup(env, { label, rows, latencyMs });
  const ctx: GroupContext = { env, group, rows, latencyMs, runNumber: 0 };
  const results: CaseResult[] = [];
  try {
    const cold = await measureCase(ctx, 'cold', rows);
    if (wanted.has('cold')) results.push(cold);
    if (wanted.has('no-change')) results.push(await measureCase(ctx, 'no-change', 0));
    if (wanted.has('changed-1pct')) {
      const changed = await changeOnePercent(group.warehouse);
      results.push(await measureCase(ctx, 'changed-1pct', changed));
    }
  } finally {
    await group.stop();
  }
  return results;
}

function groupsOf(cases: CaseSpec[]): CaseSpec[][] {
  const groups = new Map<string, CaseSpec[]>();
  for (const c of cases) {
    const key = `${c.rows}/${c.latencyMs}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].sort((a, b) => (a[0] as CaseSpec).rows - (b[0] as CaseSpec).rows);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.readmeOnly) {
    const saved = readResults(options.resultsFile);
    if (!saved) throw new BenchOptionsError(`no ${options.resultsFile} yet: run npm run bench first`);
    await writeReadmeTable(options.readme, saved);
    progress(`wrote the table of ${options.resultsFile} into ${options.readme}`);
    return;
  }
  quietTemporalLogs();
  const machine = thisMachine();
  progress(`cases: ${options.cases.map((c) => c.name).join(', ')}`);
  progress('starting a Temporal dev server and the Salesforce sandbox ...');
  const env = await startBenchEnvironment();
  const cases: CaseResult[] = [];
  try {
    for (const group of groupsOf(options.cases)) cases.push(...(await runGroup(env, group)));
  } finally {
    await env.stop();
  }
  const now: BenchFile = { machine, date: new Date().toISOString(), cases };
  fs.mkdirSync(path.dirname(options.resultsFile), { recursive: true });
  const merged = mergeResults(readResults(options.resultsFile), now);
  fs.writeFileSync(options.resultsFile, `${JSON.stringify(merged, null, 2)}\n`);
  if (options.json) printJson(now);
  else printReport(now);
  progress(`wrote ${options.resultsFile} (${merged.cases.length} cases, ${cases.length} measured now)`);
  if (options.writeReadme) {
    await writeReadmeTable(options.readme, merged);
    progress(`wrote the table into ${options.readme}`);
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
