/**
 * ebb's CLI as a person runs it, from the benchmark's compiled copy (ebb-build.ts): `ebb worker`
 * processes watched through their output, and one-off commands (`ebb status`) timed from process
 * start to exit. Everything is spawned asynchronously: the bench driver serves the Salesforce
 * sandbox, which must keep answering the workers meanwhile.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { EbbBuild } from './ebb-build';

export class EbbCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The environment of ebb's processes: ours without EBB_ settings that would override ebb.yaml's. */
export function ebbEnvironment(build: EbbBuild, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('EBB_')));
  return { ...env, ...build.env, ...extra };
}

export interface EbbWorkerProcess {
  name: string;
  pid: number;
  /** Epoch milliseconds at spawn. */
  spawnedAt: number;
  /** Resolves with the epoch milliseconds of its first `worker on <queue>` line: workers polling, syncs reconciled. */
  ready: Promise<number>;
  /** Rejects if the process exits before `stop`/`kill` is called. */
  exited: Promise<number | null>;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const READY_LINE = /^worker on /m;

export function spawnEbbWorker(
  build: EbbBuild,
  options: { name: string; configFile: string; logFile: string; env: Record<string, string> },
): EbbWorkerProcess {
  const log = fs.createWriteStream(options.logFile, { flags: 'a' });
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [build.binary, '--config', options.configFile, 'worker'], {
    env: ebbEnvironment(build, options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  let onReady: (at: number) => void = () => undefined;
  const ready = new Promise<number>((resolve) => (onReady = resolve));
  const take = (chunk: Buffer) => {
    log.write(chunk);
    const before = output;
    output += chunk.toString();
    if (!READY_LINE.test(before) && READY_LINE.test(output)) onReady(Date.now());
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const closed = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const exited = closed.then((code) => {
    log.end();
    if (stopping) return code;
    throw new EbbCommandError(
      `ebb worker ${options.name} exited with ${code}; its last output:\n${output.trim().split('\n').slice(-15).join('\n')}`,
    );
  });
  // A worker dying early also fails whoever waits for it to be ready.
  const readyOrExit = Promise.race([ready, exited.then(() => ready)]);
  exited.catch(() => undefined);
  if (child.pid === undefined) throw new EbbCommandError(`could not start ebb worker ${options.name}`);
  const end = async (signal: NodeJS.Signals) => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await closed;
  };
  return {
    name: options.name,
    pid: child.pid,
    spawnedAt,
    ready: readyOrExit,
    exited,
    output: () => output,
    kill: () => end('SIGKILL'),
    stop: async () => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await end('SIGTERM');
      clearTimeout(killer);
    },
  };
}

export interface TimedCommand {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs `ebb <args>` to its end; a non-zero exit is an error carrying its output. */
export async function timeEbbCommand(
  build: EbbBuild,
  configFile: string,
  args: string[],
  env: Record<string, string>,
): Promise<TimedCommand> {
  const started = performance.now();
  const child = spawn(process.execPath, [build.binary, '--config', configFile, ...args], {
    env: ebbEnvironment(build, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const ms = performance.now() - started;
  if (code !== 0) throw new EbbCommandError(`ebb ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout}`);
  return { ms, stdout, stderr };
}
