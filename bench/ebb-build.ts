/**
 * ebb as it runs after install: the checkout compiled by tsc (tsconfig.build.json, as
 * `npm run build` does) into a folder of the benchmark's own, with a copy of bin/ebb.js, so
 * `ebb worker` and `ebb status` start from JavaScript rather than through tsx, keep running the
 * code they started with while others edit the sources, and leave the checkout's dist/ alone. The
 * folder stays between runs, so the next build compiles only what changed.
 *
 *   const ebb = buildEbb();
 *   spawn(process.execPath, [ebb.binary, '--config', file, 'status'], { env: { ...ebb.env } });
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

export class EbbBuildError extends Error {
  constructor(detail: string) {
    super(`could not compile ebb for the benchmark: ${detail}`);
    this.name = new.target.name;
  }
}

export interface EbbBuild {
  /** bin/ebb.js of the compiled copy. */
  binary: string;
  /** What it needs in its environment: the compiled code whatever the sources' age. */
  env: Record<string, string>;
  /** The checkout's commit, and whether tracked files differed from it when compiled. */
  commit: string;
  uncommittedChanges: boolean;
  seconds: number;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export function buildEbb(dir: string = path.join(os.tmpdir(), `ebb-bench-build-${os.userInfo().uid}`)): EbbBuild {
  const started = Date.now();
  const dist = path.join(dir, 'dist');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'bin', 'ebb.js'), path.join(dir, 'bin', 'ebb.js'));
  // Compiled modules resolve their packages (and the worker's webpack bundles workflows) from here.
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(modules)) fs.symlinkSync(path.join(ROOT, 'node_modules'), modules);
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  const commit = git(['rev-parse', 'HEAD']);
  const uncommittedChanges = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  fs.rmSync(path.join(dist, '.built-at'), { force: true });
  const result = spawnSync(
    process.execPath,
    [
      tsc,
      '-p',
      path.join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      dist,
      '--tsBuildInfoFile',
      path.join(dist, '.tsbuildinfo'),
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  // tsc emits despite type errors (someone's edit in progress); only a missing CLI is fatal.
  if (!fs.existsSync(path.join(dist, 'cli', 'main.js')))
    throw new EbbBuildError(`${result.stdout}${result.stderr}`.trim() || `tsc exited with ${result.status}`);
  fs.writeFileSync(path.join(dist, '.built-at'), `${started}\n`);
  return {
    binary: path.join(dir, 'bin', 'ebb.js'),
    env: { EBB_FROM_SOURCE: '0' },
    commit,
    uncommittedChanges,
    seconds: (Date.now() - started) / 1000,
  };
}
