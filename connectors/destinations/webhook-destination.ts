/**
 * Webhook destination: each batch of changed rows (or each row) is POSTed as JSON to a URL, signed
 * with HMAC-SHA256 so the receiver knows it came from ebb, and every record carries an idempotency
 * key so the receiver can drop a record it already processed when a delivery is re-executed.
 *
 *   destinations:
 *     hooks: { type: webhook, url: https://example.com/ebb-hook, secret: ${WEBHOOK_SECRET} }
 *   syncs:
 *     accounts-to-hook: { model: account_health, destination: hooks, mode: mirror }
 *
 * A request (batch mode):
 *   POST <url>
 *   Content-Type: application/json
 *   X-Ebb-Timestamp: 1764640000
 *   X-Ebb-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>
 *   {"sync":"accounts-to-hook","run":3,"batch":1,"records":[
 *     {"idempotencyKey":"ebb_5f0c...","key":"acme","operation":"upsert","data":{"name":"Acme","health":38}},
 *     {"idempotencyKey":"ebb_91aa...","key":"globex","operation":"delete","data":null}]}
 *
 * The receiver answers 2xx, optionally with per-record results `{"results":[{"idempotencyKey":"ebb_91aa...",
 * "status":422,"message":"unknown account"}]}`; records it does not name were accepted. In record mode
 * each request holds one record (plus an `Idempotency-Key` header) and its status is the record's.
 * 429, 408 and 5xx are retried by Temporal (after Retry-After); 401/403 (signature refused), 404/405/410
 * (wrong URL), 3xx and 413 (body too large) fail the run with what to fix.
 *
 * The idempotency key is a hash of the sync, the record's key, the operation, the hash of the record's
 * payload and the run: the same in every re-execution of a delivery, new for each change (and for a
 * row that comes back after it was deleted, which has the payload of its first delivery again).
 * Record values go only into request bodies, never into errors, logs or ebb's state store.
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  FatalDestinationError,
  RecordPreparationError,
  TransientDestinationError,
  type DeliveryContext,
  type Destination,
  type DestinationConnector,
  type DestinationLimits,
  type PreparedRecord,
  type RecordOutcome,
  type RecordToDeliver,
  type Row,
  columnsNotSelected,
  type StaticProblem,
} from './destination';
import { countRequest } from './request-counter';
import {
  WEBHOOK_MODES,
  webhookConnectionSchema,
  webhookSyncOptionsSchema,
  type WebhookConnection,
  type WebhookSyncOptions,
} from './webhook-config';

export { webhookConnectionSchema, webhookSyncOptionsSchema, type WebhookConnection, type WebhookSyncOptions };

export const WEBHOOK_SIGNATURE_HEADER = 'X-Ebb-Signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'X-Ebb-Timestamp';

export const WEBHOOK_BATCH_LIMITS: DestinationLimits = { batchSize: 100, maxConcurrency: 4 };
/** Record mode: each deliver() call posts its records one after another. */
export const WEBHOOK_RECORD_LIMITS: DestinationLimits = { batchSize: 10, maxConcurrency: 4 };

/** Per-record statuses that mean "try again shortly": re-sent within the delivery before they count as failed. */
export const WEBHOOK_TRANSIENT_RECORD_ERRORS: ReadonlySet<string> = new Set([
  'HTTP_408',
  'HTTP_429',
  'HTTP_500',
  'HTTP_502',
  'HTTP_503',
  'HTTP_504',
]);

/** The longest receiver message kept with a failed record. */
const MAX_MESSAGE = 200;

/** `v1=<hex>`: HMAC-SHA256 of `<timestamp>.<body>`, the scheme docs/destinations/webhook.md shows receivers. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Stable for re-executions of one delivery; new for every change (see the file comment). */
export function idempotencyKey(syncId: string, runNumber: number | null, record: RecordToDeliver): string {
  const parts = ['ebb-webhook-v1', syncId, String(runNumber ?? ''), record.key, record.operation, record.hash];
  return `ebb_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 40)}`;
}

interface WireRecord {
  idempotencyKey: string;
  key: string;
  operation: 'upsert' | 'delete';
  data: Record<string, unknown> | null;
}

interface ReceiverResult {
  idempotencyKey?: unknown;
  key?: unknown;
  status?: unknown;
  message?: unknown;
}

/** One answer of the receiver, its body read. */
interface Answer {
  status: number;
  body: unknown;
  text: string;
  retryAfterMs: number | undefined;
}

class WebhookDestination implements Destination {
  readonly limits: DestinationLimits;
  readonly transientRecordErrors = WEBHOOK_TRANSIENT_RECORD_ERRORS;
  private secretValue: string | undefined;
  private readonly where: string;
  private readonly endpoint: string;

  constructor(
    private readonly connection: WebhookConnection,
    private readonly sync: WebhookSyncOptions & { id: string; primaryKey: string },
    private readonly baseDir: string | undefined,
  ) {
    const defaults = connection.delivery === 'record' ? WEBHOOK_RECORD_LIMITS : WEBHOOK_BATCH_LIMITS;
    this.limits = { ...defaults, ...connection.limits };
    this.where = `destinations.${sync.destination ?? '<name>'}`;
    // Shown in errors: without a query string, which may hold a token.
    const url = new URL(connection.url);
    this.endpoint = `${url.origin}${url.pathname}`;
  }

  /** The signing secret, read once; a missing or empty one fails the run before anything is sent. */
  private secret(): string {
    if (this.secretValue !== undefined) return this.secretValue;
    let secret = this.connection.secret;
    if (secret === undefined) {
      const file = path.resolve(this.baseDir ?? process.cwd(), this.connection.secretFile ?? '');
      try {
        secret = fs.readFileSync(file, 'utf8').trim();
      } catch (error) {
        throw new FatalDestinationError(
          `cannot read the webhook signing secret from ${this.where}.secretFile ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): point secretFile at a file holding the secret, relative to ebb.yaml`,
          { cause: error },
        );
      }
    }
    if (secret.trim() === '') {
      throw new FatalDestinationError(
        `the webhook signing secret (${this.where}.${this.connection.secret === undefined ? 'secretFile' : 'secret'}) is empty: set it to the secret the receiver verifies signatures with`,
      );
    }
    this.secretValue = secret;
    return secret;
  }

  async check(): Promise<void> {
    this.secret();
  }

  prepare(row: Row): PreparedRecord {
    const rawKey = row[this.sync.primaryKey];
    if (rawKey === null || rawKey === undefined || rawKey === '') {
      throw new RecordPreparationError(
        `column '${this.sync.primaryKey}' (the model's primary key) is empty, and each webhook record needs a key`,
        'MISSING_KEY',
      );
    }
    const payload: Record<string, unknown> = {};
    if (this.sync.mapping) {
      for (const [column, field] of Object.entries(this.sync.mapping)) payload[field] = toJsonValue(row[column]);
    } else {
      for (const [column, value] of Object.entries(row)) payload[column] = toJsonValue(value);
    }
    return { key: String(rawKey), payload };
  }

  estimateRequests(work: { records: number; batches: number }): number {
    return this.connection.delivery === 'record' ? work.records : Math.ceil(work.records / this.limits.batchSize);
  }

  async deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
    const runNumber = ctx.run?.number ?? null;
    const wire = records.map((record): WireRecord => ({
      idempotencyKey: idempotencyKey(ctx.syncId, runNumber, record),
      key: record.key,
      operation: record.operation,
      data: record.operation === 'delete' ? null : record.payload,
    }));
    if (this.connection.delivery === 'record') {
      const outcomes: RecordOutcome[] = [];
      for (const one of wire) {
        ctx.heartbeat();
        const body = { sync: ctx.syncId, run: runNumber, ...one };
        const answer = await this.post(JSON.stringify(body), { 'Idempotency-Key': one.idempotencyKey });
        outcomes.push(this.recordOutcome(one, answer.status, messageOf(answer.body, answer.text)));
      }
      return outcomes;
    }
    ctx.heartbeat();
    const body = { sync: ctx.syncId, run: runNumber, batch: ctx.run?.batch ?? null, records: wire };
    const answer = await this.post(JSON.stringify(body), {});
    const results = resultsOf(answer.body);
    if (answer.status >= 300 && !results) {
      // A whole-request 4xx without per-record results: every record of it failed for that reason.
      const message = messageOf(answer.body, answer.text);
      return wire.map((one) => this.recordOutcome(one, answer.status, message));
    }
    const byIdempotencyKey = new Map<string, ReceiverResult>();
    const byKey = new Map<string, ReceiverResult>();
    for (const result of results ?? []) {
      if (typeof result.idempotencyKey === 'string') byIdempotencyKey.set(result.idempotencyKey, result);
      else if (typeof result.key === 'string' || typeof result.key === 'number') byKey.set(String(result.key), result);
    }
    return wire.map((one) => {
      const result = byIdempotencyKey.get(one.idempotencyKey) ?? byKey.get(one.key);
      const status = typeof result?.status === 'number' ? result.status : answer.status < 300 ? 200 : answer.status;
      return this.recordOutcome(one, status, typeof result?.message === 'string' ? shorten(result.message) : '');
    });
  }

  private recordOutcome(one: WireRecord, status: number, message: string): RecordOutcome {
    if (status >= 200 && status < 300) {
      return {
        key: one.key,
        status: 'succeeded',
        destinationId: one.operation === 'delete' ? null : one.idempotencyKey,
      };
    }
    return {
      key: one.key,
      status: 'failed',
      errorCode: `HTTP_${status}`,
      errorMessage: `the receiver refused the ${one.operation} with HTTP ${status}${message ? `: ${message}` : ''}`,
    };
  }

  /**
   * One signed POST. Whole-request trouble is thrown here: transient (429, 408, 5xx, no answer) for
   * Temporal to retry, fatal for what only a config change fixes. Other 4xx are returned: they are
   * about the records in it.
   */
  private async post(body: string, headers: Record<string, string>): Promise<Answer> {
    const secret = this.secret();
    const timestamp = String(Math.floor(Date.now() / 1000));
    countRequest();
    let response: Response;
    try {
      response = await fetch(this.connection.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'ebb-webhook/1',
          [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
          [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body),
          ...headers,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.connection.timeoutMs),
      });
    } catch (error) {
      const why =
        (error as Error).name === 'TimeoutError' ? `no answer within ${this.connection.timeoutMs} ms` : causeOf(error);
      throw new TransientDestinationError(`the webhook receiver at ${this.endpoint} did not answer (${why})`, {
        cause: error,
      });
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const answer: Answer = {
      status: response.status,
      body: parsed,
      text,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
    };
    this.throwForRequest(answer);
    return answer;
  }

  private throwForRequest(answer: Answer): void {
    const { status } = answer;
    const said = messageOf(answer.body, answer.text);
    const reply = `HTTP ${status}${said ? `: ${said}` : ''}`;
    if (status === 429 || status === 408 || status >= 500) {
      const wait =
        answer.retryAfterMs !== undefined ? `; it asked to wait ${Math.ceil(answer.retryAfterMs / 1000)} s` : '';
      throw new TransientDestinationError(
        `the webhook receiver at ${this.endpoint} is busy or failing (${reply})${wait}`,
        { retryAfterMs: answer.retryAfterMs },
      );
    }
    if (status === 401 || status === 403) {
      throw new FatalDestinationError(
        `the webhook receiver at ${this.endpoint} refused the request (${reply}): check that ${this.where}'s signing secret is the one the receiver verifies ${WEBHOOK_SIGNATURE_HEADER} with, and that its clock is within its tolerance of ${WEBHOOK_TIMESTAMP_HEADER}`,
      );
    }
    if (status === 404 || status === 405 || status === 410 || (status >= 300 && status < 400)) {
      throw new FatalDestinationError(
        `the webhook receiver at ${this.endpoint} does not take POSTs there (${reply}): check ${this.where}.url`,
      );
    }
    if (status === 413) {
      throw new FatalDestinationError(
        `the webhook receiver at ${this.endpoint} refused a request as too large (${reply}): lower ${this.where}.limits.batchSize or set delivery: record`,
      );
    }
  }

  async close(): Promise<void> {}
}

/** Model values as JSON: dates as ISO text, big integers as numbers when exact (else text), bytes as base64. */
function toJsonValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  // Structs, lists and maps stay nested; big integers inside them as above.
  if (typeof value === 'object')
    return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? toJsonValue(v) : v)));
  return value;
}

function resultsOf(body: unknown): ReceiverResult[] | null {
  const results = (body as { results?: unknown } | null)?.results;
  return Array.isArray(results)
    ? (results.filter((r) => r !== null && typeof r === 'object') as ReceiverResult[])
    : null;
}

/** The receiver's own words: a JSON `message` or `error`, or its text; one line, at most 200 characters. */
function messageOf(body: unknown, text: string): string {
  const fields = body as { message?: unknown; error?: unknown } | null;
  const said =
    typeof fields?.message === 'string'
      ? fields.message
      : typeof fields?.error === 'string'
        ? fields.error
        : body
          ? ''
          : text;
  return shorten(said);
}

function shorten(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** Retry-After as seconds or an HTTP date, in milliseconds. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function staticCheck(input: { sync: WebhookSyncOptions; modelColumns: string[] | null }): StaticProblem[] {
  return columnsNotSelected(['mapping'], Object.keys(input.sync.mapping ?? {}), input.modelColumns);
}

export const webhookConnector: DestinationConnector<WebhookConnection, WebhookSyncOptions> = {
  type: 'webhook',
  modes: WEBHOOK_MODES,
  connectionSchema: webhookConnectionSchema,
  syncOptionsSchema: webhookSyncOptionsSchema,
  staticCheck,
  create: ({ connection, sync, baseDir }) => new WebhookDestination(connection, sync, baseDir),
};
