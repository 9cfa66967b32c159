/**
 * The Temporal Runtime of a worker process, installed once before any connection: its logger
 * writes ebb's structured logs (logging.ts), and when metrics are on, the SDK's Rust core serves its
 * Prometheus metrics on a loopback port of its own, which metrics-server.ts appends to ebb's.
 */
import net from 'node:net';
import { Runtime } from '@temporalio/worker';
import { createLogger, temporalLogger, type LoggingOptions } from './logging';

export interface InstalledRuntime {
  /** Where the SDK serves its metrics, when metrics are on. */
  temporalMetricsUrl?: string;
  /** False when this process had a Runtime already (an earlier test file): its logger stays. */
  installed: boolean;
}

export async function installWorkerRuntime(
  options: { metrics?: boolean; logging?: LoggingOptions } = {},
): Promise<InstalledRuntime> {
  const port = options.metrics ? await freeLoopbackPort() : undefined;
  try {
    Runtime.install({
      logger: temporalLogger(createLogger(options.logging)),
      ...(port !== undefined
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } } }
        : {}),
    });
  } catch {
    return { installed: false };
  }
  return { installed: true, ...(port !== undefined ? { temporalMetricsUrl: `http://127.0.0.1:${port}/metrics` } : {}) };
}

/** The core takes a fixed address, not port 0: ask the OS for a port that is free now. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
