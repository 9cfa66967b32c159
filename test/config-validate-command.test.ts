import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExitError } from '../cli/exit-error';
import { validateCommand } from '../cli/commands/validate';

const root = path.resolve(__dirname, '..');
const sampleFile = path.join(root, 'examples', 'ebb.yaml');
const fiveMistakesFile = path.join(root, 'test', 'fixtures', 'config', 'five-mistakes.yaml');
const sampleEnv = {
  SF_LOGIN_URL: 'https://acme.my.salesforce.com',
  SF_CLIENT_ID: 'client-id',
  SF_CLIENT_SECRET: 'client-secret-value',
  SLACK_BOT_TOKEN: 'xoxb-secret-token',
  // A demo directory with no warehouse in it, whatever `npm run demo` left in .ebb/demo.
  EBB_DEMO_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-no-demo-')),
};

/** Runs the handler with `env` set, returning what it printed and what it threw. */
async function runValidate(options: { file: string; json?: boolean }, env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const printed: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    await validateCommand(options);
    return { output: printed.join(''), thrown: undefined };
  } catch (error) {
    return { output: printed.join(''), thrown: error };
  } finally {
    write.mockRestore();
    process.env = saved;
  }
}

test('ebb validate prints a summary for the sample config', async () => {
  const { output, thrown } = await runValidate({ file: sampleFile }, sampleEnv);
  expect(thrown).toBeUndefined();
  expect(output).toBe('ok: 1 sources, 2 destinations, 1 models, 2 syncs\n');
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
  // The sample's DuckDB file is not built here: the file is valid, and the report says what went unchecked.
  expect(JSON.parse(passed.output)).toEqual({
    ok: true,
    problems: [],
    unreachable: [{ source: 'warehouse', reason: expect.stringContaining('DuckDB file not found') }],
    summary: { sources: 1, destinations: 2, models: 1, syncs: 2 },
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
  expect(stdout).toBe('ok: 1 sources, 2 destinations, 1 models, 2 syncs\n');
});
