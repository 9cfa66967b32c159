/**
 * A local stand-in for the HubSpot CRM v3 APIs ebb uses, for tests, the demo and `ebb dev`, reached
 * through the real @hubspot/api-client (`basePath`). Faithful to HubSpot's public docs:
 * `Authorization: Bearer <private app token>` (401 otherwise), `GET /crm/v3/properties/{objectType}`,
 * `POST /crm/v3/objects/{objectType}/batch/upsert` (200, 207 with per-input errors, 400 for the
 * whole batch: see hubspot-portal.ts), `batch/read` and `batch/archive` (204), error bodies
 * `{ status: 'error', message, correlationId, category }`, and the rate-limit headers
 * `X-HubSpot-RateLimit-{Daily,Daily-Remaining,Interval-Milliseconds,Max,Remaining}` on every answer,
 * with 429 `{ errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' | 'DAILY' }` past either.
 *
 *   const hubspot = await startHubSpotSandbox({ intervalMax: 10 });
 *   // ebb.yaml: destinations.hubspot: { type: hubspot, accessToken: hubspot.token, basePath: hubspot.url }
 *   hubspot.records('companies');   // [{ id: '1001', properties: { external_account_id: 'acme', ... } }]
 *   hubspot.injectFaults({ rateLimit: { policy: 'TEN_SECONDLY_ROLLING', times: 1 } });
 *
 * Inspection and control over HTTP too: GET /__sandbox/records/{objectType}, GET /__sandbox/stats,
 * POST /__sandbox/faults (JSON as for injectFaults), POST /__sandbox/reset.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_OBJECT_TYPES,
  HubSpotPortal,
  type HubSpotRecord,
  type SandboxObjectType,
  type UpsertInput,
} from './hubspot-portal';

export type { HubSpotRecord, SandboxObjectType, SandboxProperty } from './hubspot-portal';
export { DEFAULT_OBJECT_TYPES } from './hubspot-portal';

const DEFAULT_TOKEN = 'pat-na1-ebb-sandbox-0000';

export interface HubSpotSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  token?: string;
  objectTypes?: SandboxObjectType[];
  /** Requests per rolling interval (HubSpot: 100 on Free/Starter, 190 on Pro/Enterprise). */
  intervalMax?: number;
  /** The rolling interval, 10 seconds at HubSpot; tests shorten it. */
  intervalMs?: number;
  /** Requests per day (HubSpot: 250,000 and up). */
  dailyMax?: number;
  latencyMs?: number;
  /** JSON file the records are kept in, so a restarted sandbox keeps them (`ebb dev`). */
  file?: string;
}

export interface HubSpotFaults {
  /** The next `times` API requests answer 429 for this policy, whatever the counters say. */
  rateLimit?: { policy: 'TEN_SECONDLY_ROLLING' | 'DAILY'; times: number };
  /** The next N API requests answer 502 (HubSpot's gateway timeouts look like this). */
  fail5xx?: number;
  /** The next N upserts are written, then the connection is dropped before the answer: a lost reply. */
  dropAfterWrite?: number;
  /** Requests used today so far (sets the daily counter). */
  dailyUsed?: number;
  /** From now on the token is refused as expired. */
  expireToken?: boolean;
}

export interface HubSpotSandboxStats {
  /** Requests per route ("POST upsert", "GET properties", "POST archive", "POST read"), refused ones included. */
  calls: Record<string, number>;
  /** Inputs written by upserts (an input upserted twice counts twice). */
  inputsUpserted: number;
  rateLimited: number;
  faults: number;
  /** The most requests seen within one rolling interval. */
  peakPerInterval: number;
}

export interface HubSpotSandbox {
  /** Base URL for the destination's `basePath`, e.g. http://127.0.0.1:PORT. */
  url: string;
  token: string;
  records(objectType: string): HubSpotRecord[];
  stats(): HubSpotSandboxStats;
  injectFaults(faults: HubSpotFaults): void;
  reset(): void;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function propertyDefinition(p: SandboxObjectType['properties'][number], index: number) {
  const fieldType =
    p.fieldType ??
    { number: 'number', enumeration: 'select', bool: 'booleancheckbox', date: 'date', datetime: 'date' }[p.type] ??
    'text';
  return {
    name: p.name,
    label: p.label ?? p.name.replace(/_/g, ' '),
    type: p.type,
    fieldType,
    description: '',
    groupName: 'ebb_sandbox',
    options: (p.options ?? []).map((value, displayOrder) => ({ label: value, value, displayOrder, hidden: false })),
    displayOrder: index,
    hasUniqueValue: p.hasUniqueValue ?? false,
    hidden: false,
    formField: !p.readOnlyValue,
    calculated: false,
    externalOptions: false,
    hubspotDefined: !p.name.includes('_') || p.name.startsWith('hs_'),
    modificationMetadata: { archivable: true, readOnlyDefinition: true, readOnlyValue: p.readOnlyValue ?? false },
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    archived: false,
  };
}

export async function startHubSpotSandbox(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const token = options.token ?? DEFAULT_TOKEN;
  const intervalMax = options.intervalMax ?? 100;
  const intervalMs = options.intervalMs ?? 10_000;
  const dailyMax = options.dailyMax ?? 250_000;
  const portal = new HubSpotPortal(options.objectTypes ?? DEFAULT_OBJECT_TYPES, options.file);
  let stats: HubSpotSandboxStats = { calls: {}, inputsUpserted: 0, rateLimited: 0, faults: 0, peakPerInterval: 0 };
  let recent: number[] = [];
  let dailyUsed = 0;
  let forcedLimits: Array<'TEN_SECONDLY_ROLLING' | 'DAILY'> = [];
  let fail5xx = 0;
  let dropAfterWrite = 0;
  let expired = false;

  const error = (res: http.ServerResponse, status: number, category: string, message: string, headers = {}) =>
    json(res, status, { status: 'error', message, correlationId: randomUUID(), category }, headers);

  /** Counts the request against both limits; the headers it answers with, or the policy it broke. */
  const meter = (): { headers: Record<string, string>; broken: 'TEN_SECONDLY_ROLLING' | 'DAILY' | null } => {
    const now = Date.now();
    recent = recent.filter((t) => now - t < intervalMs);
    const forced = forcedLimits.shift() ?? null;
    const broken =
      forced ?? (dailyUsed >= dailyMax ? 'DAILY' : recent.length >= intervalMax ? 'TEN_SECONDLY_ROLLING' : null);
    if (!broken) {
      recent.push(now);
      dailyUsed++;
      stats.peakPerInterval = Math.max(stats.peakPerInterval, recent.length);
    }
    return {
      broken,
      headers: {
        'X-HubSpot-RateLimit-Daily': String(dailyMax),
        'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, dailyMax - dailyUsed)),
        'X-HubSpot-RateLimit-Interval-Milliseconds': String(intervalMs),
        'X-HubSpot-RateLimit-Max': String(intervalMax),
        'X-HubSpot-RateLimit-Remaining': String(Math.max(0, intervalMax - recent.length)),
      },
    };
  };

  const handleApi = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const raw = await readBody(req);
    const properties = /^\/crm\/v3\/properties\/([^/]+)\/?$/.exec(url.pathname);
    const batch = /^\/crm\/v3\/objects\/([^/]+)\/batch\/(upsert|archive|read)\/?$/.exec(url.pathname);
    const route = properties
      ? `${req.method} properties`
      : batch
        ? `${req.method} ${batch[2]}`
        : `${req.method} ${url.pathname}`;
    stats.calls[route] = (stats.calls[route] ?? 0) + 1;
    if (options.latencyMs) await sleep(options.latencyMs);

    const presented = /^Bearer /i.test(req.headers.authorization ?? '')
      ? (req.headers.authorization ?? '').slice(7).trim()
      : '';
    if (presented !== token || expired) {
      return expired && presented === token
        ? error(res, 401, 'EXPIRED_AUTHENTICATION', 'The OAuth token used to make this call expired 0 second(s) ago.')
        : error(
            res,
            401,
            'INVALID_AUTHENTICATION',
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          );
    }
    const { headers, broken } = meter();
    if (broken) {
      stats.rateLimited++;
      return json(
        res,
        429,
        {
          status: 'error',
          message: `You have reached your ${broken === 'DAILY' ? 'daily' : 'ten_secondly_rolling'} limit.`,
          errorType: 'RATE_LIMIT',
          correlationId: randomUUID(),
          policyName: broken,
        },
        headers,
      );
    }
    if (fail5xx > 0) {
      fail5xx--;
      stats.faults++;
      return json(
        res,
        502,
        { status: 'error', message: 'Bad Gateway', correlationId: randomUUID(), category: 'BAD_GATEWAY' },
        headers,
      );
    }

    if (properties && req.method === 'GET') {
      const type = portal.objectType(decodeURIComponent(properties[1] as string));
      if (!type)
        return error(res, 400, 'VALIDATION_ERROR', `Unable to infer object type from: ${properties[1]}`, headers);
      return json(res, 200, { results: type.properties.map(propertyDefinition) }, headers);
    }
    if (!batch || req.method !== 'POST')
      return error(res, 404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${url.pathname}`, headers);
    const typeName = decodeURIComponent(batch[1] as string);
    if (!portal.objectType(typeName))
      return error(res, 400, 'VALIDATION_ERROR', `Unable to infer object type from: ${typeName}`, headers);
    let body: { inputs?: unknown; idProperty?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return error(res, 400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1', headers);
    }
    if (!Array.isArray(body.inputs)) return error(res, 400, 'VALIDATION_ERROR', 'inputs is required', headers);
    const startedAt = new Date().toISOString();

    if (batch[2] === 'archive') {
      portal.archive(
        typeName,
        (body.inputs as Array<{ id?: unknown }>).map((i) => String(i.id)),
      );
      res.writeHead(204, headers);
      return void res.end();
    }
    if (batch[2] === 'read') {
      const ids = (body.inputs as Array<{ id?: unknown }>).map((i) => String(i.id));
      const found = portal.read(typeName, ids, typeof body.idProperty === 'string' ? body.idProperty : undefined);
      const results = found.map((r) => ({ ...r, archived: false }));
      return json(res, 200, { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() }, headers);
    }
    const answer = portal.upsert(typeName, body.inputs as UpsertInput[]);
    if ('message' in answer) return error(res, answer.status, answer.category, answer.message, headers);
    stats.inputsUpserted += answer.results.length;
    if (dropAfterWrite > 0) {
      dropAfterWrite--;
      stats.faults++;
      return void res.socket?.destroy();
    }
    const completedAt = new Date().toISOString();
    const results = answer.results.map((r) => ({ ...r, archived: false }));
    return json(
      res,
      answer.status,
      answer.status === 207
        ? {
            status: 'COMPLETE',
            results,
            numErrors: answer.errors.length,
            errors: answer.errors,
            startedAt,
            completedAt,
          }
        : { status: 'COMPLETE', results, startedAt, completedAt },
      headers,
    );
  };

  const injectFaults = (f: HubSpotFaults): void => {
    for (let i = 0; i < (f.rateLimit?.times ?? 0); i++)
      forcedLimits.push(f.rateLimit?.policy ?? 'TEN_SECONDLY_ROLLING');
    fail5xx += f.fail5xx ?? 0;
    dropAfterWrite += f.dropAfterWrite ?? 0;
    if (f.dailyUsed !== undefined) dailyUsed = f.dailyUsed;
    if (f.expireToken) expired = true;
  };
  const reset = (): void => {
    portal.reset();
    stats = { calls: {}, inputsUpserted: 0, rateLimited: 0, faults: 0, peakPerInterval: 0 };
    recent = [];
    dailyUsed = 0;
    forcedLimits = [];
    fail5xx = 0;
    dropAfterWrite = 0;
    expired = false;
  };

  const handleControl = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const records = /^\/__sandbox\/records\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && records) return json(res, 200, { records: portal.recordsOf(records[1] as string) });
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /__sandbox/stats') return json(res, 200, stats);
    if (route === 'POST /__sandbox/reset') return (reset(), json(res, 200, { ok: true }));
    if (route === 'POST /__sandbox/faults') {
      const raw = await readBody(req);
      injectFaults(raw === '' ? {} : (JSON.parse(raw) as HubSpotFaults));
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'not_found' });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const handled = url.pathname.startsWith('/__sandbox/') ? handleControl(req, res, url) : handleApi(req, res, url);
    handled.catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { status: 'error', message: String(err), category: 'INTERNAL_ERROR' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    records: (objectType) => portal.recordsOf(objectType),
    stats: () => structuredClone(stats),
    injectFaults,
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
