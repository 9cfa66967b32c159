/**
 * ebb's own Prometheus metrics (prom-client), one registry per process, served by metrics-server.ts
 * beside the Temporal SDK's runtime metrics.
 *
 * Labels are config names (sync, destination), small enums (operation, outcome, run status) and
 * HTTP status codes, so their number is bounded by the config, whatever the models hold: record
 * keys and values never become labels.
 *
 * @example
 *   countRecords('accounts-to-sf', 'salesforce', [{ operation: 'upsert', status: 'failed' }]);
 *   await metricsRegistry.metrics(); // "ebb_records_total{sync=...,outcome="failed"} 1"
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EbbConfig } from '../config/schema';
import type { StateStore } from '../state/state-store';
import { storedSyncOverview } from '../state/sync-overview';

export const metricsRegistry = new Registry();

const records = new Counter({
  name: 'ebb_records_total',
  help: 'Records whose outcome is known, by sync, destination, operation (upsert, delete) and outcome (succeeded, failed at the destination, invalid before sending).',
  labelNames: ['sync', 'destination', 'operation', 'outcome'] as const,
  registers: [metricsRegistry],
});

const requests = new Counter({
  name: 'ebb_destination_requests_total',
  help: 'HTTP requests sent to destinations, by destination and response status (the code, or "error" when no response came).',
  labelNames: ['destination', 'status'] as const,
  registers: [metricsRegistry],
});

const requestDuration = new Histogram({
  name: 'ebb_destination_request_duration_seconds',
  help: "Time from sending a destination request to its response's headers, by destination and status.",
  labelNames: ['destination', 'status'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

const rateLimited = new Counter({
  name: 'ebb_rate_limit_waits_total',
  help: 'Responses that asked ebb to slow down (HTTP 429), by destination; the delivery waits and Temporal retries it.',
  labelNames: ['destination'] as const,
  registers: [metricsRegistry],
});

const retryAfter = new Histogram({
  name: 'ebb_retry_after_seconds',
  help: 'Retry-After seconds the destination asked for on rate-limited responses, by destination.',
  labelNames: ['destination'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [metricsRegistry],
});

const budgetUsed = new Gauge({
  name: 'ebb_destination_api_budget_used',
  help: "Requests of the destination's daily API budget used, as its last response reported (Salesforce Sforce-Limit-Info).",
  labelNames: ['destination'] as const,
  registers: [metricsRegistry],
});

const budgetLimit = new Gauge({
  name: 'ebb_destination_api_budget_limit',
  help: "The destination's daily API budget, as its last response reported (Salesforce Sforce-Limit-Info).",
  labelNames: ['destination'] as const,
  registers: [metricsRegistry],
});

const runDuration = new Histogram({
  name: 'ebb_run_duration_seconds',
  help: 'Duration of finished runs, from start to finish, by sync and outcome (succeeded, succeeded_with_failures, failed).',
  labelNames: ['sync', 'status'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
  registers: [metricsRegistry],
});

const runRecords = new Histogram({
  name: 'ebb_run_records',
  help: 'Records a finished run had to send (added + changed + removed), by sync.',
  labelNames: ['sync'] as const,
  buckets: [0, 10, 100, 1000, 10_000, 100_000, 1_000_000],
  registers: [metricsRegistry],
});

/** Where the staleness gauges read from: each worker set registers its store while it runs. */
const stalenessSources = new Set<{ store: StateStore; syncIds: readonly string[] }>();

async function collectStaleness(gauge: Gauge<'sync'>, read: (lastSuccess: Date) => number): Promise<void> {
  gauge.reset();
  for (const source of stalenessSources) {
    const overview = await storedSyncOverview(source.store, source.syncIds);
    for (const [syncId, entry] of overview) {
      if (entry.lastSuccessAt) gauge.set({ sync: syncId }, read(new Date(entry.lastSuccessAt)));
    }
  }
}

new Gauge({
  name: 'ebb_sync_staleness_seconds',
  help: 'Seconds since the last run of the sync that delivered (not failed, not every record failed), read from the state store at scrape time; absent before the first such run.',
  labelNames: ['sync'] as const,
  registers: [metricsRegistry],
  async collect() {
    await collectStaleness(this, (at) => Math.max(0, (Date.now() - at.getTime()) / 1000));
  },
});

new Gauge({
  name: 'ebb_sync_last_success_timestamp_seconds',
  help: 'Unix time at which the last run of the sync that delivered finished, read from the state store at scrape time.',
  labelNames: ['sync'] as const,
  registers: [metricsRegistry],
  async collect() {
    await collectStaleness(this, (at) => at.getTime() / 1000);
  },
});

/** Serves the staleness of `config`'s syncs from `store` until the returned function is called. */
export function watchStaleness(store: StateStore, config: Pick<EbbConfig, 'syncs'>): () => void {
  const source = { store, syncIds: Object.keys(config.syncs) };
  stalenessSources.add(source);
  return () => stalenessSources.delete(source);
}

export type RecordOutcomeLabel = 'succeeded' | 'failed' | 'invalid';

export function countRecords(
  sync: string,
  destination: string,
  outcomes: ReadonlyArray<{ operation: string; status: RecordOutcomeLabel }>,
): void {
  const tally = new Map<string, number>();
  for (const o of outcomes) {
    const key = `${o.operation}\u0000${o.status}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  for (const [key, n] of tally) {
    const [operation = '', outcome = ''] = key.split('\u0000');
    records.inc({ sync, destination, operation, outcome }, n);
  }
}

export function countInvalidRecords(sync: string, destination: string, invalid: number): void {
  // Invalid rows never reach the destination, so their operation is the one they were planned for: upsert.
  if (invalid > 0) records.inc({ sync, destination, operation: 'upsert', outcome: 'invalid' }, invalid);
}

export function observeRequest(destination: string, status: string, seconds: number): void {
  requests.inc({ destination, status });
  requestDuration.observe({ destination, status }, seconds);
}

export function observeRateLimit(destination: string, retryAfterSeconds: number | null): void {
  rateLimited.inc({ destination });
  if (retryAfterSeconds !== null) retryAfter.observe({ destination }, retryAfterSeconds);
}

export function observeApiBudget(destination: string, used: number, limit: number): void {
  budgetUsed.set({ destination }, used);
  budgetLimit.set({ destination }, limit);
}

export function observeFinishedRun(
  sync: string,
  run: { status: string; startedAt: string; finishedAt: string; added: number; changed: number; removed: number },
): void {
  const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
  if (Number.isFinite(seconds)) runDuration.observe({ sync, status: run.status }, Math.max(0, seconds));
  runRecords.observe({ sync }, run.added + run.changed + run.removed);
}
