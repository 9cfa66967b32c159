/**
 * A local stand-in for the Graph API calls of Meta's Custom Audiences, for tests, the demo and
 * `ebb dev`. Faithful to Meta's public Marketing API docs: `GET /{version}/{audience_id}`,
 * `POST`/`DELETE /{version}/{audience_id}/users` with the form field `payload` (and `session`),
 * access tokens in an `Authorization: Bearer` header or the `access_token` parameter, answers
 * `{ audience_id, session_id, num_received, num_invalid_entries, invalid_entry_samples }`, and error
 * bodies `{ error: { message, type, code, error_subcode, fbtrace_id } }` (see meta-ad-account.ts).
 *
 *   const meta = await startMetaSandbox({ people: [{ EMAIL: 'Jane@Example.com' }] });
 *   // ebb.yaml: destinations.meta: { type: meta-audiences, accessToken: meta.token, apiUrl: meta.url }
 *   meta.members(meta.audienceId);   // [{ EMAIL: '<sha256 of jane@example.com>' }]
 *   meta.injectFaults({ rateLimit: { code: 17, times: 1 } });
 *
 * Inspection and control over HTTP too: GET /__sandbox/members?audience=, GET /__sandbox/sessions?audience=,
 * GET /__sandbox/received, GET /__sandbox/stats, POST /__sandbox/faults (JSON as for injectFaults),
 * POST /__sandbox/reset.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  MetaAdAccount,
  type GraphError,
  type MemberRow,
  type ReceivedValue,
  type SandboxAudience,
  type SeedPerson,
  type UploadSession,
} from './meta-ad-account';

export type { MemberRow, ReceivedValue, SandboxAudience, SeedPerson, UploadSession } from './meta-ad-account';
export { MetaAdAccount } from './meta-ad-account';

export const SANDBOX_AUDIENCE_ID = '23850000000000001';
const DEFAULT_TOKEN = 'EAAebbSandboxSystemUserToken';
const AD_ACCOUNT = 'act_1000000000001';

export interface MetaSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** The access token the sandbox accepts (with ads_management). */
  token?: string;
  /** Tokens that answer 190 / 463 "Session has expired". */
  expiredTokens?: string[];
  /** Tokens that are valid but lack ads_management: code 294 on uploads. */
  readOnlyTokens?: string[];
  /** Default: one customer-list audience, SANDBOX_AUDIENCE_ID. */
  audiences?: SandboxAudience[];
  /** People whose raw identifiers the sandbox knows, to recognise hashes of un-normalised values. */
  people?: SeedPerson[];
  latencyMs?: number;
  /** JSON file members and sessions are kept in, so a restarted sandbox keeps them (`ebb dev`). */
  file?: string;
}

export interface MetaFaults {
  /** The next `times` uploads answer Meta's throttling error with this code (4, 17, 32, 613, 80003...). */
  rateLimit?: { code: number; times: number; regainMinutes?: number };
  /** The next N uploads answer HTTP 500 with code 2 (temporary). */
  fail500?: number;
  /** From now on the token is expired (190 / 463). */
  expireToken?: boolean;
}

export interface MetaSandboxStats {
  /** Requests per route ("POST users", "DELETE users", "GET audience"), refused ones included. */
  calls: Record<string, number>;
  rateLimited: number;
  faults: number;
}

export interface MetaSandbox {
  /** Base URL for the destination's `apiUrl`, e.g. http://127.0.0.1:PORT. */
  url: string;
  token: string;
  audienceId: string;
  members(audienceId?: string): MemberRow[];
  sessions(audienceId?: string): UploadSession[];
  /** Every identifier value received, with why its row was counted invalid, if it was. */
  received(): ReceivedValue[];
  stats(): MetaSandboxStats;
  injectFaults(faults: MetaFaults): void;
  reset(): void;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startMetaSandbox(options: MetaSandboxOptions = {}): Promise<MetaSandbox> {
  const token = options.token ?? DEFAULT_TOKEN;
  const expired = new Set(options.expiredTokens ?? []);
  const readOnly = new Set(options.readOnlyTokens ?? []);
  const audiences = options.audiences ?? [
    { id: SANDBOX_AUDIENCE_ID, name: 'ebb sandbox customers', subtype: 'CUSTOM' },
  ];
  const account = new MetaAdAccount(audiences, options.people ?? [], options.file);
  let stats: MetaSandboxStats = { calls: {}, rateLimited: 0, faults: 0 };
  let rateLimits: Array<{ code: number; regainMinutes: number }> = [];
  let fail500 = 0;

  const graphError = (res: http.ServerResponse, failure: GraphError, headers: Record<string, string> = {}) =>
    json(
      res,
      failure.status,
      { error: { ...failure.error, fbtrace_id: randomBytes(8).toString('base64url') } },
      headers,
    );

  const authenticate = (presented: string, write: boolean): GraphError | null => {
    const oauth = (message: string, subcode?: number): GraphError => ({
      status: 400,
      error: { message, type: 'OAuthException', code: 190, ...(subcode ? { error_subcode: subcode } : {}) },
    });
    if (presented === '')
      return {
        status: 400,
        error: { message: 'An access token is required to request this resource.', type: 'OAuthException', code: 104 },
      };
    if (expired.has(presented)) {
      return oauth('Error validating access token: Session has expired on Tuesday, 01-Dec-26 10:00:00 PST.', 463);
    }
    if (presented !== token && !readOnly.has(presented))
      return oauth('Invalid OAuth access token - Cannot parse access token');
    if (write && readOnly.has(presented)) {
      return {
        status: 403,
        error: {
          message:
            '(#294) Managing advertisements requires an access token with the extended permission for ads_management',
          type: 'OAuthException',
          code: 294,
        },
      };
    }
    return null;
  };

  const count = (route: string) => (stats.calls[route] = (stats.calls[route] ?? 0) + 1);

  const handleGraph = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const raw = await readBody(req);
    const form = new URLSearchParams(raw);
    const match = /^\/v\d+\.\d+\/(\d+)(\/users)?\/?$/.exec(url.pathname);
    const method = (url.searchParams.get('method') ?? req.method ?? 'GET').toUpperCase();
    const route = match?.[2] ? `${method} users` : `${method} audience`;
    count(route);
    if (options.latencyMs) await sleep(options.latencyMs);
    const header = req.headers.authorization ?? '';
    const presented = /^(Bearer|OAuth) /i.test(header)
      ? header.replace(/^(Bearer|OAuth) /i, '').trim()
      : (form.get('access_token') ?? url.searchParams.get('access_token') ?? '');
    const refused = authenticate(presented, match?.[2] !== undefined);
    if (refused) return graphError(res, refused);
    if (!match) {
      return graphError(res, {
        status: 400,
        error: { message: `Unknown path components: ${url.pathname}`, type: 'OAuthException', code: 2500 },
      });
    }
    const audienceId = match[1] as string;
    if (!match[2]) {
      const audience = account.audience(audienceId);
      if (method !== 'GET' || !audience) {
        return graphError(res, {
          status: 400,
          error: {
            message: `Unsupported get request. Object with ID '${audienceId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
            type: 'GraphMethodException',
            code: 100,
            error_subcode: 33,
          },
        });
      }
      const status = audience.operationStatus ?? 200;
      return json(res, 200, {
        id: audience.id,
        name: audience.name,
        subtype: audience.subtype ?? 'CUSTOM',
        operation_status: { code: status, description: status === 200 ? 'Normal' : 'Flagged' },
      });
    }
    if (method !== 'POST' && method !== 'DELETE') {
      return graphError(res, {
        status: 400,
        error: { message: '(#100) Unsupported method', type: 'OAuthException', code: 100 },
      });
    }
    const throttle = rateLimits.shift();
    if (throttle) {
      stats.rateLimited++;
      stats.faults++;
      const usage = {
        [AD_ACCOUNT.replace('act_', '')]: [
          {
            type: 'custom_audience',
            call_count: 100,
            total_cputime: 40,
            total_time: 40,
            estimated_time_to_regain_access: throttle.regainMinutes,
          },
        ],
      };
      return graphError(
        res,
        {
          status: 400,
          error: {
            message:
              throttle.code === 80003
                ? 'There have been too many calls from this ad-account. Wait a bit and try again.'
                : '(#17) User request limit reached',
            type: 'OAuthException',
            code: throttle.code,
          },
        },
        { 'X-Business-Use-Case-Usage': JSON.stringify(usage) },
      );
    }
    if (fail500 > 0) {
      fail500--;
      stats.faults++;
      return graphError(res, {
        status: 500,
        error: {
          message: 'An unexpected error has occurred. Please retry your request later.',
          type: 'OAuthException',
          code: 2,
        },
      });
    }
    const payload = form.get('payload') ?? url.searchParams.get('payload') ?? undefined;
    const session = form.get('session') ?? url.searchParams.get('session') ?? undefined;
    const result = account.users(method, audienceId, payload, session);
    if (!result.ok) return graphError(res, result.failure);
    json(res, 200, result.body);
  };

  const injectFaults = (f: MetaFaults): void => {
    if (f.rateLimit) {
      for (let i = 0; i < f.rateLimit.times; i++)
        rateLimits.push({ code: f.rateLimit.code, regainMinutes: f.rateLimit.regainMinutes ?? 0 });
    }
    fail500 += f.fail500 ?? 0;
    if (f.expireToken) expired.add(token);
  };
  const reset = (): void => {
    account.reset();
    stats = { calls: {}, rateLimited: 0, faults: 0 };
    rateLimits = [];
    fail500 = 0;
  };

  const handleControl = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const route = `${req.method} ${url.pathname}`;
    const audience = url.searchParams.get('audience') ?? undefined;
    if (route === 'GET /__sandbox/members')
      return json(res, 200, { members: account.membersOf(audience ?? audiences[0]?.id ?? '') });
    if (route === 'GET /__sandbox/sessions') return json(res, 200, { sessions: account.sessionsOf(audience) });
    if (route === 'GET /__sandbox/received') return json(res, 200, { received: account.receivedValues() });
    if (route === 'GET /__sandbox/stats') return json(res, 200, stats);
    if (route === 'POST /__sandbox/reset') return (reset(), json(res, 200, { ok: true }));
    if (route === 'POST /__sandbox/faults') {
      const raw = await readBody(req);
      injectFaults(raw === '' ? {} : (JSON.parse(raw) as MetaFaults));
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'not_found' });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const handled = url.pathname.startsWith('/__sandbox/') ? handleControl(req, res, url) : handleGraph(req, res, url);
    handled.catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(error), type: 'OAuthException', code: 1 } });
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
    audienceId: audiences[0]?.id ?? SANDBOX_AUDIENCE_ID,
    members: (audienceId) => account.membersOf(audienceId ?? audiences[0]?.id ?? ''),
    sessions: (audienceId) => account.sessionsOf(audienceId),
    received: () => account.receivedValues(),
    stats: () => structuredClone(stats),
    injectFaults,
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
