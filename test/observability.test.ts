/**
 * What operators see of a run: the Prometheus metrics a worker serves and the structured log lines
 * it writes, after real runs on the dev server against the Salesforce sandbox.
 */
import { SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { startMetricsServer, type MetricsServer } from '../observability/metrics-server';
import { installWorkerRuntime } from '../observability/runtime';
import { NativeConnection } from '@temporalio/worker';
import { startEngine, type EngineHarness } from './harness/engine';
import { temporalAddress } from './harness/temporal';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 20;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;
const REJECTED = ['acme', 'globex', 'initech'];

/** Every line the worker runtime logs in this file, as JSON (installed before any engine starts). */
const logLines: string[] = [];
/**
 * Temporal shuts its Runtime down when its last connection and worker close (an engine's stop), and
 * the next engine would then install the harness's quiet logger instead of this file's: one
 * connection held for the whole file keeps the capturing Runtime alive.
 */
let runtimeHold: NativeConnection;

beforeAll(async () => {
  const runtime = await installWorkerRuntime({
    logging: { format: 'json', level: 'INFO', sink: { write: (line) => void logLines.push(line) } },
  });
  if (!runtime.installed) throw new Error('a Temporal Runtime was installed before this file: logs cannot be captured');
  runtimeHold = await NativeConnection.connect({ address: temporalAddress() });
});
afterAll(async () => {
  await runtimeHold.close();
});

let engine: EngineHarness;
let sync: string;
let metrics: MetricsServer;

beforeEach(async () => {
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`obs-${suffix}`),
    recordRetries: { delaysMs: [10], jitter: 0 },
  });
  sync = `obs-${engine.suffix}`;
  metrics = await startMetricsServer({ address: '127.0.0.1:0' });
});
afterEach(async () => {
  await metrics.close();
  await engine.stop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1]) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

function sum(samples: Sample[], name: string, labels: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

test('after a run with failures and a rate-limited retry, /metrics counts records per outcome, requests per status, the 429 and its Retry-After, and puts no record key or value in any label', async () => {
  // Salesforce refuses three records: their rows stay locked however often they are retried.
  engine.sf.injectFaults({ lockErrors: { keys: REJECTED } });
  const first = await engine.run(sync);
  expect(first).toMatchObject({ status: 'succeeded_with_failures', succeeded: TOTAL - 3, failed: 3 });

  // One row frees up, and the first request of the next run is refused with 429 and Retry-After: 1.
  engine.sf.injectFaults({ lockErrors: { keys: REJECTED.slice(1) }, throttled: 1, retryAfterSeconds: 1 });
  const second = await engine.run(sync);
  expect(second).toMatchObject({ succeeded: 1, failed: 2 });

  const response = await fetch(metrics.url);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await response.text();
  const samples = parseExposition(text);
  const ours = { sync, destination: 'salesforce' };

  expect(sum(samples, 'ebb_records_total', { ...ours, operation: 'upsert', outcome: 'succeeded' })).toBe(TOTAL - 3 + 1);
  expect(sum(samples, 'ebb_records_total', { ...ours, operation: 'upsert', outcome: 'failed' })).toBe(3 + 2);
  // Every request the sandbox answered was measured, under its status.
  const requests = sum(samples, 'ebb_destination_requests_total', { destination: 'salesforce' });
  expect(requests).toBe(engine.sf.stats().total);
  expect(requests).toBe(first.apiCalls + second.apiCalls);
  expect(sum(samples, 'ebb_destination_requests_total', { destination: 'salesforce', status: '429' })).toBe(1);
  expect(sum(samples, 'ebb_destination_request_duration_seconds_count', { destination: 'salesforce' })).toBe(requests);
  expect(sum(samples, 'ebb_rate_limit_waits_total', { destination: 'salesforce' })).toBe(1);
  expect(sum(samples, 'ebb_retry_after_seconds_sum', { destination: 'salesforce' })).toBe(1);
  expect(sum(samples, 'ebb_run_duration_seconds_count', { sync })).toBe(2);
  expect(sum(samples, 'ebb_run_records_sum', { sync })).toBe(TOTAL + 3);
  const used = sum(samples, 'ebb_destination_api_budget_used', { destination: 'salesforce' });
  expect(used).toBeGreaterThan(0);
  expect(used).toBeLessThan(sum(samples, 'ebb_destination_api_budget_limit', { destination: 'salesforce' }));
  const staleness = sum(samples, 'ebb_sync_staleness_seconds', { sync });
  expect(staleness).toBeGreaterThanOrEqual(0);
  expect(staleness).toBeLessThan(60);

  const labelValues = new Set(samples.flatMap((s) => Object.values(s.labels)));
  const accounts = engine.sf.records('Account');
  expect(accounts.length).toBeGreaterThan(0);
  for (const account of accounts) {
    for (const value of [account.External_Id__c, account.Name, account.Id]) {
      expect(labelValues.has(String(value))).toBe(false);
    }
  }
  for (const value of [...REJECTED, 'at-risk', 'healthy', 'neutral']) {
    expect(labelValues.has(value)).toBe(false);
  }
});

test("a run's log lines are JSON, each carries the run's workflow id, sync, run number and attempt, batches name their batch, and none holds a secret, a record key or a row value", async () => {
  engine.sf.injectFaults({ lockErrors: { keys: REJECTED } });
  const from = logLines.length;
  const run = await engine.run(sync);
  expect(run).toMatchObject({ failed: 3 });

  const lines = logLines.slice(from);
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const runLines = entries.filter((e) => e.syncId === sync && e.runNumber === run.runNumber);
  const runWorkflowId = engine.names.run(sync, run.runNumber);
  expect(runLines.length).toBeGreaterThan(0);
  for (const entry of runLines) {
    expect(entry).toMatchObject({ workflowId: runWorkflowId, attempt: expect.any(Number), time: expect.any(String) });
  }
  const messages = runLines.map((e) => e.msg);
  expect(messages).toContain('run planned');
  expect(messages).toContain('run finished');
  const batches = runLines.filter((e) => e.msg === 'batch delivered');
  expect(batches.length).toBeGreaterThan(0);
  expect(new Set(batches.map((e) => e.batch)).size).toBe(batches.length);
  expect(batches.reduce((n, e) => n + Number(e.failed), 0)).toBe(3);
  expect(runLines.find((e) => e.msg === 'run finished')).toMatchObject({
    status: 'succeeded_with_failures',
    failed: 3,
    succeeded: TOTAL - 3,
  });

  const text = lines.join('');
  const secrets = [engine.env.SF_CLIENT_SECRET, engine.env.SLACK_BOT_TOKEN];
  const accounts = engine.sf.records('Account');
  const values = accounts.flatMap((a) => [a.External_Id__c, a.Name, a.Id]).map(String);
  for (const secret of secrets) expect(text).not.toContain(String(secret));
  for (const value of [...values, ...REJECTED]) expect(text).not.toContain(`"${value}"`);
  for (const name of accounts.map((a) => String(a.Name))) expect(text).not.toContain(name);
});
