/**
 * ebb's workers (bench/worker-entry.ts, wired as `ebb worker` wires them) in a child process, so the
 * worker's CPU time and peak RSS are measured apart from the bench driver, the sandbox and the
 * Temporal server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ENTRY = path.join(__dirname, 'worker-entry.ts');
const READY_TIMEOUT_MS = 120_000;

export class WorkerProcessError extends Error {
  constructor(detail: string, output: string) {
    super(`ebb's worker process ${detail}; its last output:\n${output.trim().split('\n').slice(-15).join('\n')}`);
    this.name = new.target.name;
  }
}

/** The delivery limits the worker announced for the destination's queue. */
export interface AnnouncedLimits {
  maxConcurrency: number;
  /** Absent when the destination sets no per-second pace. */
  requestsPerSecond?: number;
  batchSize: number;
}

export interface WorkerProcess {
  pid: number;
  limits: AnnouncedLimits;
  stop(): Promise<void>;
}

const READY_LINE = /^ready (\{.*\})$/m;

export async function startWorkerProcess(
  configFile: string,
  taskQueue: string,
  env: Record<string, string>,
): Promise<WorkerProcess> {
  const logFile = path.join(path.dirname(configFile), 'worker.log');
  const log = fs.createWriteStream(logFile);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), ENTRY, configFile, taskQueue],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Kept for the error message: the log file goes with the bench's temp directory.
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
    log.end();
  };
  try {
    const limits = await new Promise<AnnouncedLimits>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new WorkerProcessError(`announced no delivery queue within ${READY_TIMEOUT_MS / 1000} s`, output)),
        READY_TIMEOUT_MS,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        output += chunk.toString();
        const match = READY_LINE.exec(output);
        if (!match) return;
        clearTimeout(timer);
        resolve(JSON.parse(match[1] as string) as AnnouncedLimits);
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new WorkerProcessError(`exited with code ${code} before it was ready`, output));
      });
    });
    if (child.pid === undefined) throw new WorkerProcessError('has no process id', output);
    return { pid: child.pid, limits, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
