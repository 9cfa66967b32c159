/**
 * Environment (issue 9): the CLI finds a running `ebb dev` by itself (.ebb/dev.json) when no address
 * or config is given, ignores one whose process is gone, and the Slack sandbox keeps its messages
 * across a restart, as the Salesforce sandbox does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { startSlackSandbox } from '../sandbox/slack/slack-sandbox';
import { ebb } from './harness/ebb-cli';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** A working directory holding only `.ebb/dev.json`, as `ebb dev` writes it. */
function devFolder(e: EngineHarness, pid: number): string {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-dev-cwd-'));
  const { EBB_TEMPORAL_ADDRESS: address, ...env } = e.env;
  fs.mkdirSync(path.join(cwd, '.ebb'));
  fs.writeFileSync(
    path.join(cwd, '.ebb', 'dev.json'),
    JSON.stringify({
      pid,
      startedAt: new Date().toISOString(),
      config: e.configFile,
      temporal: { address, namespace: 'default', uiUrl: '' },
      env,
    }),
  );
  return cwd;
}

/** The environment of a new terminal: none of the variables `ebb dev` printed are set. */
const freshTerminal = (e: EngineHarness) =>
  Object.fromEntries(['EBB_CONFIG', ...Object.keys(e.env)].map((name) => [name, undefined]));

test('with no address or config given, the CLI uses the running ebb dev and says so', async () => {
  engine = await startEngine({ workers: false, syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`) });
  const cwd = devFolder(engine, process.pid);
  const result = await ebb(['status'], { cwd, env: freshTerminal(engine) });
  expect(result.stderr).toContain(
    `ebb: using the running \`ebb dev\` (.ebb/dev.json): Temporal at ${engine.env.EBB_TEMPORAL_ADDRESS}, config`,
  );
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`sf-${engine.suffix}`);
});

test('a dev environment file whose process is gone is ignored', async () => {
  engine = await startEngine({ workers: false, syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`) });
  // Far above any pid the kernel hands out.
  const cwd = devFolder(engine, 2 ** 30);
  const result = await ebb(['status'], { cwd, env: freshTerminal(engine) });
  expect(result.stderr).not.toContain('using the running `ebb dev`');
  expect(result.code).not.toBe(0);
});

test('a restarted Slack sandbox keeps the messages it acknowledged, with their ts', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-slack-file-')), 'slack-messages.json');
  const first = await startSlackSandbox({ file });
  const posted = await new WebClient(first.token, { slackApiUrl: first.url }).chat.postMessage({
    channel: '#cs-alerts',
    text: 'Acme is at risk',
  });
  await first.close();

  const second = await startSlackSandbox({ file });
  try {
    const history = await new WebClient(second.token, { slackApiUrl: second.url }).conversations.history({
      channel: 'C0CSALERTS',
    });
    expect(history.messages?.map((m) => [m.ts, m.text])).toEqual([[posted.ts, 'Acme is at risk']]);
  } finally {
    await second.close();
  }
});
