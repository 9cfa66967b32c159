/**
 * One authorised Salesforce REST session, built on jsforce: authorises (salesforce-auth.ts: client
 * credentials, JWT bearer or a given access token), sends REST requests, keeps the API usage reported by `Sforce-Limit-Info`,
 * and turns failures into ebb's destination errors.
 *
 * Requests go through jsforce's HttpApi rather than `conn.request` so that the status and headers
 * of error responses (Retry-After) are visible, and with jsforce's own retries switched off:
 * Temporal owns retries, and jsforce would otherwise wait up to ~15 s per GET/DELETE on 5xx.
 */
import { stringifyExact } from './json-number-literal';
import { countRequest } from './request-counter';
import type { Connection, Schema } from 'jsforce';
import { FatalDestinationError, TransientDestinationError } from './destination';
import { openSalesforceConnection, type SalesforceAuth } from './salesforce-auth';
import type { ConnectionApiBudget } from './api-budget';

export interface SalesforceSessionConfig {
  loginUrl?: string | undefined;
  instanceUrl?: string | undefined;
  apiVersion: string;
  auth: SalesforceAuth;
  /** Directory a relative `auth.privateKeyFile` is read from (the directory of ebb.yaml). */
  baseDir?: string | undefined;
}

export interface ApiUsage {
  used: number;
  limit: number;
}

/** An error response Salesforce gave to a whole request, for the caller to interpret in context. */
export class SalesforceApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'SalesforceApiError';
  }
}

/*
 * jsforce takes a quarter of a second to load: it is loaded when a session first connects, not by
 * every command that reads ebb.yaml (`ebb status` has no use for it).
 */
type HttpApiModule = typeof import('jsforce/lib/http-api');
type HttpApi = InstanceType<HttpApiModule['HttpApi']>;
type HttpApiOptions = { retry: { maxRetries: number }; timeout: number };
/* eslint-disable @typescript-eslint/no-require-imports -- lazy vendor loading, see above */
const jsforceHttpApi = (): HttpApiModule => require('jsforce/lib/http-api') as HttpApiModule;
/* eslint-enable @typescript-eslint/no-require-imports */

let SingleAttemptHttpApi: (new (conn: Connection, options: HttpApiOptions) => HttpApi) | undefined;

/**
 * jsforce refreshes a session on 401 through a refresh token, which the client credentials flow
 * never issues, so it would fail with "No refresh token found"; we re-authorise ourselves instead.
 */
function singleAttemptHttpApi(conn: Connection, options: HttpApiOptions): HttpApi {
  SingleAttemptHttpApi ??= class extends jsforceHttpApi().HttpApi<Schema> {
    override getRefreshDelegate(): undefined {
      return undefined;
    }
  };
  return new SingleAttemptHttpApi(conn, options);
}

const requestTimeoutMs = 120_000;

/** Session renewals one request may trigger before an INVALID_SESSION_ID is reported (see request()). */
const maxRenewalsPerRequest = 2;

/** Network failure codes from node-fetch and node's sockets: the request may not have reached Salesforce. */
const networkErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

export class SalesforceSession {
  private connecting: Promise<Connection> | null = null;
  private usage: ApiUsage | null = null;

  /**
   * @param subject names the config at fault in error messages ("sync accounts-to-sf", or
   * "destination 'salesforce'" for a session its syncs share), so a person knows what to fix.
   * @param budget the connection's `apiBudget`: every REST request is taken from it before it is
   * sent (api-budget.ts); token requests are not, as Salesforce does not count them.
   */
  constructor(
    private readonly config: SalesforceSessionConfig,
    private readonly subject: string,
    private readonly budget?: ConnectionApiBudget,
  ) {}

  /** Daily API usage from the latest response, or null before the first response. */
  apiUsage(): ApiUsage | null {
    return this.usage;
  }

  /**
   * Asks the org for its daily API usage now (`GET /limits`, one request). The cached figure only
   * moves with our own responses, so it never sees the 24-hour window roll on, nor an admin raising
   * the limit; a paused delivery needs the fresh one to know it may go on.
   */
  async refreshApiUsage(): Promise<ApiUsage | null> {
    const limits = await this.request<{ DailyApiRequests?: { Max?: number; Remaining?: number } }>('GET', '/limits');
    const { Max: max, Remaining: remaining } = limits.DailyApiRequests ?? {};
    if (typeof max === 'number' && typeof remaining === 'number') {
      // DailyApiRequests is the documented fresh figure, whatever earlier headers said (API-CONTRACTS SF-4).
      this.usage = { used: max - remaining, limit: max };
    }
    return this.usage;
  }

  /**
   * Sends a request to a path under `/services/data/vXX.X`. Throws TransientDestinationError for
   * 5xx, 429, REQUEST_LIMIT_EXCEEDED and network failures, FatalDestinationError for credentials
   * Salesforce rejects, and SalesforceApiError for any other error response.
   */
  async request<T>(method: 'GET' | 'PATCH' | 'DELETE' | 'POST', path: string, body?: unknown): Promise<T> {
    let session = this.connection();
    // Each expiry seen is renewed once. A second renewal covers a session that expired again while
    // this request waited (an admin revoking sessions during a run); a third refusal in a row means
    // tokens are refused right after issue, which is a configuration problem.
    for (let renewals = 0; ; renewals++) {
      try {
        return await this.send<T>(await session, method, path, body);
      } catch (err) {
        const expired =
          err instanceof SalesforceApiError && err.errorCode === 'INVALID_SESSION_ID' && 'clientId' in this.config.auth;
        if (!expired || renewals >= maxRenewalsPerRequest) throw this.classify(err);
        session = this.renew(session);
      }
    }
  }

  /**
   * Runs `call` with the authorised jsforce Connection, for the APIs jsforce drives itself (Bulk API
   * 2.0 through `BulkV2`): counted as one request, renewed on INVALID_SESSION_ID and classified like
   * request(). jsforce's error carries Salesforce's errorCode but not the status, so the status is
   * inferred from the code (salesforceApiErrorOf).
   */
  async withConnection<T>(call: (conn: Connection) => Promise<T>): Promise<T> {
    let session = this.connection();
    for (let renewals = 0; ; renewals++) {
      const conn = await session;
      await this.takeFromBudget(conn);
      countRequest();
      try {
        return await call(conn);
      } catch (raw) {
        const err = salesforceApiErrorOf(raw);
        const expired =
          err instanceof SalesforceApiError && err.errorCode === 'INVALID_SESSION_ID' && 'clientId' in this.config.auth;
        if (!expired || renewals >= maxRenewalsPerRequest) throw this.classify(err);
        session = this.renew(session);
      }
    }
  }

  private connection(): Promise<Connection> {
    if (!this.connecting) {
      const connecting = this.authorize();
      this.connecting = connecting;
      // A failed authorisation must not be cached: the next call tries again. Only this attempt is
      // forgotten; a renewal started since then stays.
      connecting.catch(() => {
        if (this.connecting === connecting) this.connecting = null;
      });
    }
    return this.connecting;
  }

  /**
   * The session to retry with after `expired` was refused. Single flight: when several requests in
   * flight hit the same expired session, the first starts one renewal and the others await it, so
   * the org sees one token request, not one per batch; a request that fails on a session already
   * replaced just uses the replacement.
   */
  private renew(expired: Promise<Connection>): Promise<Connection> {
    if (this.connecting === expired) this.connecting = null;
    return this.connection();
  }

  private authorize(): Promise<Connection> {
    return openSalesforceConnection(this.config, this.subject);
  }

  /**
   * Takes one request from the connection's apiBudget, learning the org's allowance first when a
   * maxPercent share needs it and no response has reported it yet.
   */
  private async takeFromBudget(conn: Connection): Promise<void> {
    await this.budget?.take({
      orgLimit: () => this.usage?.limit ?? null,
      learnOrgLimit: async () => {
        const limits = await this.send<{ DailyApiRequests?: { Max?: number } }>(conn, 'GET', '/limits', undefined, {
          budgeted: false,
        });
        return limits.DailyApiRequests?.Max ?? this.usage?.limit ?? null;
      },
    });
  }

  private async send<T>(
    conn: Connection,
    method: string,
    path: string,
    body: unknown,
    options: { budgeted: boolean } = { budgeted: true },
  ): Promise<T> {
    if (options.budgeted) await this.takeFromBudget(conn);
    countRequest();
    const api = singleAttemptHttpApi(conn, { retry: { maxRetries: 0 }, timeout: requestTimeoutMs });
    let headers: Record<string, string> = {};
    let status = 0;
    api.on('response', (response: { statusCode: number; headers: Record<string, string> }) => {
      status = response.statusCode;
      headers = response.headers;
      const usage = /api-usage=(\d+)\/(\d+)/.exec(headers['sforce-limit-info'] ?? '');
      if (usage?.[1] && usage[2]) {
        this.usage = { used: Number(usage[1]), limit: Number(usage[2]) };
        conn.limitInfo = { apiUsage: this.usage };
      }
    });
    try {
      return await api.request<T>({
        method: method as 'GET',
        url: `${conn.instanceUrl}/services/data/v${conn.version}${path}`,
        ...(body === undefined ? {} : { body: stringifyExact(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (err) {
      if (status >= 400 && err instanceof Error) {
        const errorCode = (err as { errorCode?: string }).errorCode ?? `ERROR_HTTP_${status}`;
        throw new SalesforceApiError(status, errorCode, err.message, retryAfterMs(headers['retry-after']));
      }
      throw err;
    }
  }

  private classify(err: unknown): unknown {
    if (err instanceof SalesforceApiError) {
      if (err.status >= 500 || err.status === 429 || err.errorCode === 'REQUEST_LIMIT_EXCEEDED') {
        return new TransientDestinationError(`Salesforce answered ${err.status} ${err.errorCode}: ${err.message}`, {
          cause: err,
          retryAfterMs: err.retryAfterMs,
        });
      }
      if (err.errorCode === 'INVALID_SESSION_ID') {
        return new FatalDestinationError(
          'accessToken' in this.config.auth
            ? `Salesforce rejected the access token of ${this.subject} (INVALID_SESSION_ID: ${err.message}). Replace auth.accessToken of its Salesforce destination with a valid token for ${this.config.instanceUrl}, or use client credentials or JWT bearer auth so ebb can renew sessions itself.`
            : `Salesforce rejected ${maxRenewalsPerRequest} freshly issued sessions of ${this.subject} in a row (INVALID_SESSION_ID: ${err.message}). Check that the connected app's run-as user has API access.`,
          { cause: err },
        );
      }
      return err;
    }
    if (isNetworkError(err)) {
      const message = err instanceof Error ? err.message : String(err);
      return new TransientDestinationError(`Could not reach Salesforce: ${message}`, { cause: err });
    }
    return err;
  }
}

/**
 * A jsforce HttpApiError as a SalesforceApiError. jsforce keeps `errorCode` (ERROR_HTTP_<status>
 * for bodies it cannot read); its refresh of a session without a refresh token (client
 * credentials, JWT) fails with a plain Error, which means the session expired.
 */
function salesforceApiErrorOf(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof SalesforceApiError) return err;
  if (err.message === 'No refresh token found in the connection')
    return new SalesforceApiError(401, 'INVALID_SESSION_ID', 'Session expired or invalid', undefined);
  const errorCode = (err as { errorCode?: unknown }).errorCode;
  if (typeof errorCode !== 'string') return err;
  const fromText = /^ERROR_HTTP_(\d{3})$/.exec(errorCode)?.[1];
  const status = fromText
    ? Number(fromText)
    : ((
        { INVALID_SESSION_ID: 401, REQUEST_LIMIT_EXCEEDED: 403, NOT_FOUND: 404, SERVER_UNAVAILABLE: 503 } as Record<
          string,
          number
        >
      )[errorCode] ?? 400);
  return new SalesforceApiError(status, errorCode, err.message, undefined);
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && networkErrorCodes.has(code)) return true;
  if (err.name === 'FetchError' || err.name === 'AbortError') return true;
  return /socket hang up|fetch failed|ECONNRESET|ECONNREFUSED|network timeout|ERROR_HTTP_5\d\d/i.test(
    `${err.name} ${err.message}`,
  );
}

/** Retry-After is either delay-seconds or an HTTP date. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
