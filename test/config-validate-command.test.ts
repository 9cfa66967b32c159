import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExitError } from '../cli/exit-error';
import { validateCommand } from '../cli/commands/validate';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startHubSpotSandbox, type HubSpotSandbox } from '../sandbox/hubspot/hubspot-sandbox';
import { startMetaSandbox, type MetaSandbox } from '../sandbox/meta/meta-sandbox';
import { startSlackSandbox, type SlackSandbox } from '../sandbox/slack/slack-sandbox';
import { buildDemoWarehouse } from '../sandbox/warehouse/demo-warehouse';

const root = path.resolve(__dirname, '..');
const sampleFile = path.join(root, 'examples', 'ebb.yaml');
const fiveMistakesFile = path.join(root, 'test', 'fixtures', 'config', 'five-mistakes.yaml');
// A demo directory of our own, with the demo warehouse built in beforeAll, whatever `npm run demo` left in .ebb/demo.
const demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-validate-demo-'));
const sampleEnv = {
  SF_LOGIN_URL: 'https://acme.my.salesforce.com',
  SF_CLIENT_ID: 'client-id',
  SF_CLIENT_SECRET: 'client-secret-value',
  SLACK_BOT_TOKEN: 'xoxb-secret-token',
  EBB_DEMO_DIR: demoDir,
};

beforeAll(async () => {
  await buildDemoWarehouse(path.join(demoDir, 'warehouse.duckdb'), { generated: 0 });
});

/** Runs the handler with `env` set, returning what it printed (stdout, stderr) and what it threw. */
async function runValidate(options: { file: string; json?: boolean; online?: boolean }, env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const printed: string[] = [];
  const errors: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
  const writeErr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    errors.push(String(chunk));
    return true;
  });
  try {
    await validateCommand(options);
    return { output: printed.join(''), stderr: errors.join(''), thrown: undefined };
  } catch (error) {
    return { output: printed.join(''), stderr: errors.join(''), thrown: error };
  } finally {
    write.mockRestore();
    writeErr.mockRestore();
    process.env = saved;
  }
}

test('ebb validate prints a summary for the sample config', async () => {
  const { output, thrown } = await runValidate({ file: sampleFile }, sampleEnv);
  expect(thrown).toBeUndefined();
  expect(output).toBe('ok: 1 sources, 5 destinations, 2 models, 5 syncs\n');
});

test('ebb validate prints every problem with file, line, column, path and hint, then exits 1', async () => {
  const { output, thrown } = await runValidate({ file: fiveMistakesFile }, {});
  expect(thrown).toBeInstanceOf(ExitError);
  expect((thrown as ExitError).code).toBe(1);
  const lines = output.trimEnd().split('\n');
  expect(lines.filter((line) => line.startsWith(`${fiveMistakesFile}:`))).toHaveLength(5);
  expect(lines).toContain(`${fiveMistakesFile}:22:12 syncs.accounts-to-sf.model: unknown model 'account_helth'`);
  expect(lines).toContain("  hint: did you mean 'account_health'? (known models: account_health)");
  expect(lines[lines.length - 1]).toBe('5 errors');
});

test('ebb validate --json prints ok, problems and summary', async () => {
  const failed = await runValidate({ file: fiveMistakesFile, json: true }, {});
  const report = JSON.parse(failed.output) as {
    ok: boolean;
    problems: Array<{ path: string; line: number }>;
    summary: unknown;
  };
  expect(report.ok).toBe(false);
  expect(report.summary).toBeNull();
  expect(report.problems.map((problem) => problem.path)).toContain('syncs.at-risk-to-slack.schedule.every');
  expect(failed.thrown).toBeInstanceOf(ExitError);

  const passed = await runValidate({ file: sampleFile, json: true }, sampleEnv);
  expect(JSON.parse(passed.output)).toEqual({
    ok: true,
    problems: [],
    unreachable: [],
    summary: { sources: 1, destinations: 5, models: 2, syncs: 5 },
  });
});

test('ebb validate of a config whose DuckDB file does not exist is an error naming the resolved file', async () => {
  const missingDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-no-demo-'));
  const { output, thrown } = await runValidate({ file: sampleFile }, { ...sampleEnv, EBB_DEMO_DIR: missingDir });
  expect(thrown).toBeInstanceOf(ExitError);
  expect(output).toContain(
    `sources.warehouse: the source cannot be opened: DuckDB file not found: ${path.join(missingDir, 'warehouse.duckdb')}`,
  );
  expect(output).not.toContain('ok:');
});

test('ebb validate without --online says the destinations were not asked', async () => {
  const { stderr, thrown } = await runValidate({ file: sampleFile }, sampleEnv);
  expect(thrown).toBeUndefined();
  expect(stderr).toContain('note: destinations were not asked');
  expect(stderr).toContain('ebb validate --online');
});

describe('ebb validate --online', () => {
  let salesforce: SalesforceSandbox;
  let slack: SlackSandbox;
  let meta: MetaSandbox;
  let hubspot: HubSpotSandbox;
  let sandboxEnv: Record<string, string>;
  beforeAll(async () => {
    salesforce = await startSalesforceSandbox();
    slack = await startSlackSandbox();
    meta = await startMetaSandbox();
    hubspot = await startHubSpotSandbox();
    sandboxEnv = {
      ...sampleEnv,
      SF_LOGIN_URL: salesforce.url,
      SF_CLIENT_ID: salesforce.clientId,
      SF_CLIENT_SECRET: salesforce.clientSecret,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      META_ACCESS_TOKEN: meta.token,
      META_API_URL: meta.url,
      HUBSPOT_ACCESS_TOKEN: hubspot.token,
      HUBSPOT_BASE_PATH: hubspot.url,
    };
  });
  afterAll(async () => {
    await salesforce.close();
    await slack.close();
    await meta.close();
    await hubspot.close();
  });

  test('a config the destinations accept is ok, with nothing left unchecked', async () => {
    const { output, thrown } = await runValidate({ file: sampleFile, json: true, online: true }, sandboxEnv);
    expect(thrown).toBeUndefined();
    expect(JSON.parse(output)).toMatchObject({ ok: true, problems: [], unchecked: [] });
  });

  test('a mapped Salesforce field that does not exist is an error at its mapping entry, with the closest field', async () => {
    const file = path.join(demoDir, 'wrong-field.yaml');
    fs.writeFileSync(file, fs.readFileSync(sampleFile, 'utf8').replace('Health_Score__c', 'Helth_Score__c'));
    const { output, thrown } = await runValidate({ file, online: true }, sandboxEnv);
    expect(thrown).toBeInstanceOf(ExitError);
    expect(output).toContain("syncs.accounts-to-sf.mapping.health: field 'Helth_Score__c' does not exist on Account");
    expect(output).toContain("'Health_Score__c'");
  });

  test('a destination that cannot be reached is listed as unchecked, not as ok or as a mistake', async () => {
    const closed = 'http://127.0.0.1:9';
    const { output, stderr, thrown } = await runValidate(
      { file: sampleFile, json: true, online: true },
      { ...sandboxEnv, SF_LOGIN_URL: closed },
    );
    expect(thrown).toBeUndefined();
    const report = JSON.parse(output) as { ok: boolean; unchecked: Array<{ sync: string; destination: string }> };
    expect(report.unchecked).toEqual([expect.objectContaining({ sync: 'accounts-to-sf', destination: 'salesforce' })]);
    expect(stderr).toContain("note: destination 'salesforce' of sync 'accounts-to-sf' could not be checked");
  });
});

const binary = path.join(root, 'bin', 'ebb.js');
const withBinary = fs.existsSync(binary) ? test : test.skip;

withBinary('the ebb binary reports the five mistakes and exits with code 1', async () => {
  const run = promisify(execFile);
  const { EBB_TEST_UNSET_SLACK_TOKEN: _unset, ...env } = process.env;
  const failure = await run('node', [binary, 'validate', fiveMistakesFile], { cwd: root, env }).then(
    () => undefined,
    (error: { code: number; stdout: string }) => error,
  );
  expect(failure?.code).toBe(1);
  expect(failure?.stdout).toContain(
    `${fiveMistakesFile}:30:18 syncs.at-risk-to-slack.destination: unknown destination 'slak'`,
  );
  expect(failure?.stdout.trimEnd().endsWith('5 errors')).toBe(true);

  const { stdout } = await run('node', [binary, 'validate', sampleFile], {
    cwd: root,
    env: { ...process.env, ...sampleEnv },
  });
  expect(stdout).toBe('ok: 1 sources, 5 destinations, 2 models, 5 syncs\n');
});
