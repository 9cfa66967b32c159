/**
 * The two Graph API calls the Meta destination makes, over plain fetch: reading the audience (its
 * check) and adding or removing users (`POST`/`DELETE /{audience_id}/users`, form field `payload`).
 * Meta's official Node SDK (facebook-nodejs-business-sdk) would add a large dependency for two
 * requests, and its retries and logging would have to be switched off for Temporal to own them.
 *
 *   const api = new MetaApi({ accessToken, apiUrl: 'http://127.0.0.1:8790', apiVersion: 'v24.0' });
 *   await api.audience('23851234567890123');  // { id, name, subtype: 'CUSTOM', operation_status }
 *   await api.users('POST', '23851234567890123', { schema: ['EMAIL'], data: [['<sha256>']] }, session);
 */
import { countRequest } from './request-counter';

export interface UsersPayload {
  schema: string[];
  data: string[][];
}

/** Meta's upload session: the requests of one run, numbered, the last one flagged. */
export interface UploadSession {
  session_id: number;
  batch_seq: number;
  last_batch_flag: boolean;
  estimated_num_total?: number;
}

export interface UsersResponse {
  audience_id: string;
  session_id?: string | number;
  num_received: number;
  num_invalid_entries: number;
  invalid_entry_samples?: Record<string, unknown>;
}

export interface AudienceInfo {
  id: string;
  name?: string;
  subtype?: string;
  operation_status?: { code?: number; description?: string };
}

/** A Graph API error body `{ error: { message, type, code, error_subcode, ... } }`, or a failure without one. */
export class MetaApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | null,
    readonly subcode: number | null,
    readonly details: {
      type?: string;
      userTitle?: string;
      userMessage?: string;
      fbtraceId?: string;
      isTransient?: boolean;
      /** From X-Business-Use-Case-Usage's estimated_time_to_regain_access (minutes), in milliseconds. */
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
    this.name = 'MetaApiError';
  }
}

/** A request that never got an answer (refused connection, reset, timeout). */
export class MetaNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetaNetworkError';
  }
}

const DEFAULT_API_URL = 'https://graph.facebook.com';
const REQUEST_TIMEOUT_MS = 120_000;

export class MetaApi {
  private readonly base: string;
  constructor(private readonly options: { accessToken: string; apiUrl?: string; apiVersion: string }) {
    this.base = `${(options.apiUrl || DEFAULT_API_URL).replace(/\/+$/, '')}/${options.apiVersion}`;
  }

  audience(audienceId: string): Promise<AudienceInfo> {
    return this.request<AudienceInfo>('GET', `/${audienceId}?fields=id,name,subtype,operation_status`);
  }

  users(
    method: 'POST' | 'DELETE',
    audienceId: string,
    payload: UsersPayload,
    session: UploadSession | null,
  ): Promise<UsersResponse> {
    const form = new URLSearchParams({ payload: JSON.stringify(payload) });
    if (session) form.set('session', JSON.stringify(session));
    return this.request<UsersResponse>(method, `/${audienceId}/users`, form);
  }

  private async request<T>(method: string, path: string, form?: URLSearchParams): Promise<T> {
    countRequest();
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        // The token goes in a header, not the URL, so proxies and access logs never see it.
        headers: {
          authorization: `Bearer ${this.options.accessToken}`,
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: form?.toString(),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new MetaNetworkError(`${method} ${path.split('?')[0]} got no answer: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    const error = (body as { error?: Record<string, unknown> } | null)?.error;
    if (!response.ok || error) {
      throw new MetaApiError(
        typeof error?.message === 'string' ? error.message : `HTTP ${response.status} ${text.slice(0, 200)}`,
        response.status,
        typeof error?.code === 'number' ? error.code : null,
        typeof error?.error_subcode === 'number' ? error.error_subcode : null,
        {
          type: typeof error?.type === 'string' ? error.type : undefined,
          userTitle: typeof error?.error_user_title === 'string' ? error.error_user_title : undefined,
          userMessage: typeof error?.error_user_msg === 'string' ? error.error_user_msg : undefined,
          fbtraceId: typeof error?.fbtrace_id === 'string' ? error.fbtrace_id : undefined,
          isTransient: error?.is_transient === true,
          retryAfterMs: regainAccessMs(response.headers.get('x-business-use-case-usage')),
        },
      );
    }
    return body as T;
  }
}

/** The longest `estimated_time_to_regain_access` (minutes) in Meta's business-use-case usage header. */
function regainAccessMs(header: string | null): number | undefined {
  if (!header) return undefined;
  try {
    const usage = JSON.parse(header) as Record<string, Array<{ estimated_time_to_regain_access?: number }>>;
    const minutes = Object.values(usage)
      .flat()
      .map((u) => u.estimated_time_to_regain_access ?? 0);
    const longest = Math.max(0, ...minutes);
    return longest > 0 ? longest * 60_000 : undefined;
  } catch {
    return undefined;
  }
}
