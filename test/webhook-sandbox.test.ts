/**
 * The webhook receiver sandbox on its own, driven over HTTP with requests signed here by the recipe
 * in docs/destinations/webhook.md (node:crypto, not ebb's connector): it must refuse what a careful
 * receiver refuses, or the end-to-end tests that rely on it would prove nothing.
 */
import { createHmac } from 'node:crypto';
import { startWebhookSandbox, type WebhookSandbox } from '../sandbox/webhook/webhook-sandbox';

const SECRET = 'whsec_test_secret';
let hook: WebhookSandbox;

beforeEach(async () => {
  hook = await startWebhookSandbox({ secret: SECRET, toleranceSeconds: 300 });
});
afterEach(async () => {
  await hook.close();
});

const record = (key: string, idempotencyKey: string, data: Record<string, unknown> | null = { name: key }) => ({
  idempotencyKey,
  key,
  operation: data === null ? 'delete' : 'upsert',
  data,
});

async function post(
  body: unknown,
  options: { secret?: string; timestamp?: number; tamper?: (raw: string) => string } = {},
): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
  const raw = JSON.stringify(body);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', options.secret ?? SECRET)
    .update(`${timestamp}.${raw}`)
    .digest('hex');
  const response = await fetch(hook.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ebb-timestamp': timestamp, 'x-ebb-signature': `v1=${signature}` },
    body: options.tamper ? options.tamper(raw) : raw,
  });
  return { status: response.status, body: await response.json(), retryAfter: response.headers.get('retry-after') };
}

test('a correctly signed batch is applied, and a repeated idempotency key is answered as accepted but not applied again', async () => {
  const first = await post({ sync: 's', records: [record('acme', 'k1'), record('globex', 'k2')] });
  expect(first).toMatchObject({
    status: 200,
    body: {
      results: [
        { idempotencyKey: 'k1', status: 200 },
        { idempotencyKey: 'k2', status: 200 },
      ],
    },
  });
  const again = await post({ sync: 's', records: [record('acme', 'k1', { name: 'changed in transit' })] });
  expect(again.body).toEqual({ results: [{ idempotencyKey: 'k1', status: 200, duplicate: true }] });
  await post({ sync: 's', records: [record('globex', 'k3', null)] });

  expect(hook.records()).toEqual({ acme: { name: 'acme' } });
  expect(hook.changes().map((c) => `${c.operation} ${c.key}`)).toEqual([
    'upsert acme',
    'upsert globex',
    'delete globex',
  ]);
  expect(hook.stats()).toMatchObject({ requests: 3, verified: 3, applied: 3, duplicates: 1, signatureFailures: 0 });
});

test('a wrong secret, a body changed after signing and a timestamp outside the tolerance are refused with 401 and change nothing', async () => {
  const batch = { sync: 's', records: [record('acme', 'k1')] };
  const wrongSecret = await post(batch, { secret: 'whsec_other' });
  const tampered = await post(batch, { tamper: (raw) => raw.replace('acme', 'evil') });
  const stale = await post(batch, { timestamp: Math.floor(Date.now() / 1000) - 301 });

  expect([wrongSecret.status, tampered.status, stale.status]).toEqual([401, 401, 401]);
  expect(stale.body).toEqual({ error: expect.stringMatching(/^invalid signature: timestamp is 30\d s away/) });
  expect(hook.records()).toEqual({});
  expect(hook.stats()).toMatchObject({ requests: 3, verified: 0, signatureFailures: 3, applied: 0 });
});

test('faults set over HTTP: a 429 with Retry-After, a 500, a reply lost after processing, and a per-key 422', async () => {
  const control = new URL('/__sandbox/faults', hook.url);
  await fetch(control, {
    method: 'POST',
    body: JSON.stringify({ rateLimit: { times: 1, retryAfterSeconds: 7 }, fail500: 1, loseReply: 1 }),
  });
  await fetch(control, { method: 'POST', body: JSON.stringify({ rejectKeys: { keys: ['bad'], message: 'no such' } }) });

  const throttled = await post({ sync: 's', records: [record('acme', 'k1')] });
  expect(throttled).toMatchObject({ status: 429, retryAfter: '7' });
  expect((await post({ sync: 's', records: [record('acme', 'k1')] })).status).toBe(500);
  await expect(post({ sync: 's', records: [record('acme', 'k1')] })).rejects.toThrow();
  // The lost reply's batch was applied: sending it again finds its key.
  const resent = await post({ sync: 's', records: [record('acme', 'k1'), record('bad', 'k2')] });
  expect(resent.body).toEqual({
    results: [
      { idempotencyKey: 'k1', status: 200, duplicate: true },
      { idempotencyKey: 'k2', status: 422, message: 'no such' },
    ],
  });
  const stats = (await (await fetch(new URL('/__sandbox/stats', hook.url))).json()) as Record<string, number>;
  expect(stats).toMatchObject({ faults: 3, applied: 1, duplicates: 1, rejected: 1 });
  const records = (await (await fetch(new URL('/__sandbox/records', hook.url))).json()) as unknown;
  expect(records).toEqual({ records: { acme: { name: 'acme' } } });
});
