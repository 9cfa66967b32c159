/** Runs one benchmark client (a baseline script or the ceiling loop) in a child process of its own. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { BaselineTarget } from './baseline-scripts';

export type ClientKind = 'collections' | 'per-record' | 'ceiling';

export interface ClientJob {
  kind: ClientKind;
  target: BaselineTarget;
  /** Ceiling only: requests in flight at once. */
  concurrency?: number;
  /** Ceiling only: records per request (ebb's batch size). */
  batchSize?: number;
}

/** Measured by the child itself, from after its modules loaded to its last answer. */
export interface ClientResult {
  records: number;
  seconds: number;
  cpuSeconds: number;
  /** The child's peak resident memory over its whole life. */
  peakRssMb: number;
}

export class ClientProcessError extends Error {
  constructor(kind: ClientKind, detail: string) {
    super(`the ${kind} client of the benchmark failed: ${detail}`);
    this.name = new.target.name;
  }
}

export function runClient(job: ClientJob): Promise<ClientResult> {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'client-process.ts'), JSON.stringify(job)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new ClientProcessError(job.kind, err.message)));
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{'))
        return reject(new ClientProcessError(job.kind, `exit code ${code}: ${stderr.trim() || stdout.trim()}`));
      resolve(JSON.parse(last) as ClientResult);
    });
  });
}
