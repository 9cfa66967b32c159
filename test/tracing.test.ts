/**
 * Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a worker exports OpenTelemetry spans over
 * OTLP/HTTP, and one trace links a run's workflow, its activities and the destination HTTP calls.
 * The collector is a tiny in-process OTLP/HTTP receiver; the run is real (dev server, ebb's workers,
 * the Salesforce sandbox through jsforce).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tracingRequested } from '../observability/tracing';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

/** Every span the receiver was sent, from OTLP/HTTP JSON export requests. */
const received: ExportedSpan[] = [];
const contentTypes = new Set<string>();
let collector: http.Server;
const saved = { ...process.env };

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        contentTypes.add(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: ExportedSpan[] }> }>;
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
  // Without the tests' shared bundle the workers bundle workflows/ at start, as `ebb worker` does,
  // and add the tracing workflow interceptors to it themselves.
  delete process.env.EBB_TEST_WORKFLOW_BUNDLE;
});
afterAll(async () => {
  process.env = saved;
  await new Promise((resolve) => collector.close(resolve));
});

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("one trace links a run's workflow, its plan, delivery and finish activities and the Salesforce requests, with no record key or value in any span", async () => {
  engine = await startEngine({ generated: 5, syncsYaml: ({ suffix }) => salesforceSyncYaml(`trace-${suffix}`) });
  const run = await engine.run(`trace-${engine.suffix}`);
  expect(run.succeeded).toBeGreaterThan(0);

  const runSpan = await waitFor('the run workflow span', () => received.find((s) => s.name === 'RunWorkflow:syncRun'));
  const inTrace = () => received.filter((s) => s.traceId === runSpan.traceId);
  await waitFor('the finish activity span', () => inTrace().some((s) => s.name === 'RunActivity:finishRun'));
  const names = new Set(inTrace().map((s) => s.name));
  for (const name of [
    'RunWorkflow:syncRun',
    'RunActivity:planRun',
    'RunActivity:deliverBatch',
    'RunActivity:finishRun',
  ])
    expect(names).toContain(name);

  // The destination's requests are spans inside the delivery activity's span.
  const deliveries = new Set(
    inTrace()
      .filter((s) => s.name === 'RunActivity:deliverBatch')
      .map((s) => s.spanId),
  );
  const requests = inTrace().filter((s) => s.name.endsWith(' salesforce'));
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.some((s) => s.parentSpanId !== undefined && deliveries.has(s.parentSpanId))).toBe(true);
  const statuses = requests.flatMap((s) => s.attributes?.filter((a) => a.key === 'http.response.status_code') ?? []);
  expect(statuses.length).toBe(requests.length);
  expect(contentTypes).toEqual(new Set(['application/json']));

  const text = JSON.stringify(received);
  for (const account of engine.sf.records('Account')) {
    for (const value of [account.External_Id__c, account.Name, account.Id])
      expect(text).not.toContain(`"${String(value)}"`);
    expect(text).not.toContain(`/${String(account.External_Id__c)}`);
  }
  expect(text).not.toContain(engine.sf.clientSecret);
});

test('tracing is off unless the OTEL_* variables ask for it', () => {
  expect(tracingRequested({})).toBe(false);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
  expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(
    false,
  );
  expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(
    false,
  );
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
});
