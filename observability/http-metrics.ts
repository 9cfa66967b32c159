/**
 * Destination HTTP calls measured where Node sends them: the `http` module's and fetch's (undici)
 * diagnostics channels see every request jsforce, @slack/web-api, @hubspot/api-client and fetch
 * make, so no connector has to time its own calls. A request counts for the destination of the
 * activity that sent it (activity-scope.ts); requests outside an activity, or to a source's host
 * (Snowflake speaks HTTP too), are not destination calls and are left alone.
 *
 * The same responses carry what the metrics of rate limits and budgets need: status 429 with its
 * Retry-After, and Salesforce's `Sforce-Limit-Info: api-usage=<used>/<limit>`.
 *
 * When tracing is on (tracing.ts), each destination request is also a client span inside its
 * activity's span, naming the method, host and status (not the path, which may hold a record key).
 */
import diagnostics from 'node:diagnostics_channel';
import * as otel from '@opentelemetry/api';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { EbbConfig } from '../config/schema';
import { activityScope } from './activity-scope';
import { observeApiBudget, observeRateLimit, observeRequest } from './metrics';

interface Pending {
  destination: string;
  started: number;
  done: boolean;
  span: otel.Span;
}

const pending = new WeakMap<object, Pending>();
/** `host:port` of warehouses reached over HTTP, whose requests are not destination calls. */
const sourceHosts = new Set<string>();
let subscribed = false;

/** Requests to `host` (`host:port`) are not destination calls: the trace exporter's own, for one. */
export function ignoreRequestsTo(host: string): void {
  sourceHosts.add(host);
}

/** Subscribes once per process; later calls only add the config's source hosts. */
export function measureDestinationRequests(config?: Pick<EbbConfig, 'sources'>): void {
  for (const source of Object.values(config?.sources ?? {})) {
    const url = typeof source.accessUrl === 'string' ? source.accessUrl : undefined;
    if (url) sourceHosts.add(new URL(url).host);
  }
  if (subscribed) return;
  subscribed = true;
  diagnostics.subscribe('http.client.request.start', (message) => {
    const request = (message as { request: ClientRequest }).request;
    const entry = begin(String(request.getHeader('host') ?? request.host), request.method);
    if (!entry) return;
    pending.set(request, entry);
    // No response by the time the request closes: it failed (refused, reset, timed out).
    request.once('close', () => finish(entry, 'error', undefined));
  });
  diagnostics.subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const entry = pending.get(request);
    if (entry) finish(entry, String(response.statusCode ?? 'error'), (name) => response.headers[name]);
  });
  diagnostics.subscribe('undici:request:create', (message) => {
    const request = (message as { request: { origin?: string | URL; method?: string } }).request;
    const entry = begin(request.origin ? new URL(String(request.origin)).host : '', request.method);
    if (entry) pending.set(request, entry);
  });
  diagnostics.subscribe('undici:request:headers', (message) => {
    const { request, response } = message as {
      request: object;
      response: { statusCode: number; headers: Array<Buffer | string> };
    };
    const entry = pending.get(request);
    if (entry) finish(entry, String(response.statusCode), (name) => undiciHeader(response.headers, name));
  });
  diagnostics.subscribe('undici:request:error', (message) => {
    const entry = pending.get((message as { request: object }).request);
    if (entry) finish(entry, 'error', undefined);
  });
}

function begin(host: string, method = 'GET'): Pending | undefined {
  const destination = activityScope()?.destination;
  if (!destination || host.endsWith('.snowflakecomputing.com') || sourceHosts.has(host)) return undefined;
  // A no-op span unless tracing.ts installed a tracer provider.
  const span = otel.trace.getTracer('ebb').startSpan(`${method} ${destination}`, {
    kind: otel.SpanKind.CLIENT,
    attributes: { 'http.request.method': method, 'server.address': host, 'ebb.destination': destination },
  });
  return { destination, started: performance.now(), done: false, span };
}

function finish(
  entry: Pending,
  status: string,
  header: ((name: string) => string | string[] | undefined) | undefined,
): void {
  if (entry.done) return;
  entry.done = true;
  if (status === 'error') entry.span.setAttribute('error.type', 'no response');
  else entry.span.setAttribute('http.response.status_code', Number(status));
  if (status === 'error' || Number(status) >= 400) entry.span.setStatus({ code: otel.SpanStatusCode.ERROR });
  entry.span.end();
  observeRequest(entry.destination, status, (performance.now() - entry.started) / 1000);
  if (!header) return;
  if (status === '429') observeRateLimit(entry.destination, retryAfterSeconds(first(header('retry-after'))));
  const usage = /api-usage=(\d+)\/(\d+)/.exec(first(header('sforce-limit-info')) ?? '');
  if (usage?.[1] && usage[2]) observeApiBudget(entry.destination, Number(usage[1]), Number(usage[2]));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After is either seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function retryAfterSeconds(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** undici reports headers as a flat [name, value, name, value, ...] list of buffers. */
function undiciHeader(headers: Array<Buffer | string>, name: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  }
  return undefined;
}
