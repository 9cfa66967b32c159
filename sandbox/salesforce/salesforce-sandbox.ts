/**
 * A local Salesforce org over HTTP, faithful to the public REST API for what ebb uses: OAuth 2.0
 * client credentials and JWT bearer (salesforce-oauth.ts, with `jwt: { publicKey }`), describe, SOQL queries by field value (salesforce-soql.ts), sObject
 * Collections upsert, create, update and delete, limits, the
 * `Sforce-Limit-Info` header, the daily request budget, and injectable faults.
 *
 *   const sf = await startSalesforceSandbox({ port: 0 });
 *   const conn = new Connection({ oauth2: { loginUrl: sf.url, clientId: sf.clientId, clientSecret: sf.clientSecret }, version: '60.0' });
 *   await conn.authorize({ grant_type: 'client_credentials' });
 *   sf.injectFaults({ serverUnavailable: 1 });   // the next request answers 503
 *   sf.injectFaults({ lockErrors: { keys: ['acme'], count: 2 } }); // acme's row is locked for 2 upserts
 *   sf.records('Account');                       // what landed
 *   await sf.close();
 *
 * Faults (SalesforceSandboxFaults), each as a count (the next N API requests) or, under
 * `probabilities`, as a chance per request drawn from a seeded PRNG (`seed`): every request takes
 * the same draws on arrival, so under a seed the n-th request meets the same faults however
 * requests interleave (lock faults draw from a stream of their own); counts are used up first.
 * A request meets at most one of the answering faults, checked in this order:
 *   - dropConnection: the socket is destroyed before the request is applied (nothing written);
 *   - serverUnavailable: 503 with Salesforce's body `[{errorCode: 'SERVER_UNAVAILABLE', message}]`;
 *   - htmlErrorPage: a load balancer's error page, `htmlErrorStatus` (default 502) with
 *     `Content-Type: text/html` and an HTML body, nothing written;
 *   - throttled: 429 with `Retry-After: retryAfterSeconds` (default 1);
 *   - loseResponse: only for writes (PATCH, POST, DELETE under /services/data): the request is
 *     applied, then the socket is destroyed without an answer, so the client cannot know it landed.
 * Besides those: slowResponse delays a request by `slowResponseMs` (default 2000) and latencyMs
 * every request; `probabilities.expireSessions` invalidates every token issued so far before a
 * request, as an admin revoking sessions mid-run (`expireSessions: true` does it once, now);
 * lockErrors fail single records of collections upserts (and of Bulk upsert jobs) with UNABLE_TO_LOCK_ROW (by key, count or
 * probability); dailyApiLimit/apiUsed exhaust the daily budget (403 REQUEST_LIMIT_EXCEEDED).
 * Stats count every fault answered (unavailableResponses, htmlErrorPages, throttledResponses,
 * droppedConnections, lostResponses, slowResponses, sessionsExpired, recordsLocked).
 *
 *   sf.injectFaults({ seed: 42, probabilities: { serverUnavailable: 0.05, loseResponse: 0.02 } });
 *
 * The same inspection is available over HTTP for other processes: GET /__sandbox/records/{T},
 * GET /__sandbox/stats, GET /__sandbox/upsert-attempts/{T}, POST /__sandbox/faults (body:
 * SalesforceSandboxFaults), POST /__sandbox/reset, GET /__sandbox/bulk-jobs (the Bulk API 2.0 job log).
 *
 * Bulk API 2.0 ingest jobs (`/jobs/ingest`) are served by salesforce-bulk-ingest.ts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSafeNumber, LosslessNumber, parse as parseLossless } from 'lossless-json';
import { defaultObjects, describeSObject, type SalesforceObjectDefinition } from './salesforce-objects';
import { SalesforceOrg, SalesforceRequestError, type SalesforceRecord } from './salesforce-org';
import { runSoql } from './salesforce-soql';
import { salesforceId } from './salesforce-record-ids';
import { mulberry32 } from '../seeded-random';
import { BulkIngest, type BulkIngestOptions, type BulkJobLogEntry } from './salesforce-bulk-ingest';
import { checkJwtAssertion, type SalesforceJwtSettings } from './salesforce-oauth';

/**
 * Pending faults apply to API requests (not /__sandbox/) in this order: dropped connections, 503s,
 * HTML error pages, 429s, lost responses (see the header comment).
 */
export interface SalesforceSandboxFaults {
  /** Answer the next N requests with 503 SERVER_UNAVAILABLE. */
  serverUnavailable?: number;
  /** Answer the next N requests with 429 and a Retry-After header (burst throttling). */
  throttled?: number;
  /** Retry-After seconds sent with throttled answers (default 1). */
  retryAfterSeconds?: number;
  /** Destroy the socket of the next N requests without answering (before applying them). */
  dropConnection?: number;
  /** Answer the next N requests with a load balancer's HTML error page (`htmlErrorStatus`), not applying them. */
  htmlErrorPage?: number;
  /** HTTP status of HTML error pages (default 502 Bad Gateway). */
  htmlErrorStatus?: number;
  /** Apply the next N write requests, then destroy their sockets without answering. */
  loseResponse?: number;
  /** Delay the next N requests by slowResponseMs. */
  slowResponse?: number;
  /** Delay of slow responses, in milliseconds (default 2000). */
  slowResponseMs?: number;
  /** Chance per API request of each fault; replaces earlier probabilities, null removes them. */
  probabilities?: SalesforceFaultProbabilities | null;
  /** Seeds the PRNG behind probabilities and lock probabilities (default: a random seed). */
  seed?: number;
  /** Delay before answering every request, in milliseconds. */
  latencyMs?: number;
  /** Daily API request budget reported in Sforce-Limit-Info (default 100000). */
  dailyApiLimit?: number;
  /** API requests already used today; set it near the limit to test budget exhaustion. */
  apiUsed?: number;
  /** Invalidate every access token issued so far (the static token too), as when a session expires. */
  expireSessions?: boolean;
  /**
   * Records of collections upserts fail with UNABLE_TO_LOCK_ROW and are not written, as when another
   * transaction holds their rows; the other records of the request are saved. Replaces earlier lock
   * faults and their counts; null removes them.
   */
  lockErrors?: SalesforceLockFaults | null;
}

/**
 * Chances (0..1) per API request. The answering faults are exclusive: one draw picks at most one of
 * them, so { serverUnavailable: 0.05, throttled: 0.05 } fails 10% of requests. slowResponse and
 * expireSessions are drawn apart and may come with any of them.
 */
export interface SalesforceFaultProbabilities {
  dropConnection?: number;
  serverUnavailable?: number;
  htmlErrorPage?: number;
  throttled?: number;
  /** Applies to writes only; a read drawing it is answered normally. */
  loseResponse?: number;
  slowResponse?: number;
  /** Invalidate every access token issued so far before answering. */
  expireSessions?: number;
}

export interface SalesforceLockFaults {
  /** External id values whose rows are locked (default: every record). */
  keys?: string[];
  /** How many attempts of each such record fail before its row frees up (default: every attempt). */
  count?: number;
  /** Chance that an attempt of such a record finds its row locked (default 1). */
  probability?: number;
}

export interface SalesforceSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  clientId?: string;
  clientSecret?: string;
  /** A token accepted without any OAuth exchange, for `auth: { accessToken }` configs. */
  accessToken?: string;
  /** Enables the JWT bearer grant: assertions are verified against this public key. */
  jwt?: SalesforceJwtSettings;
  /** The org's sObjects; defaults to Account and Contact with ebb's demo custom fields. */
  objects?: SalesforceObjectDefinition[];
  /** JSON file the records are kept in, so a restarted sandbox keeps them. */
  file?: string;
  faults?: SalesforceSandboxFaults;
  /** Bulk API 2.0 processing delay and limits. */
  bulk?: BulkIngestOptions;
}

export interface SalesforceSandboxStats {
  total: number;
  tokenRequests: number;
  versionsRequests: number;
  describeRequests: number;
  limitsRequests: number;
  queryRequests: number;
  upsertRequests: number;
  createRequests: number;
  updateRequests: number;
  deleteRequests: number;
  recordsUpserted: number;
  /** Created by upserts and by creates. */
  recordsCreated: number;
  /** Updated by Id (collections update; upserts count in recordsUpserted). */
  recordsUpdated: number;
  recordsDeleted: number;
  recordsFailed: number;
  /** Records answered UNABLE_TO_LOCK_ROW by the lockErrors fault (counted in recordsFailed too). */
  recordsLocked: number;
  /** Requests answered with an error status (auth, limits, malformed requests, injected faults). */
  rejectedRequests: number;
  droppedConnections: number;
  /** Requests answered 503 SERVER_UNAVAILABLE by the serverUnavailable fault. */
  unavailableResponses: number;
  /** Requests answered 429 by the throttled fault. */
  throttledResponses: number;
  htmlErrorPages: number;
  /** Writes applied whose answer was never sent (the loseResponse fault). */
  lostResponses: number;
  slowResponses: number;
  /** Times every token was invalidated by probabilities.expireSessions. */
  sessionsExpired: number;
}

export interface SalesforceSandbox {
  /** Base URL, used both as OAuth loginUrl and as instance_url. */
  readonly url: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accessToken: string;
  records(type: string): SalesforceRecord[];
  stats(): SalesforceSandboxStats;
  /** How many times each external id value of `type` reached the save of a collections upsert. */
  upsertAttempts(type: string): Record<string, number>;
  injectFaults(faults: SalesforceSandboxFaults): void;
  /** Every Bulk API 2.0 ingest job so far, with the states it went through (the sandbox's job log). */
  bulkJobs(): BulkJobLogEntry[];
  /** Changes the Bulk API 2.0 processing delay or limits from now on. */
  configureBulk(options: BulkIngestOptions): void;
  /** Deletes every record, zeroes stats, attempts and API usage, clears faults, and accepts the static token again. */
  reset(): void;
  close(): Promise<void>;
}

const minVersion = 31;
const maxVersion = 62;
const orgId = salesforceId('00D', 1);
const userId = salesforceId('005', 1);

const emptyStats = (): SalesforceSandboxStats => ({
  total: 0,
  tokenRequests: 0,
  versionsRequests: 0,
  describeRequests: 0,
  limitsRequests: 0,
  queryRequests: 0,
  upsertRequests: 0,
  createRequests: 0,
  updateRequests: 0,
  deleteRequests: 0,
  recordsUpserted: 0,
  recordsCreated: 0,
  recordsUpdated: 0,
  recordsDeleted: 0,
  recordsFailed: 0,
  recordsLocked: 0,
  rejectedRequests: 0,
  droppedConnections: 0,
  unavailableResponses: 0,
  throttledResponses: 0,
  htmlErrorPages: 0,
  lostResponses: 0,
  slowResponses: 0,
  sessionsExpired: 0,
});

/** The answering faults in the order a request meets them. */
const requestFaults = ['dropConnection', 'serverUnavailable', 'htmlErrorPage', 'throttled', 'loseResponse'] as const;
type RequestFault = (typeof requestFaults)[number];

const htmlErrorPage = (status: number) => {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
};

export async function startSalesforceSandbox(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const clientId = options.clientId ?? 'ebb-sandbox-client-id';
  const clientSecret = options.clientSecret ?? 'ebb-sandbox-client-secret';
  const staticToken = options.accessToken ?? `${orgId.slice(0, 15)}!ebb-sandbox-static-token`;
  const org = new SalesforceOrg(options.objects ?? defaultObjects, options.file);
  // Called only while serving requests, after isLocked below is defined.
  const bulk = new BulkIngest(org, options.bulk, { isLocked: (key) => isLocked(key) });
  const tokens = new Set<string>([staticToken]);
  let stats = emptyStats();
  let faults: Required<Omit<SalesforceSandboxFaults, 'expireSessions' | 'lockErrors' | 'probabilities' | 'seed'>> = {
    serverUnavailable: 0,
    throttled: 0,
    retryAfterSeconds: 1,
    dropConnection: 0,
    htmlErrorPage: 0,
    htmlErrorStatus: 502,
    loseResponse: 0,
    slowResponse: 0,
    slowResponseMs: 2000,
    latencyMs: 0,
    dailyApiLimit: 100_000,
    apiUsed: 0,
  };
  let probabilities: SalesforceFaultProbabilities = {};
  let random = mulberry32(Math.floor(Math.random() * 2 ** 32));
  /** Lock probabilities draw from their own stream, so they do not shift the requests' draws. */
  let lockRandom = mulberry32(Math.floor(Math.random() * 2 ** 32));
  /** Answers to destroy instead of sending: writes applied under the loseResponse fault. */
  const responsesToLose = new WeakSet<ServerResponse>();
  let lockFaults: SalesforceLockFaults | null = null;
  /** Lock failures answered so far per external id value, for lockFaults.count. */
  let lockedAttempts = new Map<string, number>();
  /** object (lower case) -> external id value -> upsert attempts */
  let upsertAttempts = new Map<string, Map<string, number>>();
  let baseUrl = '';

  const applyFaults = (next: SalesforceSandboxFaults) => {
    const { expireSessions, lockErrors, probabilities: chances, seed, ...rest } = next;
    faults = { ...faults, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    if (seed !== undefined) {
      random = mulberry32(seed);
      lockRandom = mulberry32(seed ^ 0x5f3759df);
    }
    if (chances !== undefined) probabilities = { ...chances };
    if (expireSessions) tokens.clear();
    if (lockErrors !== undefined) {
      lockFaults = lockErrors;
      lockedAttempts = new Map();
    }
  };

  const isLocked = (key: string): boolean => {
    if (!lockFaults) return false;
    if (lockFaults.keys && !lockFaults.keys.includes(key)) return false;
    const failed = lockedAttempts.get(key) ?? 0;
    if (failed >= (lockFaults.count ?? Infinity)) return false;
    if (lockRandom() >= (lockFaults.probability ?? 1)) return false;
    lockedAttempts.set(key, failed + 1);
    return true;
  };
  if (options.faults) applyFaults(options.faults);

  /** The answering fault a request meets, if any: pending counts first, then `roll` against the probabilities. */
  const pickFault = (isWrite: boolean, roll: number): RequestFault | null => {
    for (const kind of requestFaults) {
      if (kind === 'loseResponse' && !isWrite) continue;
      if (faults[kind] > 0) {
        faults[kind]--;
        return kind;
      }
    }
    for (const kind of requestFaults) {
      const chance = probabilities[kind] ?? 0;
      if (roll < chance) return kind === 'loseResponse' && !isWrite ? null : kind;
      roll -= chance;
    }
    return null;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (responsesToLose.has(res)) {
      stats.lostResponses++;
      res.socket?.destroy();
      return;
    }
    if (status >= 400) stats.rejectedRequests++;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json;charset=UTF-8',
      'Sforce-Limit-Info': `api-usage=${faults.apiUsed}/${faults.dailyApiLimit}`,
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const handleInspection = (req: IncomingMessage, res: ServerResponse, path: string, body: string) => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8' });
      res.end(JSON.stringify(value));
    };
    const recordsMatch = /^\/__sandbox\/records\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && recordsMatch?.[1]) return reply(200, org.records(decodeURIComponent(recordsMatch[1])));
    const attemptsMatch = /^\/__sandbox\/upsert-attempts\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && attemptsMatch?.[1])
      return reply(200, sandbox.upsertAttempts(decodeURIComponent(attemptsMatch[1])));
    if (req.method === 'GET' && path === '/__sandbox/bulk-jobs') return reply(200, bulk.log());
    if (req.method === 'GET' && path === '/__sandbox/stats')
      return reply(200, { ...stats, apiUsed: faults.apiUsed, dailyApiLimit: faults.dailyApiLimit });
    if (req.method === 'POST' && path === '/__sandbox/faults') {
      applyFaults(body ? (JSON.parse(body) as SalesforceSandboxFaults) : {});
      return reply(200, { ...faults, probabilities, lockErrors: lockFaults });
    }
    if (req.method === 'POST' && path === '/__sandbox/reset') {
      sandbox.reset();
      return reply(200, { ok: true });
    }
    return reply(404, { error: `No sandbox endpoint ${req.method} ${path}` });
  };

  const handleToken = (req: IncomingMessage, res: ServerResponse, body: string) => {
    stats.tokenRequests++;
    const params = new URLSearchParams(body);
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [basicId, basicSecret] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    const grantType = params.get('grant_type');
    const givenId = params.get('client_id') ?? basicId;
    const givenSecret = params.get('client_secret') ?? basicSecret;
    if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && options.jwt) {
      const checked = checkJwtAssertion(params.get('assertion'), {
        clientId,
        audiences: [baseUrl],
        settings: options.jwt,
      });
      if ('error' in checked) return send(res, 400, checked);
    } else if (grantType !== 'client_credentials') {
      return send(res, 400, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    } else if (givenId !== clientId) {
      return send(res, 400, { error: 'invalid_client_id', error_description: 'client identifier invalid' });
    } else if (givenSecret !== clientSecret) {
      return send(res, 400, { error: 'invalid_client', error_description: 'invalid client credentials' });
    }
    const accessToken = `${orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    tokens.add(accessToken);
    const issuedAt = String(Date.now());
    send(res, 200, {
      access_token: accessToken,
      signature: randomBytes(32).toString('base64'),
      scope: 'api',
      instance_url: baseUrl,
      id: `${baseUrl}/id/${orgId}/${userId}`,
      token_type: 'Bearer',
      issued_at: issuedAt,
    });
  };

  const handleData = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    body: string,
  ) => {
    const versionMatch = /^\/services\/data\/v(\d+)\.0(\/.*)?$/.exec(path);
    const version = Number(versionMatch?.[1]);
    if (!versionMatch || version < minVersion || version > maxVersion) {
      return send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
    const token = /^(?:Bearer|OAuth) (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !tokens.has(token)) {
      return send(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    }
    if (faults.apiUsed >= faults.dailyApiLimit) {
      return send(res, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    }
    faults.apiUsed++;
    const versionString = `${version}.0`;
    const rest = versionMatch[2] ?? '';

    const describeMatch = /^\/sobjects\/([^/]+)\/describe\/?$/.exec(rest);
    if (req.method === 'GET' && describeMatch?.[1]) {
      stats.describeRequests++;
      const definition = org.definition(decodeURIComponent(describeMatch[1]));
      if (!definition)
        return send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
      return send(res, 200, describeSObject(definition, baseUrl, versionString));
    }
    if (req.method === 'GET' && /^\/sobjects\/?$/.test(rest)) {
      stats.describeRequests++;
      return send(res, 200, {
        encoding: 'UTF-8',
        maxBatchSize: 200,
        sobjects: org.definitions().map((d) => ({
          name: d.name,
          label: d.label ?? d.name,
          keyPrefix: d.keyPrefix,
          custom: d.name.endsWith('__c'),
          createable: true,
          updateable: true,
          deletable: true,
          queryable: true,
          urls: {
            sobject: `/services/data/v${versionString}/sobjects/${d.name}`,
            describe: `/services/data/v${versionString}/sobjects/${d.name}/describe`,
          },
        })),
      });
    }
    if (req.method === 'GET' && rest === '/limits') {
      stats.limitsRequests++;
      return send(res, 200, {
        DailyApiRequests: { Max: faults.dailyApiLimit, Remaining: Math.max(0, faults.dailyApiLimit - faults.apiUsed) },
        DailyBulkV2QueryJobs: { Max: 10000, Remaining: 10000 },
        DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
      });
    }
    const bulkMatch = /^\/jobs\/ingest(\/.*)?$/.exec(rest);
    if (bulkMatch) {
      const answer = bulk.handle(req.method ?? 'GET', bulkMatch[1] ?? '', body, versionString);
      if (answer.json !== undefined || answer.status >= 400) return send(res, answer.status, answer.json ?? []);
      // Results are CSV; an upload answers 201 and a delete 204, both without a body.
      const text = answer.csv ?? '';
      res.writeHead(answer.status, {
        ...(answer.csv === undefined ? {} : { 'Content-Type': 'text/csv' }),
        'Sforce-Limit-Info': `api-usage=${faults.apiUsed}/${faults.dailyApiLimit}`,
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    const upsertMatch = /^\/composite\/sobjects\/([^/]+)\/([^/]+)\/?$/.exec(rest);
    if (req.method === 'PATCH' && upsertMatch?.[1] && upsertMatch[2]) {
      stats.upsertRequests++;
      const type = decodeURIComponent(upsertMatch[1]);
      const attempts = upsertAttempts.get(type.toLowerCase()) ?? new Map<string, number>();
      upsertAttempts.set(type.toLowerCase(), attempts);
      const results = org.upsert(type, decodeURIComponent(upsertMatch[2]), parseJson(body), {
        attempted: (key) => attempts.set(key, (attempts.get(key) ?? 0) + 1),
        isLocked,
      });
      for (const result of results) {
        if (result.errors.some((e) => e.statusCode === 'UNABLE_TO_LOCK_ROW')) stats.recordsLocked++;
        if (!result.success) stats.recordsFailed++;
        else {
          stats.recordsUpserted++;
          if (result.created) stats.recordsCreated++;
        }
      }
      return send(res, 200, results);
    }
    if (req.method === 'GET' && /^\/query\/?$/.test(rest)) {
      stats.queryRequests++;
      const soql = query.get('q');
      if (!soql)
        return send(res, 400, [{ errorCode: 'MALFORMED_QUERY', message: 'A query string has to be specified' }]);
      return send(res, 200, runSoql(org, soql, versionString));
    }
    if (req.method === 'POST' && /^\/composite\/sobjects\/?$/.test(rest)) {
      stats.createRequests++;
      const results = org.create(parseJson(body));
      for (const result of results) {
        if (result.success) stats.recordsCreated++;
        else stats.recordsFailed++;
      }
      return send(res, 200, results);
    }
    if (req.method === 'PATCH' && /^\/composite\/sobjects\/?$/.test(rest)) {
      stats.updateRequests++;
      const results = org.update(parseJson(body));
      for (const result of results) {
        if (result.success) stats.recordsUpdated++;
        else stats.recordsFailed++;
      }
      return send(res, 200, results);
    }
    if (req.method === 'DELETE' && /^\/composite\/sobjects\/?$/.test(rest)) {
      stats.deleteRequests++;
      const ids = (query.get('ids') ?? '').split(',').filter((id) => id !== '');
      const results = org.delete(ids, query.get('allOrNone') === 'true');
      for (const result of results) {
        if (result.success) stats.recordsDeleted++;
        else stats.recordsFailed++;
      }
      return send(res, 200, results);
    }
    return send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const path = url.pathname;
    const body = await readBody(req);
    if (path.startsWith('/__sandbox/')) return handleInspection(req, res, path, body);

    stats.total++;
    // Every request takes the same three draws on arrival, before any wait, so under a seed the
    // n-th request meets the same faults however requests interleave.
    const [slowRoll, expireRoll, faultRoll] = [random(), random(), random()];
    const isWrite = path.startsWith('/services/data/') && ['PATCH', 'POST', 'DELETE'].includes(req.method ?? '');
    const fault = pickFault(isWrite, faultRoll);
    if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    let slow = faults.slowResponse > 0;
    if (slow) faults.slowResponse--;
    else slow = slowRoll < (probabilities.slowResponse ?? 0);
    if (slow) {
      stats.slowResponses++;
      await new Promise((resolve) => setTimeout(resolve, faults.slowResponseMs));
    }
    if (expireRoll < (probabilities.expireSessions ?? 0)) {
      stats.sessionsExpired++;
      tokens.clear();
    }
    if (fault === 'dropConnection') {
      stats.droppedConnections++;
      req.socket.destroy();
      return;
    }
    if (fault === 'serverUnavailable') {
      stats.unavailableResponses++;
      return send(res, 503, [
        { errorCode: 'SERVER_UNAVAILABLE', message: 'Server temporarily unavailable. Please try again later.' },
      ]);
    }
    if (fault === 'htmlErrorPage') {
      stats.htmlErrorPages++;
      stats.rejectedRequests++;
      const page = htmlErrorPage(faults.htmlErrorStatus);
      res.writeHead(faults.htmlErrorStatus, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(page) });
      res.end(page);
      return;
    }
    // The write is applied below as usual; send() then destroys the socket instead of answering.
    if (fault === 'loseResponse') responsesToLose.add(res);
    if (fault === 'throttled') {
      stats.throttledResponses++;
      return send(
        res,
        429,
        [
          {
            errorCode: 'REQUEST_LIMIT_EXCEEDED',
            message: 'Too many requests. Please retry after the delay in the Retry-After header.',
          },
        ],
        {
          'Retry-After': String(faults.retryAfterSeconds),
        },
      );
    }

    if (req.method === 'POST' && path === '/services/oauth2/token') return handleToken(req, res, body);
    if (req.method === 'GET' && (path === '/services/data' || path === '/services/data/')) {
      stats.versionsRequests++;
      return send(res, 200, apiVersions());
    }
    if (path.startsWith('/services/data/')) return handleData(req, res, path, url.searchParams, body);
    return send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof SalesforceRequestError) return send(res, err.status, err.body());
      send(res, 500, [{ errorCode: 'UNKNOWN_EXCEPTION', message: err instanceof Error ? err.message : String(err) }]);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;

  const sandbox: SalesforceSandbox = {
    url: baseUrl,
    port,
    clientId,
    clientSecret,
    accessToken: staticToken,
    records: (type) => org.records(type),
    stats: () => ({ ...stats }),
    upsertAttempts: (type) => Object.fromEntries(upsertAttempts.get(type.toLowerCase()) ?? []),
    injectFaults: applyFaults,
    bulkJobs: () => bulk.log(),
    configureBulk: (next) => bulk.configure(next),
    reset: () => {
      org.reset();
      bulk.reset();
      stats = emptyStats();
      lockFaults = null;
      lockedAttempts = new Map();
      upsertAttempts = new Map();
      probabilities = {};
      faults = {
        ...faults,
        serverUnavailable: 0,
        throttled: 0,
        dropConnection: 0,
        htmlErrorPage: 0,
        loseResponse: 0,
        slowResponse: 0,
        latencyMs: 0,
        apiUsed: 0,
      };
      tokens.add(staticToken);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        bulk.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return sandbox;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Salesforce reads number literals as Java BigDecimal, so digits beyond a double's survive; the
 * sandbox keeps such literals as LosslessNumber and stores their exact text (salesforce-org.ts).
 */
function parseJson(body: string): unknown {
  try {
    return parseLossless(body, null, (text) => (isSafeNumber(text) ? Number(text) : new LosslessNumber(text)));
  } catch (err) {
    throw new SalesforceRequestError(
      400,
      'JSON_PARSER_ERROR',
      `Unexpected character in request body: ${(err as Error).message}`,
    );
  }
}

/** Release names follow Salesforce's cadence: 60.0 is Spring '24, then Summer, Winter (named for the next year). */
function apiVersions(): Array<{ label: string; url: string; version: string }> {
  const seasons = ['Spring', 'Summer', 'Winter'] as const;
  const versions = [];
  for (let v = minVersion; v <= maxVersion; v++) {
    const offset = v - 60;
    const season = seasons[((offset % 3) + 3) % 3] as (typeof seasons)[number];
    const year = 24 + Math.floor(offset / 3) + (season === 'Winter' ? 1 : 0);
    versions.push({
      label: `${season} '${String(year).padStart(2, '0')}`,
      url: `/services/data/v${v}.0`,
      version: `${v}.0`,
    });
  }
  return versions;
}
