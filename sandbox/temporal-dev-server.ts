/**
 * Starts and stops a local `temporal server start-dev` for the tests, the demo and `ebb dev`.
 * The binary comes from `npm run setup` (.tools/bin/temporal), EBB_TEMPORAL_BIN, or PATH.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../workflows/search-attributes';

// The folder holding package.json and .tools/, whether this runs from sandbox/ or compiled from dist/sandbox/.
const ROOT =
  [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((dir) =>
    fs.existsSync(path.join(dir, 'package.json')),
  ) ?? path.resolve(__dirname, '..');

export class TemporalBinaryNotFoundError extends Error {
  constructor() {
    super(
      'No Temporal CLI found. Run `npm run setup` (installs it into .tools/bin), ' +
        'or set EBB_TEMPORAL_BIN=/path/to/temporal, or put `temporal` on PATH.',
    );
    this.name = 'TemporalBinaryNotFoundError';
  }
}

export function findTemporalBinary(): string {
  const candidates = [process.env.EBB_TEMPORAL_BIN, path.join(ROOT, '.tools', 'bin', 'temporal')];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter))
    if (dir) candidates.push(path.join(dir, 'temporal'));
  for (const c of candidates) {
    if (c && fs.existsSync(c) && spawnSync(c, ['--version']).status === 0) return c;
  }
  throw new TemporalBinaryNotFoundError();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface DevServerOptions {
  /** SQLite file to persist to; in-memory when omitted. */
  dbFilename?: string;
  /** Serve the web UI (on port + 1000 unless uiPort is given). */
  ui?: boolean;
  port?: number;
  uiPort?: number;
  logFile: string;
  namespace?: string;
  dynamicConfig?: Record<string, unknown>;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const bin = findTemporalBinary();
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (options.ui ? await freePort() : undefined);
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
  ];
  if (options.ui) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  for (const [k, v] of Object.entries(options.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  // ebb's search attributes, so the UI can filter syncs by outcome (workflows/search-attributes.ts).
  for (const flag of searchAttributeFlags()) args.push('--search-attribute', flag);

  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], detached: false });
  fs.closeSync(log);
  const address = `127.0.0.1:${port}`;
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));

  // The server takes a few seconds to open its frontend; createLocal's 5 s wait is known to be too short.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null)
      throw new Error(`temporal server exited with ${exited} before it was ready; see ${options.logFile}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.describeNamespace({ namespace });
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal server not ready after 60 s at ${address}; see ${options.logFile}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: options.ui ? `http://127.0.0.1:${uiPort}` : null,
    namespace,
    process: child,
    stop: () => stopProcess(child),
  };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
