/**
 * The HubSpot CRM v3 calls the HubSpot destination makes, through the official @hubspot/api-client:
 * the object type's property definitions, batch upsert by a unique property, batch archive by
 * record id, and batch read (for `ebb verify`). Each call answers with the response's
 * `X-HubSpot-RateLimit-*` figures, and every failure becomes a HubSpotApiError (HubSpot answered)
 * or a HubSpotNetworkError (no answer), so the destination decides what is transient or fatal.
 *
 *   const api = new HubSpotApi({ accessToken, basePath: 'http://127.0.0.1:8792' });
 *   const definitions = await api.properties('companies');
 *   const { status, results, errors } = await api.upsert('companies', [
 *     { idProperty: 'external_account_id', id: 'acme', objectWriteTraceId: 'acme', properties: { name: 'Acme' } },
 *   ]);
 *
 * The client's own retries are off (`numberOfApiCallRetries: 0`) so that Temporal owns every
 * retry: the client retries only some 429s, waits 10 s x attempt ignoring HubSpot's headers, and
 * would hide attempts from the run's history. Its decorators are process-global (the client's
 * ApiDecoratorService is a singleton that each `new Client` resets), so every client ebb makes
 * uses 0; a client with retries anywhere in the process would turn them on for all.
 */
import type * as HubSpotClient from '@hubspot/api-client';
import { countRequest } from './request-counter';

const DEFAULT_BASE_PATH = 'https://api.hubapi.com';

/** The slice of a HubSpot property definition ebb reads (GET /crm/v3/properties/{objectType}). */
export interface HubSpotProperty {
  name: string;
  label: string;
  /** string | number | enumeration | bool | date | datetime | phone_number | ... */
  type: string;
  fieldType: string;
  hasUniqueValue: boolean;
  calculated: boolean;
  readOnlyValue: boolean;
  options: Array<{ label: string; value: string; hidden: boolean }>;
}

export interface UpsertInput {
  idProperty: string;
  id: string;
  /** Echoed in the result and in the error of this input, so answers out of order still match. */
  objectWriteTraceId: string;
  properties: Record<string, string>;
}

export interface UpsertResult {
  id: string;
  properties: Record<string, string | null>;
  isNew: boolean;
  objectWriteTraceId?: string;
}

/** One error of a 207 answer (HubSpot's StandardError). */
export interface BatchError {
  status: string;
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: Array<{ message: string; code?: string; in?: string }>;
}

/** What HubSpot's rate-limit headers said on a response; fields absent when the header was. */
export interface RateLimitInfo {
  dailyLimit?: number;
  dailyRemaining?: number;
  intervalMs?: number;
  intervalMax?: number;
  intervalRemaining?: number;
  /** Retry-After in milliseconds, when HubSpot sent one. */
  retryAfterMs?: number;
}

/** HubSpot answered with an error status: `{ status: 'error', category, message, correlationId }`. */
export class HubSpotApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly category: string | null,
    readonly correlationId: string | null,
    readonly rateLimit: RateLimitInfo,
  ) {
    super(message);
    this.name = 'HubSpotApiError';
  }
}

/** A request that got no answer (refused connection, reset, lost reply). */
export class HubSpotNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubSpotNetworkError';
  }
}

interface HttpInfoLike<T> {
  httpStatusCode: number;
  headers: Record<string, string>;
  data: T;
}

interface ApiExceptionLike {
  code: number;
  body?: { message?: unknown; category?: unknown; correlationId?: unknown };
  headers?: Record<string, string>;
}

function number(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

export function rateLimitOf(headers: Record<string, string> | undefined): RateLimitInfo {
  const h = Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const retryAfter = number(h['retry-after']);
  const info: RateLimitInfo = {
    dailyLimit: number(h['x-hubspot-ratelimit-daily']),
    dailyRemaining: number(h['x-hubspot-ratelimit-daily-remaining']),
    intervalMs: number(h['x-hubspot-ratelimit-interval-milliseconds']),
    intervalMax: number(h['x-hubspot-ratelimit-max']),
    intervalRemaining: number(h['x-hubspot-ratelimit-remaining']),
    retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
  };
  return Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined)) as RateLimitInfo;
}

// Loaded when a HubSpot connection is first used: every CLI command loads the connector registry.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, see above
const hubspotClient = () => require('@hubspot/api-client') as typeof HubSpotClient;

export class HubSpotApi {
  private readonly client: HubSpotClient.Client;
  /** The rate-limit headers of the latest response, with when it came. */
  private latest: { at: Date; info: RateLimitInfo } | null = null;

  constructor(options: { accessToken: string; basePath?: string | undefined }) {
    this.client = new (hubspotClient().Client)({
      accessToken: options.accessToken,
      basePath: (options.basePath || DEFAULT_BASE_PATH).replace(/\/+$/, ''),
      numberOfApiCallRetries: 0,
    });
  }

  /** Rate-limit figures of the latest answer (successful or not), or null before any. */
  lastRateLimit(): { at: Date; info: RateLimitInfo } | null {
    return this.latest;
  }

  async properties(objectType: string): Promise<HubSpotProperty[]> {
    const answer = await this.call(`GET /crm/v3/properties/${objectType}`, () =>
      this.client.crm.properties.coreApi.getAllWithHttpInfo(objectType),
    );
    return answer.data.results.map((p) => ({
      name: p.name,
      label: p.label,
      type: p.type,
      fieldType: p.fieldType,
      hasUniqueValue: p.hasUniqueValue === true,
      calculated: p.calculated === true,
      readOnlyValue: p.modificationMetadata?.readOnlyValue === true,
      options: (p.options ?? []).map((o) => ({ label: o.label, value: o.value, hidden: o.hidden === true })),
    }));
  }

  /** One batch upsert; 200 and 207 answer, any other status throws HubSpotApiError. */
  async upsert(
    objectType: string,
    inputs: UpsertInput[],
  ): Promise<{ status: number; results: UpsertResult[]; errors: BatchError[] }> {
    const answer = await this.call(`POST /crm/v3/objects/${objectType}/batch/upsert`, () =>
      this.client.crm.objects.batchApi.upsertWithHttpInfo(objectType, { inputs }),
    );
    const data = answer.data as {
      results?: Array<{
        id: string;
        properties?: Record<string, string | null>;
        _new?: boolean;
        objectWriteTraceId?: string;
      }>;
      errors?: Array<{
        status?: string;
        category?: string;
        message?: string;
        context?: Record<string, string[]>;
        errors?: Array<{ message?: string; code?: string; _in?: string }>;
      }>;
    };
    return {
      status: answer.httpStatusCode,
      results: (data.results ?? []).map((r) => ({
        id: r.id,
        properties: r.properties ?? {},
        isNew: r._new === true,
        ...(r.objectWriteTraceId !== undefined ? { objectWriteTraceId: r.objectWriteTraceId } : {}),
      })),
      errors: (data.errors ?? []).map((e) => ({
        status: e.status ?? 'error',
        category: e.category ?? 'UNKNOWN',
        message: e.message ?? '',
        context: e.context ?? {},
        errors: (e.errors ?? []).map((d) => ({
          message: d.message ?? '',
          ...(d.code !== undefined ? { code: d.code } : {}),
          ...(d._in !== undefined ? { in: d._in } : {}),
        })),
      })),
    };
  }

  /** Archives records by HubSpot record id; ids HubSpot does not know are ignored (204 all the same). */
  async archive(objectType: string, ids: string[]): Promise<void> {
    await this.call(`POST /crm/v3/objects/${objectType}/batch/archive`, () =>
      this.client.crm.objects.batchApi.archiveWithHttpInfo(objectType, { inputs: ids.map((id) => ({ id })) }),
    );
  }

  /** Reads records by a unique property's values; values without a record are left out. */
  async read(
    objectType: string,
    idProperty: string,
    ids: string[],
    properties: string[],
  ): Promise<Array<{ id: string; properties: Record<string, string | null> }>> {
    const answer = await this.call(`POST /crm/v3/objects/${objectType}/batch/read`, () =>
      this.client.crm.objects.batchApi.readWithHttpInfo(objectType, {
        idProperty,
        inputs: ids.map((id) => ({ id })),
        properties: [...new Set([idProperty, ...properties])],
        propertiesWithHistory: [],
      }),
    );
    return answer.data.results.map((r) => ({ id: r.id, properties: r.properties ?? {} }));
  }

  private async call<T>(what: string, send: () => Promise<HttpInfoLike<T>>): Promise<HttpInfoLike<T>> {
    countRequest();
    let answer: HttpInfoLike<T>;
    try {
      answer = await send();
    } catch (error) {
      throw this.translate(what, error);
    }
    this.latest = { at: new Date(), info: rateLimitOf(answer.headers) };
    return answer;
  }

  private translate(what: string, error: unknown): Error {
    const exception = error as Partial<ApiExceptionLike> | null;
    if (exception && typeof exception.code === 'number' && exception.code >= 100 && exception.code < 600) {
      const info = rateLimitOf(exception.headers);
      this.latest = { at: new Date(), info };
      const body = exception.body;
      const message =
        typeof body?.message === 'string' && body.message !== ''
          ? body.message
          : `HTTP ${exception.code} without a message`;
      return new HubSpotApiError(
        message,
        exception.code,
        typeof body?.category === 'string' ? body.category : null,
        typeof body?.correlationId === 'string' ? body.correlationId : null,
        info,
      );
    }
    // node-fetch's FetchError (reset, refused, lost reply) and the like: HubSpot never answered.
    if (error instanceof Error && (error.name === 'FetchError' || 'errno' in error || 'code' in error)) {
      return new HubSpotNetworkError(`${what} got no answer: ${error.message}`, { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}
