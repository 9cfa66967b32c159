/**
 * Webhook syncs end to end: real Temporal dev server, DuckDB, ebb's workers, and the webhook
 * receiver sandbox, which verifies every signature and applies each idempotency key once. What every
 * destination must do is in destination-acceptance.test.ts; this file holds what only a webhook does:
 * its retries, its reply lost after processing, its record mode, its secret.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load-config';
import { SEED_ACCOUNTS, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startWebhookSandbox, type WebhookSandbox } from '../sandbox/webhook/webhook-sandbox';
import { historiesText, startEngine, type EngineHarness } from './harness/engine';

const GENERATED = 6;
const TOTAL = GENERATED + SEED_ACCOUNTS.length;

let hook: WebhookSandbox | undefined;
let engine: EngineHarness | undefined;
afterEach(async () => {
  jest.restoreAllMocks();
  await engine?.stop();
  await hook?.close();
  engine = undefined;
  hook = undefined;
});

async function start(
  options: { delivery?: 'batch' | 'record'; secret?: string; secretYaml?: string; mode?: string } = {},
): Promise<{ engine: EngineHarness; hook: WebhookSandbox; sync: string }> {
  hook = await startWebhookSandbox({ secret: 'whsec_receiver_secret' });
  engine = await startEngine({
    generated: GENERATED,
    extraEnv: { WEBHOOK_URL: hook.url, WEBHOOK_SECRET: options.secret ?? hook.secret },
    extraDestinationsYaml: `
  hooks:
    type: webhook
    url: \${WEBHOOK_URL}
    ${options.secretYaml ?? 'secret: ${WEBHOOK_SECRET}'}
    delivery: ${options.delivery ?? 'batch'}
    limits: { batchSize: 4 }`,
    syncsYaml: ({ suffix }) => `
  hook-${suffix}:
    model: account_health
    destination: hooks
    mode: ${options.mode ?? 'mirror'}
    mapping: { name: name, health: health_score, segment: segment, mrr: mrr }
`,
  });
  return { engine, hook, sync: `hook-${engine.suffix}` };
}

function captureLogs(): string[] {
  const captured: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    captured.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write);
  for (const level of ['log', 'info', 'warn', 'error'] as const) {
    const original = console[level].bind(console);
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      captured.push(args.map(String).join(' '));
      original(...args);
    });
  }
  return captured;
}

test('a 429 with Retry-After and a 500 are retried by Temporal, the 429 after the wait it asked for, and every row is applied once', async () => {
  const logs = captureLogs();
  const { engine, hook, sync } = await start();
  hook.injectFaults({ rateLimit: { times: 1, retryAfterSeconds: 3 }, fail500: 1 });

  const started = Date.now();
  const run = await engine.run(sync);
  expect(run).toMatchObject({ status: 'succeeded', added: TOTAL, succeeded: TOTAL, failed: 0 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  expect(hook.stats()).toMatchObject({ faults: 2, signatureFailures: 0, applied: TOTAL, duplicates: 0 });
  expect(hook.records().acme).toEqual({ name: 'Acme', health_score: 38, segment: 'at-risk', mrr: 900 });

  // A distinctive value travels to the receiver and nowhere else: not the logs, not Temporal's histories.
  const secretName = 'Zanzibar Quokka Holdings';
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'globex', name: secretName }]);
  hook.injectFaults({ fail500: 1 });
  const second = await engine.run(sync);
  expect(second).toMatchObject({ changed: 1, succeeded: 1 });
  expect(hook.records().globex?.name).toBe(secretName);
  const histories = await historiesText(engine.client, sync, [run.runNumber, second.runNumber], engine.names);
  expect(logs.join('\n')).toContain('TransientDestinationError');
  expect(histories).toContain('is busy or failing (HTTP 500');
  expect(logs.join('\n')).not.toContain(secretName);
  expect(histories).not.toContain(secretName);
  expect(histories).not.toContain(hook.secret);
});

test('a reply lost after the receiver processed a batch is sent again with the same idempotency keys, and the receiver applies each change once', async () => {
  const { engine, hook, sync } = await start();
  hook.injectFaults({ loseReply: 2 });

  const run = await engine.run(sync);
  expect(run).toMatchObject({ status: 'succeeded', succeeded: TOTAL, failed: 0 });
  const stats = hook.stats();
  expect(stats).toMatchObject({ applied: TOTAL, signatureFailures: 0 });
  expect(stats.duplicates).toBeGreaterThanOrEqual(1);
  const keys = hook.changes().map((c) => c.key);
  expect(new Set(keys).size).toBe(TOTAL);
  expect(keys).toHaveLength(TOTAL);
});

test('in record mode each record is its own signed POST with an Idempotency-Key; a 422 for one key is a failed record with the status and the receiver message, and a later run delivers it once accepted', async () => {
  const { engine, hook, sync } = await start({ delivery: 'record' });
  hook.injectFaults({ rejectKeys: { keys: ['initech'], status: 422, message: 'health_score must be at least 60' } });

  const run = await engine.run(sync);
  expect(run).toMatchObject({ status: 'succeeded_with_failures', succeeded: TOTAL - 1, failed: 1 });
  expect(hook.stats()).toMatchObject({ requests: TOTAL, verified: TOTAL, applied: TOTAL - 1, rejected: 1 });
  const [failed] = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
  expect(failed).toMatchObject({
    key: 'initech',
    errorCode: 'HTTP_422',
    errorMessage: 'the receiver refused the upsert with HTTP 422: health_score must be at least 60',
  });

  hook.injectFaults({ acceptKeys: ['initech'] });
  const retried = await engine.run(sync);
  expect(retried).toMatchObject({ added: 1, succeeded: 1, failed: 0 });
  expect(Object.keys(hook.records()).sort()).toHaveLength(TOTAL);
});

test('a secret read from secretFile signs requests; a secret the receiver does not share fails the run at once, naming the setting', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-webhook-secret-'));
  const file = path.join(dir, 'webhook.secret');
  fs.writeFileSync(file, 'whsec_receiver_secret\n');
  const fromFile = await start({ secretYaml: `secretFile: ${file}`, mode: 'upsert' });
  expect(await fromFile.engine.run(fromFile.sync)).toMatchObject({ status: 'succeeded', succeeded: TOTAL });
  expect(fromFile.hook.stats()).toMatchObject({ signatureFailures: 0, applied: TOTAL });
  await fromFile.engine.stop();
  await fromFile.hook.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const wrong = await start({ secret: 'whsec_not_the_receivers' });
  const run = await wrong.engine.run(wrong.sync);
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/refused the request \(HTTP 401: invalid signature: signature does not match\)/);
  expect(run.error).toContain("check that destinations.hooks's signing secret is the one the receiver verifies");
  // Fatal: at most one request per batch (3 of 4 records, sent side by side), none of them retried.
  const stats = wrong.hook.stats();
  expect(stats).toMatchObject({ applied: 0, signatureFailures: stats.requests });
  expect(stats.requests).toBeGreaterThanOrEqual(1);
  expect(stats.requests).toBeLessThanOrEqual(Math.ceil(TOTAL / 4));
  expect(run.error).not.toContain('whsec_not_the_receivers');
});

test('a signing secret written in ebb.yaml itself is refused, naming the setting and where to put it', () => {
  const yaml = (secret: string) => `
destinations:
  hooks: { type: webhook, url: "https://example.com/hook", ${secret} }
`;
  const literal = parseConfig(yaml('secret: whsec_abc123'), { env: {} });
  expect(literal.problems).toEqual([
    expect.objectContaining({
      path: 'destinations.hooks.secret',
      message:
        'destinations.hooks.secret is written in ebb.yaml itself: a signing secret must not live in the config file',
    }),
  ]);
  expect(
    parseConfig(yaml('secret: "${WEBHOOK_SECRET}"'), { env: { WEBHOOK_SECRET: 'whsec_abc123' } }).problems,
  ).toEqual([]);
  const both = parseConfig(yaml('secret: "${WEBHOOK_SECRET}", secretFile: ./s'), { env: { WEBHOOK_SECRET: 'x' } });
  expect(both.problems.map((p) => p.message)).toEqual([
    'give the signing secret once: secret: ${WEBHOOK_SECRET} or secretFile: ./webhook.secret',
  ]);
});
