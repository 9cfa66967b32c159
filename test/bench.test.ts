/**
 * The benchmark (`npm run bench`) as a person runs it, at a size that takes seconds: it starts its
 * own Temporal dev server, sandbox and worker process, so run it with EBB_TEST_NO_TEMPORAL=1.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BenchFile } from '../bench/bench-report';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

function bench(args: string[]) {
  return run(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(ROOT, 'bench', 'run.ts'), ...args], {
    cwd: ROOT,
    timeout: 200_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-bench-test-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a benchmark run measures ebb, the 200-per-request script and the ceiling on the same rows, and writes the figures to the results file and the README table', async () => {
  const results = path.join(dir, 'latest.json');
  const readme = path.join(dir, 'README.md');
  fs.writeFileSync(readme, '# figures\n\n<!-- bench-table:start -->\nold table\n<!-- bench-table:end -->\n\nafter\n');

  const { stdout } = await bench([
    '--cases',
    'cold-300-0ms,changed-1pct-300-0ms',
    '--json',
    '--results',
    results,
    '--write-readme',
    '--readme',
    readme,
  ]);

  const now = JSON.parse(stdout) as BenchFile;
  expect(now.cases.map((c) => c.name)).toEqual(['cold-300-0ms', 'changed-1pct-300-0ms']);
  const [cold, changed] = now.cases;
  expect(cold).toMatchObject({ ebbRecords: 300, baselineRecords: 300, rejectedRequests: 0 });
  expect(cold?.upsertRequests).toBe(Math.ceil(300 / (cold?.limits.batchSize ?? 1)));
  expect(cold?.ratio).toBeCloseTo((cold?.baselineSeconds ?? 0) / (cold?.ebbSeconds ?? 1), 6);
  for (const figure of [
    'perRecordRecordsPerSec',
    'ceilingSequentialRecordsPerSec',
    'ceilingConcurrentRecordsPerSec',
    'peakRssMb',
    'workerCpuSeconds',
    'baselinePeakRssMb',
    'historyEventsPerActivity',
    'stateStoreMb',
  ] as const)
    expect(cold?.[figure]).toBeGreaterThan(0);
  // Every hundredth account changed: ebb sends those three, the stateless script all 300 again.
  expect(changed).toMatchObject({ ebbRecords: 3, baselineRecords: 300, ceilingConcurrentRecordsPerSec: null });

  const saved = JSON.parse(fs.readFileSync(results, 'utf8')) as BenchFile;
  expect(saved.cases.map((c) => c.name)).toEqual(['cold-300-0ms', 'changed-1pct-300-0ms']);
  expect(saved.machine.cores).toBeGreaterThan(0);
  const table = fs.readFileSync(readme, 'utf8');
  expect(table).toMatch(/^# figures\n\n<!-- bench-table:start -->\n/);
  expect(table).toMatch(/\| cold-300-0ms +\|/);
  expect(table).not.toContain('old table');
  expect(table).toMatch(/<!-- bench-table:end -->\n\nafter\n$/);
});

test('an unknown case name is refused with the form case names take', async () => {
  await expect(bench(['--cases', 'cold-lots'])).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('unknown case "cold-lots": write <cold|no-change|changed-1pct>-<rows'),
  });
});
