/**
 * Slow start (issue 9): `ebb --help` and the read commands must not load what only other commands
 * need (Temporal's worker, DuckDB, jsforce, Snowflake's driver), and the binary works without a build.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ebb } from './harness/ebb-cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-cli-startup-'));
const probe = path.join(tmp, 'loaded-modules.js');
// Preloaded into the CLI process: on exit, writes every module it loaded to the file named by the env.
fs.writeFileSync(
  probe,
  `process.on('exit', () => require('node:fs').writeFileSync(process.env.EBB_TEST_MODULES_FILE, Object.keys(require.cache).join('\\n')));\n`,
);

let probes = 0;
async function modulesLoadedBy(args: string[], env: Record<string, string | undefined> = {}) {
  const file = path.join(tmp, `modules-${(probes += 1)}.txt`);
  const result = await ebb(args, { nodeArgs: ['--require', probe], env: { EBB_TEST_MODULES_FILE: file, ...env } });
  return { result, modules: fs.readFileSync(file, 'utf8').split('\n') };
}

const loaded = (modules: string[], name: string) => modules.some((m) => m.includes(`/node_modules/${name}/`));

const HEAVY = [
  '@temporalio/worker',
  '@temporalio/client',
  '@duckdb/node-api',
  'jsforce',
  'snowflake-sdk',
  'better-sqlite3',
];

test('ebb --help loads no command: no Temporal, DuckDB, jsforce, Snowflake driver or state store', async () => {
  const { result, modules } = await modulesLoadedBy(['--help']);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('Usage: ebb');
  expect(HEAVY.filter((name) => loaded(modules, name))).toEqual([]);
});

test("ebb status loads neither Temporal's worker, DuckDB, jsforce nor the Snowflake driver", async () => {
  const config = path.join(tmp, 'ebb.yaml');
  fs.writeFileSync(
    config,
    `sources: { warehouse: { type: duckdb, path: ./warehouse.duckdb } }
destinations: { slack: { type: slack, token: xoxb-1 } }
models: { m: { source: warehouse, primaryKey: id, sql: select 1 as id } }
syncs: { s: { model: m, destination: slack, channel: '#c', template: 'row {{ id }}' } }
`,
  );
  // Nothing listens on port 9: status fails at once, having loaded what it needs.
  const { modules } = await modulesLoadedBy(['--config', config, 'status'], { EBB_TEMPORAL_ADDRESS: '127.0.0.1:9' });
  expect(
    ['@temporalio/worker', '@duckdb/node-api', 'jsforce', 'snowflake-sdk'].filter((name) => loaded(modules, name)),
  ).toEqual([]);
});

test('the binary runs the TypeScript sources through tsx when asked to (EBB_FROM_SOURCE=1)', async () => {
  const { result, modules } = await modulesLoadedBy(['--help'], { EBB_FROM_SOURCE: '1' });
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('Usage: ebb');
  expect(modules.some((m) => m.endsWith(path.join('cli', 'main.ts')))).toBe(true);
});
