/**
 * The figures of a benchmark run: their shape in bench/results/latest.json, the table printed for
 * people, and the same table written into bench/README.md between its bench-table markers.
 */
import fs from 'node:fs';
import os from 'node:os';
import * as prettier from 'prettier';
import { printTable, say } from '../cli/output';
import { defaultBulkThreshold } from '../connectors/destinations/salesforce-bulk';

export type CaseKind = 'cold' | 'no-change' | 'changed-1pct';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
}

export interface CaseResult {
  name: string;
  kind: CaseKind;
  rows: number;
  latencyMs: number;
  measuredAt: string;
  /** Records ebb sent (rows on a cold sync, the changed rows after a change, 0 when nothing changed). */
  ebbRecords: number;
  ebbSeconds: number;
  ebbRecordsPerSec: number;
  /** The 200-per-request script re-sends every row in every case: it keeps no state. */
  baselineRecords: number;
  baselineSeconds: number;
  baselineRecordsPerSec: number;
  /** Baseline wall time / ebb wall time: above 1, ebb finished the same job sooner (= records/s ratio on a cold sync). */
  ratio: number;
  /** API requests the sandbox answered during ebb's run: token, describe and limits included. */
  requests: number;
  upsertRequests: number;
  baselineRequests: number;
  /** Requests the sandbox answered with an error status during ebb's run (429s included). */
  rejectedRequests: number;
  /** ebb's worker process: peak resident memory and CPU seconds during the case. */
  peakRssMb: number;
  workerCpuSeconds: number;
  baselineCpuSeconds: number;
  baselinePeakRssMb: number;
  /** This process, which serves the sandbox, and the Temporal dev server, during ebb's run. */
  sandboxCpuSeconds: number;
  temporalCpuSeconds: number;
  historyEvents: number;
  activities: number;
  historyEventsPerActivity: number;
  activitiesPer1000Records: number | null;
  /** state.sqlite plus its -wal and -shm after the case. */
  stateStoreMb: number;
  /** Cold cases of up to 5,000 rows at 0 ms only: one record per request. */
  perRecordRecordsPerSec: number | null;
  /** Cold cases only: the tight loop, one request at a time and `ceilingConcurrency` at a time. */
  ceilingSequentialRecordsPerSec: number | null;
  ceilingConcurrentRecordsPerSec: number | null;
  ceilingConcurrency: number | null;
  /** What ebb's worker announced for the Salesforce queue. */
  limits: { maxConcurrency: number; requestsPerSecond?: number; batchSize: number };
}

export interface BenchFile {
  machine: Machine;
  date: string;
  cases: CaseResult[];
}

export function thisMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverage: Number((os.loadavg()[0] ?? 0).toFixed(2)),
  };
}

const KIND_ORDER: Record<CaseKind, number> = { cold: 0, 'no-change': 1, 'changed-1pct': 2 };

/**
 * Cases measured now replace the ones of the same name in `previous`; the others stay, so the default
 * run and a `--rows 100000` run fill one table. Figures from another machine are dropped.
 */
export function mergeResults(previous: BenchFile | null, now: BenchFile): BenchFile {
  const sameMachine =
    previous && previous.machine.cpu === now.machine.cpu && previous.machine.cores === now.machine.cores;
  const measured = new Set(now.cases.map((c) => c.name));
  const kept = sameMachine ? previous.cases.filter((c) => !measured.has(c.name)) : [];
  const cases = [...kept, ...now.cases].sort(
    (a, b) => a.rows - b.rows || a.latencyMs - b.latencyMs || KIND_ORDER[a.kind] - KIND_ORDER[b.kind],
  );
  return { machine: now.machine, date: now.date, cases };
}

export function readResults(file: string): BenchFile | null {
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchFile;
}

const num = (value: number | null, digits = 0) =>
  value === null || !Number.isFinite(value)
    ? '-'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const times = (value: number) =>
  Number.isFinite(value) ? `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}x` : '-';

/** One row per case, the same for the terminal and for the README. */
function rowsOf(cases: CaseResult[]): Array<Record<string, string>> {
  return cases.map((c) => ({
    case: c.name,
    'ebb s': num(c.ebbSeconds, 2),
    'ebb rec/s': num(c.ebbRecordsPerSec),
    'script s': num(c.baselineSeconds, 2),
    'script rec/s': num(c.baselineRecordsPerSec),
    'ebb vs script': times(c.ratio),
    '1/request rec/s': num(c.perRecordRecordsPerSec),
    'ceiling rec/s':
      c.ceilingSequentialRecordsPerSec === null
        ? '-'
        : `${num(c.ceilingSequentialRecordsPerSec)} / ${num(c.ceilingConcurrentRecordsPerSec)}`,
    'ebb/ceiling': c.ceilingConcurrentRecordsPerSec
      ? num(c.ebbRecordsPerSec / Math.max(c.ceilingConcurrentRecordsPerSec, c.ceilingSequentialRecordsPerSec ?? 0), 2)
      : '-',
    requests: `${num(c.requests)} / ${num(c.baselineRequests)}`,
    'CPU s': `${num(c.workerCpuSeconds, 1)} / ${num(c.baselineCpuSeconds, 1)}`,
    'peak RSS MB': `${num(c.peakRssMb)} / ${num(c.baselinePeakRssMb)}`,
    'events/activity': num(c.historyEventsPerActivity, 1),
    'activities/1k rec': num(c.activitiesPer1000Records, 1),
    'state MB': num(c.stateStoreMb, 1),
  }));
}

const COLUMNS = [
  'case',
  'ebb s',
  'ebb rec/s',
  'script s',
  'script rec/s',
  'ebb vs script',
  '1/request rec/s',
  'ceiling rec/s',
  'ebb/ceiling',
  'requests',
  'CPU s',
  'peak RSS MB',
  'events/activity',
  'activities/1k rec',
  'state MB',
];

const machineLine = (m: Machine) =>
  `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node.replace(/^v/, '')}, ${m.os}, load ${m.loadAverage} at start`;

export function printReport(file: BenchFile): void {
  const limits = file.cases[0]?.limits;
  say(`ebb benchmark, ${file.date}: ${machineLine(file.machine)}`);
  if (limits)
    say(
      `  ebb: Salesforce batches of ${limits.batchSize}, ${limits.maxConcurrency} in flight, ${limits.requestsPerSecond ? `at most ${limits.requestsPerSecond} requests/s` : 'no per-second pace'}; ` +
        `runs of ${defaultBulkThreshold} or more records through one Bulk API 2.0 job (ebb's default; the sandbox processes a job in 1 s)`,
    );
  say('  script: jsforce, 200 records per sObject Collections upsert, one request after another, no state');
  say('  "ebb vs script" is the script\'s wall time over ebb\'s: above 1x ebb was faster. Pairs are ebb / script;');
  say("  ceiling rec/s is the tight loop with 1 / with ebb's concurrency in flight.\n");
  printTable(rowsOf(file.cases), COLUMNS);
}

const minute = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** Cases kept from earlier runs make the table span several runs: say from when to when. */
function measuredWhen(file: BenchFile): string {
  const earliest = file.cases.map((c) => c.measuredAt).sort()[0] ?? file.date;
  return minute(earliest) === minute(file.date) ? minute(file.date) : `${minute(earliest)} to ${minute(file.date)}`;
}

export function markdownTable(file: BenchFile): string {
  const rows = rowsOf(file.cases);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `Measured ${measuredWhen(file)} on ${machineLine(file.machine)}.`,
    '',
    line(COLUMNS),
    line(COLUMNS.map(() => '---')),
    ...rows.map((r) => line(COLUMNS.map((c) => r[c] ?? ''))),
  ].join('\n');
}

export class ReadmeMarkersError extends Error {
  constructor(file: string) {
    super(`${file} has no <!-- bench-table:start --> ... <!-- bench-table:end --> markers to write the table between`);
    this.name = new.target.name;
  }
}

/**
 * Replaces the text between the README's bench-table markers with the table of `results`, formatted
 * by Prettier as `npm run lint` expects.
 */
export async function writeReadmeTable(readme: string, results: BenchFile): Promise<void> {
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- bench-table:start -->';
  const end = '<!-- bench-table:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new ReadmeMarkersError(readme);
  const updated = `${text.slice(0, from + start.length)}\n\n${markdownTable(results)}\n\n${text.slice(to)}`;
  const options = (await prettier.resolveConfig(readme)) ?? {};
  fs.writeFileSync(readme, await prettier.format(updated, { ...options, filepath: readme }));
}
