/**
 * A webhook receiver for tests, the demo and `ebb dev`: it behaves as a careful receiver of ebb's
 * signed webhooks should (docs/destinations/webhook.md). Every request's `X-Ebb-Signature` is
 * checked against an HMAC-SHA256 of `<X-Ebb-Timestamp>.<raw body>` and its timestamp against a
 * tolerance (401 otherwise); each record is applied once per idempotency key (a repeated key is
 * answered as accepted and counted as a duplicate, not applied again); upserts set the record held
 * for a key, deletes remove it.
 *
 *   const hook = await startWebhookSandbox({ secret: 'whsec_test' });
 *   // ebb.yaml: destinations.hooks: { type: webhook, url: hook.url, secret: ${WEBHOOK_SECRET} }
 *   hook.records();                       // { acme: { name: 'Acme', health: 38 }, ... }
 *   hook.injectFaults({ rateLimit: { times: 1, retryAfterSeconds: 2 } });
 *
 * Faults: `fail500` (the next N requests answer 500), `rateLimit` (429 with Retry-After), `loseReply`
 * (the next N requests are processed, then the connection is dropped before the answer) and
 * `rejectKeys` (records with these keys are refused with a 4xx and a message, until reset).
 * Inspection and control over HTTP too: GET /__sandbox/records, GET /__sandbox/changes,
 * GET /__sandbox/received, GET /__sandbox/stats, POST /__sandbox/faults (JSON as for injectFaults),
 * POST /__sandbox/reset.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';

const DEFAULT_SECRET = 'whsec_ebb_sandbox_secret';
const HOOK_PATH = '/hooks/ebb';

export interface WebhookSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** The signing secret the receiver verifies with. */
  secret?: string;
  /** How far a request's timestamp may be from the receiver's clock, in seconds (default 300). */
  toleranceSeconds?: number;
  latencyMs?: number;
  /** JSON file the records, changes and seen keys are kept in, so a restarted receiver keeps them (`ebb dev`). */
  file?: string;
}

export interface WebhookFaults {
  /** The next N requests answer 500 without processing anything. */
  fail500?: number;
  /** The next `times` requests answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit?: { times: number; retryAfterSeconds?: number };
  /** The next N requests are processed, then the connection is dropped before any answer. */
  loseReply?: number;
  /** Records with these keys are refused with `status` (default 422) and `message`, until reset. */
  rejectKeys?: { keys: string[]; status?: number; message?: string };
  /** Lifts the rejection of these keys (the receiver's validation was fixed). */
  acceptKeys?: string[];
}

/** A change the receiver applied: the first arrival of an idempotency key. */
export interface AppliedChange {
  idempotencyKey: string;
  key: string;
  operation: 'upsert' | 'delete';
  data: Record<string, unknown> | null;
  sync: string | null;
}

/** Every record that arrived in a verified request, and what the receiver did with it. */
export interface ReceivedRecord {
  idempotencyKey: string;
  key: string;
  operation: string;
  outcome: 'applied' | 'duplicate' | 'rejected';
}

export interface WebhookSandboxStats {
  /** POSTs to the hook, refused ones included. */
  requests: number;
  /** Requests whose signature and timestamp checked out. */
  verified: number;
  /** Requests refused for a missing or wrong signature or a timestamp outside the tolerance. */
  signatureFailures: number;
  applied: number;
  duplicates: number;
  rejected: number;
  /** Requests answered with an injected fault (500, 429, dropped reply). */
  faults: number;
}

export interface WebhookSandbox {
  /** The hook's URL, for the destination's `url`. */
  url: string;
  secret: string;
  /** What the receiver holds: the data of the last upsert of each key not since deleted. */
  records(): Record<string, Record<string, unknown> | null>;
  changes(): AppliedChange[];
  received(): ReceivedRecord[];
  stats(): WebhookSandboxStats;
  injectFaults(faults: WebhookFaults): void;
  reset(): void;
  close(): Promise<void>;
}

interface WireRecord {
  idempotencyKey?: unknown;
  key?: unknown;
  operation?: unknown;
  data?: unknown;
}

interface Stored {
  records: Record<string, Record<string, unknown> | null>;
  changes: AppliedChange[];
}

const emptyStats = (): WebhookSandboxStats => ({
  requests: 0,
  verified: 0,
  signatureFailures: 0,
  applied: 0,
  duplicates: 0,
  rejected: 0,
  faults: 0,
});

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why a request's signature does not hold, or null when it does; written from the docs' recipe, not ebb's code. */
function signatureProblem(
  secret: string,
  toleranceSeconds: number,
  req: http.IncomingMessage,
  raw: string,
): string | null {
  const timestamp = req.headers['x-ebb-timestamp'];
  const signature = req.headers['x-ebb-signature'];
  if (typeof timestamp !== 'string' || !/^\d+$/.test(timestamp)) return 'missing or malformed X-Ebb-Timestamp';
  if (typeof signature !== 'string' || !signature.startsWith('v1=')) return 'missing or malformed X-Ebb-Signature';
  const skew = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (skew > toleranceSeconds) return `timestamp is ${Math.round(skew)} s away from the receiver's clock`;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest();
  const presented = Buffer.from(signature.slice(3), 'hex');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'signature does not match';
  return null;
}

export async function startWebhookSandbox(options: WebhookSandboxOptions = {}): Promise<WebhookSandbox> {
  const secret = options.secret ?? DEFAULT_SECRET;
  const tolerance = options.toleranceSeconds ?? 300;
  const load = (): Stored => {
    if (options.file && fs.existsSync(options.file)) return JSON.parse(fs.readFileSync(options.file, 'utf8')) as Stored;
    return { records: {}, changes: [] };
  };
  let stored = load();
  let seen = new Set(stored.changes.map((c) => c.idempotencyKey));
  let received: ReceivedRecord[] = [];
  let stats = emptyStats();
  let fail500 = 0;
  let loseReply = 0;
  let rateLimits: number[] = [];
  let rejectKeys = new Map<string, { status: number; message: string }>();
  const save = () => {
    if (options.file) fs.writeFileSync(options.file, JSON.stringify(stored));
  };

  /** Applies one record; returns its per-record result. */
  const receive = (record: WireRecord, sync: string | null): { status: number; message?: string; duplicate?: true } => {
    const idempotencyKey = typeof record.idempotencyKey === 'string' ? record.idempotencyKey : '';
    const key = typeof record.key === 'string' ? record.key : '';
    const operation = record.operation === 'upsert' || record.operation === 'delete' ? record.operation : null;
    if (!idempotencyKey || !key || !operation) {
      received.push({ idempotencyKey, key, operation: String(record.operation), outcome: 'rejected' });
      stats.rejected++;
      return { status: 400, message: 'a record needs idempotencyKey, key and operation (upsert or delete)' };
    }
    const rejection = rejectKeys.get(key);
    if (rejection) {
      received.push({ idempotencyKey, key, operation, outcome: 'rejected' });
      stats.rejected++;
      return { status: rejection.status, message: rejection.message };
    }
    if (seen.has(idempotencyKey)) {
      received.push({ idempotencyKey, key, operation, outcome: 'duplicate' });
      stats.duplicates++;
      return { status: 200, duplicate: true };
    }
    seen.add(idempotencyKey);
    const data =
      operation === 'upsert' && record.data && typeof record.data === 'object'
        ? (record.data as Record<string, unknown>)
        : null;
    if (operation === 'upsert') stored.records[key] = data;
    else delete stored.records[key];
    stored.changes.push({ idempotencyKey, key, operation, data, sync });
    received.push({ idempotencyKey, key, operation, outcome: 'applied' });
    stats.applied++;
    return { status: 200 };
  };

  const handleHook = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    stats.requests++;
    if (options.latencyMs) await sleep(options.latencyMs);
    if (req.method !== 'POST') return json(res, 405, { error: 'only POST is accepted here' });
    const problem = signatureProblem(secret, tolerance, req, raw);
    if (problem) {
      stats.signatureFailures++;
      return json(res, 401, { error: `invalid signature: ${problem}` });
    }
    stats.verified++;
    const throttled = rateLimits.shift();
    if (throttled !== undefined) {
      stats.faults++;
      return json(res, 429, { error: 'too many requests' }, { 'Retry-After': String(throttled) });
    }
    if (fail500 > 0) {
      fail500--;
      stats.faults++;
      return json(res, 500, { error: 'the receiver failed; try again later' });
    }
    let body: { sync?: unknown; records?: unknown } & WireRecord;
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return json(res, 400, { error: 'the body is not JSON' });
    }
    const sync = typeof body.sync === 'string' ? body.sync : null;
    let status: number;
    let answer: unknown;
    if (Array.isArray(body.records)) {
      const results = (body.records as WireRecord[]).map((record) => ({
        idempotencyKey: record.idempotencyKey,
        ...receive(record, sync),
      }));
      status = 200;
      answer = { results };
    } else {
      const result = receive(body, sync);
      status = result.status;
      answer =
        result.status < 300
          ? { ok: true, ...(result.duplicate ? { duplicate: true } : {}) }
          : { message: result.message };
    }
    save();
    if (loseReply > 0) {
      loseReply--;
      stats.faults++;
      // Processed, but the sender never hears so: it must send again, and the keys make that harmless.
      req.socket.destroy();
      return;
    }
    json(res, status, answer);
  };

  const injectFaults = (f: WebhookFaults): void => {
    fail500 += f.fail500 ?? 0;
    loseReply += f.loseReply ?? 0;
    if (f.rateLimit) for (let i = 0; i < f.rateLimit.times; i++) rateLimits.push(f.rateLimit.retryAfterSeconds ?? 1);
    if (f.rejectKeys) {
      for (const key of f.rejectKeys.keys)
        rejectKeys.set(key, {
          status: f.rejectKeys.status ?? 422,
          message: f.rejectKeys.message ?? `record ${key} failed the receiver's validation`,
        });
    }
    for (const key of f.acceptKeys ?? []) rejectKeys.delete(key);
  };
  const reset = (): void => {
    stored = { records: {}, changes: [] };
    seen = new Set();
    received = [];
    stats = emptyStats();
    fail500 = 0;
    loseReply = 0;
    rateLimits = [];
    rejectKeys = new Map();
    save();
  };

  const handleControl = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /__sandbox/records') return json(res, 200, { records: stored.records });
    if (route === 'GET /__sandbox/changes') return json(res, 200, { changes: stored.changes });
    if (route === 'GET /__sandbox/received') return json(res, 200, { received });
    if (route === 'GET /__sandbox/stats') return json(res, 200, stats);
    if (route === 'POST /__sandbox/reset') return (reset(), json(res, 200, { ok: true }));
    if (route === 'POST /__sandbox/faults') {
      const raw = await readBody(req);
      injectFaults(raw === '' ? {} : (JSON.parse(raw) as WebhookFaults));
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'not_found' });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const handled = url.pathname.startsWith('/__sandbox/')
      ? handleControl(req, res, url)
      : url.pathname === HOOK_PATH
        ? handleHook(req, res)
        : Promise.resolve(json(res, 404, { error: `no hook at ${url.pathname}; POST to ${HOOK_PATH}` }));
    handled.catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${HOOK_PATH}`,
    secret,
    records: () => structuredClone(stored.records),
    changes: () => structuredClone(stored.changes),
    received: () => structuredClone(received),
    stats: () => ({ ...stats }),
    injectFaults,
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
