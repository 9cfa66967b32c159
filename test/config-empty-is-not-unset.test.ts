/**
 * `${VAR-default}` falls back only when VAR is unset, `${VAR:-default}` also when it is empty, as in
 * the shell; the sample config uses the first where an empty value means the real service, and
 * ebb warns when a destination still points at a sandbox on this machine outside `ebb dev`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateCommand } from '../cli/commands/validate';
import { localAddressWarnings } from '../config/local-addresses';
import { loadConfig, parseConfig } from '../config/load-config';

const sampleFile = path.join(__dirname, '..', 'examples', 'ebb.yaml');
const production = {
  SF_LOGIN_URL: 'https://acme.my.salesforce.com',
  SF_CLIENT_ID: 'client-id',
  SF_CLIENT_SECRET: 'client-secret',
  SLACK_BOT_TOKEN: 'xoxb-real',
  SLACK_API_URL: '',
  META_API_URL: '',
  HUBSPOT_BASE_PATH: '',
  WEBHOOK_URL: 'https://hooks.example.com/ebb',
};

function channelWith(reference: string, env: Record<string, string | undefined>): unknown {
  const source = `
destinations:
  slack: { type: slack, token: xoxb-1 }
sources:
  warehouse: { type: duckdb, path: ./w.duckdb }
models:
  m: { source: warehouse, primaryKey: id, sql: select 1 as id }
syncs:
  s: { model: m, destination: slack, channel: "${reference}", template: hi }
`;
  const { config, problems } = parseConfig(source, { env });
  expect(problems).toEqual([]);
  return (config?.syncs.s as { channel?: unknown } | undefined)?.channel;
}

test('${VAR-default} keeps an empty value and falls back only when the variable is unset', () => {
  expect(channelWith('${CHANNEL-#fallback}', {})).toBe('#fallback');
  expect(channelWith('x${CHANNEL-#fallback}', { CHANNEL: '' })).toBe('x');
  expect(channelWith('${CHANNEL-#fallback}', { CHANNEL: '#set' })).toBe('#set');
});

test('${VAR:-default} falls back when the variable is unset or empty', () => {
  expect(channelWith('${CHANNEL:-#fallback}', {})).toBe('#fallback');
  expect(channelWith('${CHANNEL:-#fallback}', { CHANNEL: '' })).toBe('#fallback');
  expect(channelWith('${CHANNEL:-#fallback}', { CHANNEL: '#set' })).toBe('#set');
});

test('in the sample config an empty SLACK_API_URL means Slack itself, not the sandbox', () => {
  const { config, problems } = loadConfig(sampleFile, { env: production });
  expect(problems).toEqual([]);
  expect(config?.destinations.slack).toMatchObject({ apiUrl: '' });
  expect(localAddressWarnings(config!, { devUrls: [] })).toEqual([]);
});

test('in the sample config an empty SF_LOGIN_URL is an error, never the sandbox', () => {
  const { problems } = loadConfig(sampleFile, { env: { ...production, SF_LOGIN_URL: '' } });
  expect(problems.length).toBeGreaterThan(0);
  expect(new Set(problems.map((problem) => problem.path))).toEqual(new Set(['destinations.salesforce.loginUrl']));
});

test('a destination left on a sandbox address is named in a warning, unless ebb dev serves that address', () => {
  const { config } = loadConfig(sampleFile, { env: { ...production, SLACK_API_URL: undefined } });
  const warnings = localAddressWarnings(config!, { devUrls: [] });
  expect(warnings).toEqual([
    expect.stringMatching(/^destinations\.slack\.apiUrl is http:\/\/127\.0\.0\.1:8788\/api\/, a sandbox address/),
  ]);
  expect(localAddressWarnings(config!, { devUrls: ['http://127.0.0.1:8788/api/'] })).toEqual([]);
});

test('ebb validate warns on stderr about a destination on a sandbox address', async () => {
  const saved = { ...process.env };
  const cwd = process.cwd();
  const stderr: string[] = [];
  const writeErr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  const writeOut = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    // Away from this checkout, so a running `ebb dev` (its .ebb/dev.json) does not count.
    process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-no-dev-')));
    Object.assign(process.env, production, { EBB_DEMO_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-demo-')) });
    delete process.env.SLACK_API_URL;
    delete process.env.SF_LOGIN_URL;
    await validateCommand({ file: sampleFile }).catch(() => undefined);
  } finally {
    process.chdir(cwd);
    writeErr.mockRestore();
    writeOut.mockRestore();
    process.env = saved;
  }
  const warnings = stderr
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('warning: '));
  expect(warnings).toEqual([
    expect.stringContaining('destinations.salesforce.loginUrl is http://127.0.0.1:8787'),
    expect.stringContaining('destinations.slack.apiUrl is http://127.0.0.1:8788/api/'),
  ]);
});
