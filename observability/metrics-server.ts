/**
 * One `/metrics` endpoint per worker process: ebb's metrics (metrics.ts) followed by the Temporal
 * SDK's runtime metrics (workers, pollers, task latencies), which the SDK's Rust core serves on an
 * address of its own (runtime.ts binds it to loopback). Merged because a process then has one scrape
 * target and one port to open, and the two never clash: the SDK's names start with `temporal_`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsRegistry } from './metrics';

export interface MetricsServer {
  /** `http://host:port/metrics`, with the port actually bound (useful when asked for port 0). */
  url: string;
  close(): Promise<void>;
}

export class MetricsAddressError extends Error {
  constructor(address: string, setting: string) {
    super(
      `${setting} '${address}' is not a host:port address; write e.g. 0.0.0.0:9464 (every interface) or 127.0.0.1:9464`,
    );
    this.name = 'MetricsAddressError';
  }
}

export function parseAddress(address: string, setting: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || port > 65535) throw new MetricsAddressError(address, setting);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export async function startMetricsServer(options: {
  address: string;
  /** Where the Temporal SDK serves its own metrics, when it does (runtime.ts). */
  temporalMetricsUrl?: string;
  setting?: string;
}): Promise<MetricsServer> {
  const { host, port } = parseAddress(options.address, options.setting ?? 'observability.metrics.address');
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('ebb serves its metrics at /metrics\n');
      return;
    }
    void exposition(options.temporalMetricsUrl).then(
      (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function exposition(temporalMetricsUrl: string | undefined): Promise<string> {
  const ours = await metricsRegistry.metrics();
  if (!temporalMetricsUrl) return ours;
  try {
    const response = await fetch(temporalMetricsUrl, { signal: AbortSignal.timeout(2000) });
    return `${ours}\n${await response.text()}`;
  } catch (err) {
    // ebb's own figures are still worth a scrape when the SDK's endpoint does not answer.
    return `${ours}\n# Temporal SDK metrics unavailable: ${String(err).replace(/\n/g, ' ')}\n`;
  }
}
