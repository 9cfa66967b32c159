/**
 * Runs the real `ebb` binary (bin/ebb.js) as a user would: a child process with its own stdout and
 * stderr pipes. A non-zero exit is a result, not a throw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const EBB_BINARY = path.join(__dirname, '..', '..', 'bin', 'ebb.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Extra `node` arguments before the binary (e.g. `--require` a probe). */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/** A running `ebb`, for commands that wait: read its output as it comes, then await its end. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr (or stdout) matches, rejects after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return merged;
}

export function startEbb(args: string[], options: CliOptions = {}): RunningCli {
  const started = Date.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), EBB_BINARY, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : null;
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async waitForOutput(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stderr) && !pattern.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`ebb ${args.join(' ')} never printed ${pattern}:\nstdout: ${stdout}\nstderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    done,
  };
}

export async function ebb(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startEbb(args, options).done;
}
