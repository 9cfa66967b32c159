/**
 * `npm run bench:cli [-- --runs 5] [-- --before <commit>]`: how long a person waits for `ebb --help`,
 * `ebb status` and `ebb runs <sync>`, median of N runs each, for the compiled CLI (dist/, what
 * bin/ebb.js runs after install) against the TypeScript sources through tsx (EBB_FROM_SOURCE=1, the
 * only way before dist/ existed), with their ratio. `--before <commit>` adds that commit's CLI
 * (extracted with `git archive`, sharing this node_modules), e.g. the commit before the fast start.
 *
 * Builds dist/ first (incremental). Runs against a Temporal dev server it starts and the demo
 * config, with an empty state store; each command is a fresh process, as when typed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevServer } from '../sandbox/temporal-dev-server';

const ROOT = path.resolve(__dirname, '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, before: { type: 'string' } } });
const RUNS = Number(values.runs);

interface Variant {
  name: string;
  binary: string;
  env: Record<string, string>;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function timeOnce(variant: Variant, args: string[], env: Record<string, string>): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [variant.binary, ...args], {
    env: { ...process.env, ...env, ...variant.env },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`${variant.name}: ebb ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function beforeVariant(commit: string): Variant {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-cli-before-'));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${commit}" | tar -x -C "${dir}"`]);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, '.tools'), { recursive: true });
  // Its own example config: the config language may have grown since.
  return {
    name: `before (${commit.slice(0, 7)}, tsx)`,
    binary: path.join(dir, 'bin', 'ebb.js'),
    env: { EBB_CONFIG: path.join(dir, 'examples', 'ebb.yaml') },
  };
}

async function main(): Promise<void> {
  process.stdout.write('building dist/ (npm run build) ...\n');
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-dist.js')], { stdio: 'inherit' });

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-bench-cli-'));
  const server = await startDevServer({ logFile: path.join(work, 'temporal.log') });
  const env = {
    EBB_CONFIG: path.join(ROOT, 'examples', 'ebb.yaml'),
    EBB_DEMO_DIR: work,
    EBB_TEMPORAL_ADDRESS: server.address,
  };
  const binary = path.join(ROOT, 'bin', 'ebb.js');
  const variants: Variant[] = [
    // Even if a source changed since the build (bin/ebb.js would then fall back to tsx).
    { name: 'dist (compiled)', binary, env: { EBB_FROM_SOURCE: '0' } },
    { name: 'tsx (sources)', binary, env: { EBB_FROM_SOURCE: '1' } },
    ...(values.before ? [beforeVariant(values.before)] : []),
  ];
  const commands = [['--help'], ['status'], ['runs', 'accounts-to-sf']];
  try {
    // One unmeasured run of each warms the file cache and creates the state store.
    for (const v of variants) for (const c of commands) timeOnce(v, c, env);
    const rows: Array<{ command: string; medians: number[] }> = [];
    for (const c of commands) {
      const medians = variants.map((v) => median(Array.from({ length: RUNS }, () => timeOnce(v, c, env))));
      rows.push({ command: `ebb ${c.join(' ')}`, medians });
    }
    process.stdout.write(`\nebb CLI latency, median of ${RUNS} (ms), load average ${os.loadavg()[0]?.toFixed(2)}\n`);
    const header = ['command', ...variants.map((v) => v.name), ...variants.slice(1).map((v) => `${v.name} / dist`)];
    process.stdout.write(`${header.join(' | ')}\n`);
    for (const r of rows) {
      const [dist = 1, ...others] = r.medians;
      const cells = [
        r.command,
        ...r.medians.map((m) => m.toFixed(0)),
        ...others.map((m) => `${(m / dist).toFixed(1)}x`),
      ];
      process.stdout.write(`${cells.join(' | ')}\n`);
    }
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
