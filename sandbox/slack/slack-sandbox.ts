/**
 * A local stand-in for the Slack Web API methods ebb uses, for tests, the demo and `ebb dev`.
 * Faithful to Slack's public docs: `POST /api/<method>` (form-encoded or JSON), bearer tokens,
 * 200 + `{ ok: false, error }` for API errors, 429 + Retry-After per channel for chat.postMessage.
 *
 *   const slack = await startSlackSandbox({ channels: [{ id: 'C0CSALERTS', name: 'cs-alerts' }] });
 *   const client = new WebClient(slack.token, { slackApiUrl: slack.url });
 *   await client.chat.postMessage({ channel: '#cs-alerts', text: 'hi' });
 *   slack.messages('#cs-alerts'); // [{ channel: 'C0CSALERTS', ts: '1714561234.000001', text: 'hi', edits: 0 }]
 *   await slack.close();
 *
 * Inspection and control over HTTP too (for the demo and other processes): GET /__sandbox/messages?channel=,
 * GET /__sandbox/stats, POST /__sandbox/faults (JSON body as for injectFaults), POST /__sandbox/reset.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SlackWorkspace,
  type MethodResult,
  type PostRateLimit,
  type SandboxChannelConfig,
  type SandboxMessage,
} from './slack-workspace';

export type { PostRateLimit, SandboxChannelConfig, SandboxMessage } from './slack-workspace';

export interface SlackSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** The bot token the sandbox accepts. */
  token?: string;
  /** Tokens that answer `token_revoked`. */
  revokedTokens?: string[];
  /** Scopes granted to the token; a method needing another answers `missing_scope`. Default: all ebb needs. */
  scopes?: string[];
  channels?: SandboxChannelConfig[];
  /** Default chat.postMessage budget per channel: 1 per second with a burst of 3. */
  postRateLimit?: PostRateLimit;
  /** Delay before every API answer, in milliseconds. */
  latencyMs?: number;
  /** JSON file the messages are kept in, so a restarted sandbox keeps them (as the Salesforce sandbox does). */
  file?: string;
}

export interface SlackFaults {
  /** The next N API calls answer HTTP 500 without doing anything. */
  fail500?: number;
  /** The next N API calls are dropped: the connection closes before anything happens. */
  drop?: number;
  /** The next N API calls take effect, then the connection closes before the answer (a lost response). */
  dropAfterCommit?: number;
  /** Only calls to this method (e.g. 'chat.postMessage') count towards the faults above. */
  method?: string;
  /** Replaces the latency of every answer from now on. */
  latencyMs?: number;
}

export interface SlackSandboxStats {
  /** API calls received per method, including refused ones. */
  calls: Record<string, number>;
  /** How many 429 answers were sent. */
  rateLimited: number;
  /** How many injected faults fired. */
  faults: number;
}

export interface SlackSandbox {
  /** Base URL for `WebClient`'s `slackApiUrl`, e.g. http://127.0.0.1:PORT/api/. */
  url: string;
  token: string;
  messages(channel?: string): SandboxMessage[];
  stats(): SlackSandboxStats;
  injectFaults(faults: SlackFaults): void;
  /** Forgets messages, stats, faults and rate budgets; channels and tokens stay. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_TOKEN = 'xoxb-ebb-sandbox-token';
const DEFAULT_CHANNELS: SandboxChannelConfig[] = [
  { id: 'C0CSALERTS', name: 'cs-alerts', member: true },
  { id: 'C0EBBALERT', name: 'ebb-alerts', member: true },
];
const ALL_SCOPES = ['chat:write', 'channels:read', 'groups:read', 'channels:history', 'groups:history'];
const METHOD_SCOPES: Record<string, string | undefined> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'conversations.list': 'channels:read',
  'conversations.info': 'channels:read',
  'conversations.history': 'channels:history',
};

type PendingFault = 'fail500' | 'drop' | 'dropAfterCommit';

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseArgs(raw: string, contentType: string, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (raw === '') return args;
  if (contentType.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? { ...args, ...(parsed as Record<string, unknown>) } : args;
  }
  return { ...args, ...Object.fromEntries(new URLSearchParams(raw)) };
}

function send(res: http.ServerResponse, result: MethodResult): void {
  res.writeHead(result.status, { 'Content-Type': 'application/json; charset=utf-8', ...result.headers });
  res.end(JSON.stringify(result.body));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  const token = options.token ?? DEFAULT_TOKEN;
  const revoked = new Set(options.revokedTokens ?? []);
  const scopes = new Set(options.scopes ?? ALL_SCOPES);
  const workspace = new SlackWorkspace(
    options.channels ?? DEFAULT_CHANNELS,
    options.postRateLimit ?? { perSecond: 1, burst: 3 },
    {
      id: 'T0EBBSANDB',
      name: 'ebb-sandbox',
    },
    options.file,
  );
  let latencyMs = options.latencyMs ?? 0;
  let faults: { kind: PendingFault; method?: string }[] = [];
  let stats: SlackSandboxStats = { calls: {}, rateLimited: 0, faults: 0 };

  const injectFaults = (f: SlackFaults): void => {
    for (const kind of ['fail500', 'drop', 'dropAfterCommit'] as const) {
      for (let i = 0; i < (f[kind] ?? 0); i++) faults.push({ kind, method: f.method });
    }
    if (f.latencyMs !== undefined) latencyMs = f.latencyMs;
  };
  const reset = (): void => {
    workspace.reset();
    faults = [];
    stats = { calls: {}, rateLimited: 0, faults: 0 };
  };
  const takeFault = (method: string): PendingFault | undefined => {
    const index = faults.findIndex((f) => f.method === undefined || f.method === method);
    if (index < 0) return undefined;
    const [fault] = faults.splice(index, 1);
    stats.faults += 1;
    return fault?.kind;
  };

  const authenticate = (
    req: http.IncomingMessage,
    args: Record<string, unknown>,
    method: string,
  ): MethodResult | null => {
    const header = req.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ')
      ? header.slice('Bearer '.length).trim()
      : typeof args.token === 'string'
        ? args.token
        : '';
    if (presented === '') return { status: 200, body: { ok: false, error: 'not_authed' } };
    if (revoked.has(presented)) return { status: 200, body: { ok: false, error: 'token_revoked' } };
    if (presented !== token) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const needed = METHOD_SCOPES[method];
    if (needed && !scopes.has(needed)) {
      return { status: 200, body: { ok: false, error: 'missing_scope', needed, provided: [...scopes].join(',') } };
    }
    return null;
  };

  const handleApi = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    url: URL,
  ): Promise<void> => {
    const raw = await readBody(req);
    stats.calls[method] = (stats.calls[method] ?? 0) + 1;
    if (latencyMs > 0) await sleep(latencyMs);
    const fault = takeFault(method);
    if (fault === 'drop') return void req.socket.destroy();
    if (fault === 'fail500') return send(res, { status: 500, body: { ok: false, error: 'internal_error' } });
    let args: Record<string, unknown>;
    try {
      args = parseArgs(raw, req.headers['content-type'] ?? '', url.searchParams);
    } catch {
      return send(res, { status: 200, body: { ok: false, error: 'invalid_json' } });
    }
    const result = authenticate(req, args, method) ?? workspace.call(method, args, Date.now());
    if (result.status === 429) stats.rateLimited += 1;
    if (fault === 'dropAfterCommit') return void req.socket.destroy();
    send(res, result);
  };

  const handleControl = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const route = `${req.method} ${url.pathname}`;
    const json = (body: unknown) => send(res, { status: 200, body: body as Record<string, unknown> });
    if (route === 'GET /__sandbox/messages')
      return json({ messages: workspace.allMessages(url.searchParams.get('channel') ?? undefined) });
    if (route === 'GET /__sandbox/stats') return json(stats);
    if (route === 'POST /__sandbox/reset') return (reset(), json({ ok: true }));
    if (route === 'POST /__sandbox/faults') {
      const raw = await readBody(req);
      injectFaults(raw === '' ? {} : (JSON.parse(raw) as SlackFaults));
      return json({ ok: true });
    }
    send(res, { status: 404, body: { ok: false, error: 'not_found' } });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const apiMethod = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname)?.[1];
    const handled = apiMethod
      ? handleApi(req, res, apiMethod, url)
      : url.pathname.startsWith('/__sandbox/')
        ? handleControl(req, res, url)
        : Promise.resolve(send(res, { status: 404, body: { ok: false, error: 'unknown_method' } }));
    handled.catch((error: unknown) => {
      if (!res.headersSent)
        send(res, { status: 500, body: { ok: false, error: 'internal_error', detail: String(error) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    token,
    messages: (channel) => workspace.allMessages(channel),
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
