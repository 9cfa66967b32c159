/**
 * Output (issue 9): every output is complete when piped, a cut list says so, every `--json` output is
 * camelCase, and the small things a user notices (articles, plurals, runs that do not exist,
 * `pause --json`, which run `records` shows).
 */
import { updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { ebb as runEbb } from './harness/ebb-cli';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const GENERATED = 600;
const TOTAL = GENERATED + 4;

let engine: EngineHarness;
let big: string;
let small: string;

beforeAll(async () => {
  engine = await startEngine({
    generated: GENERATED,
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`big-${suffix}`) + salesforceSyncYaml(`small-${suffix}`),
  });
  big = `big-${engine.suffix}`;
  small = `small-${engine.suffix}`;
  await engine.run(big);
  // Nothing changed since: run 2 has no records.
  await engine.run(big);
}, 300_000);

afterAll(async () => {
  await engine?.stop();
});

const ebb = (...args: string[]) => runEbb(['--config', engine.configFile, ...args], { env: engine.env });

/** Every key of every object in `value`, at any depth. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
  return [];
}

test('records --json piped into another program arrives whole, far beyond the 64 KiB a pipe holds', async () => {
  const result = await ebb('records', big, '--run', '1', '--json');
  expect(result.code).toBe(0);
  expect(result.stdout.length).toBeGreaterThan(128 * 1024);
  expect(JSON.parse(result.stdout)).toHaveLength(TOTAL);
});

test('a records table cut at its limit says so and how to get more', async () => {
  const table = await ebb('records', big, '--run', '1', '--limit', '10');
  expect(table.stdout.trim().split('\n')).toHaveLength(1 + 10 + 1);
  expect(table.stdout).toContain('showing the first 10 records of run 1: more with --limit <n>');
  const json = await ebb('records', big, '--run', '1', '--limit', '10', '--json');
  expect(JSON.parse(json.stdout)).toHaveLength(10);
  expect(json.stderr).toContain('showing the first 10 records of run 1');
});

test('records without --run shows the latest run that has records, and says which', async () => {
  const table = await ebb('records', big, '--limit', '5');
  expect(table.stdout).toContain('records of run 1, the latest run with records (run 2 had no records');
  const json = await ebb('records', big, '--json', '--limit', '5');
  expect((JSON.parse(json.stdout) as Array<{ runNumber: number }>).map((r) => r.runNumber)).toEqual([1, 1, 1, 1, 1]);
});

test('records --run and replay --run of a run that does not exist say so and exit non-zero', async () => {
  const records = await ebb('records', big, '--run', '999');
  expect(records.code).toBe(1);
  expect(records.stderr).toContain(`${big} has no run 999: its latest run is 2`);
  const replay = await ebb('replay', big, '--run', '999');
  expect(replay.code).toBe(1);
  expect(replay.stderr).toContain(`${big} has no run 999: its latest run is 2`);
  expect((await engine.store.listRuns(big, 10)).map((r) => r.run_number)).toEqual([2, 1]);
});

test('runs --json and status --json use camelCase keys, as records --json does', async () => {
  const runs = await ebb('runs', big, '--json');
  expect(JSON.parse(runs.stdout)).toEqual([
    expect.objectContaining({ runNumber: 2, apiCalls: expect.any(Number) }),
    expect.objectContaining({ runNumber: 1, startedAt: expect.any(String), succeeded: TOTAL }),
  ]);
  const status = await ebb('status', big, '--json');
  const keys = [...keysOf(JSON.parse(runs.stdout)), ...keysOf(JSON.parse(status.stdout))];
  expect(keys.filter((key) => key.includes('_'))).toEqual([]);
});

test('a run --wait that changes one record says "1 record", and a requested run says "an incremental run"', async () => {
  await engine.run(small);
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 3 }]);
  const waited = await ebb('run', small, '--wait');
  expect(waited.code).toBe(0);
  expect(waited.stdout).toContain('1 record changed (0 added, 1 changed, 0 removed');
  const requested = await ebb('run', small);
  expect(requested.stdout).toContain(`requested an incremental run of ${small}`);
});

test('pause and resume take --json', async () => {
  const paused = await ebb('pause', small, '--json');
  expect(paused.code).toBe(0);
  expect(JSON.parse(paused.stdout)).toEqual({ sync: small, paused: true });
  const resumed = await ebb('resume', small, '--json');
  expect(JSON.parse(resumed.stdout)).toEqual({ sync: small, paused: false });
});
