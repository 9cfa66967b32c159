/** The figures one benchmark run produced, and how they are printed for people. */
import { printTable, say } from '../cli/output';
import type { DestinationLimits } from '../connectors/destinations/destination';

export interface Measurement {
  seconds: number;
  /** Records sent to Salesforce. */
  records: number;
  /** Every API request the sandbox answered: token, describe and upserts. */
  apiRequests: number;
  upsertRequests: number;
}

export interface MemoryFigure {
  phase: string;
  rows: number;
  peakRssMb: number;
  peakHeapMb: number;
  /** Peak heap minus the heap right after a full garbage collection before the phase. */
  heapGrowthMb: number;
}

export interface BenchResults {
  rows: number;
  latencyMs: number;
  limits: DestinationLimits;
  /** Batches ebb keeps in flight per run. */
  window: number;
  initial: { ebb: Measurement; naive: Measurement };
  incremental: { changedRows: number; ebb: Measurement; naive: Measurement };
  noChange: { ebb: Measurement };
  memory: MemoryFigure[];
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

type Metric = 'records' | 'time' | 'rate' | 'requests' | 'perRecord';

const METRICS: Record<Metric, { label: string; value: (m: Measurement) => number; digits: number }> = {
  records: { label: 'records sent', value: (m) => m.records, digits: 0 },
  time: { label: 'wall time (s)', value: (m) => m.seconds, digits: 2 },
  rate: { label: 'records/s', value: (m) => m.records / m.seconds, digits: 0 },
  requests: { label: 'API requests', value: (m) => m.apiRequests, digits: 0 },
  perRecord: { label: 'API requests/record', value: (m) => m.apiRequests / m.records, digits: 4 },
};

function comparison(ebb: Measurement, naive: Measurement, metrics: Metric[]): Array<Record<string, string>> {
  return metrics.map((name) => {
    const { label, value, digits } = METRICS[name];
    return {
      metric: label,
      ebb: fixed(value(ebb), digits),
      naive: fixed(value(naive), digits),
      'ebb/naive': fixed(value(ebb) / value(naive), 4),
    };
  });
}

const COLUMNS = ['metric', 'ebb', 'naive', 'ebb/naive'];

export function printReport(r: BenchResults): void {
  say(
    `ebb benchmark: ${r.rows} rows; every Salesforce sandbox request waits ${r.latencyMs} ms (an emulated network round trip)`,
  );
  say(
    `  ebb:   Temporal workflow, sObject Collections upserts of ${r.limits.batchSize}, ${r.limits.maxConcurrency} in flight, at most ${r.limits.requestsPerSecond} requests/s`,
  );
  say('  naive: reads every row from DuckDB, jsforce upsert one record per request, sequentially, no change detection');
  say('  ebb/naive below 1 means ebb needed less (time, requests); above 1 on records/s means ebb was faster.');

  say(`\n1. Initial sync`);
  printTable(comparison(r.initial.ebb, r.initial.naive, ['records', 'time', 'rate', 'requests', 'perRecord']), COLUMNS);

  say(`\n2. Re-sync after changing ${r.incremental.changedRows} rows (1%): ebb sends the changes, naive re-sends all`);
  printTable(comparison(r.incremental.ebb, r.incremental.naive, ['records', 'requests', 'time']), COLUMNS);

  const n = r.noChange.ebb;
  say(`\n3. Re-run with nothing changed (ebb)`);
  say(`  ${n.records} records sent, ${n.apiRequests} API requests, ${fixed(n.seconds, 2)} s`);

  say(`\n4. Memory of this process (Temporal worker, DuckDB and the sandbox included in RSS)`);
  printTable(
    r.memory.map((m) => ({
      phase: m.phase,
      rows: String(m.rows),
      'peak RSS (MB)': fixed(m.peakRssMb, 0),
      'peak heap (MB)': fixed(m.peakHeapMb, 0),
      'heap growth (MB)': fixed(m.heapGrowthMb, 1),
    })),
    ['phase', 'rows', 'peak RSS (MB)', 'peak heap (MB)', 'heap growth (MB)'],
  );
  say(
    `  The plan holds one source chunk and one batch of ${r.limits.batchSize} at a time, and delivery a window of ${r.window} batches:` +
      ' memory follows batch size and window, not model size.',
  );
}
