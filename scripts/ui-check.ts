/**
 * `npm run ui-check`: the Temporal UI as a person uses it, checked in headless Chromium (Debian's
 * `chromium` package, or EBB_CHROMIUM) driven by puppeteer-core; no browser is downloaded. Starts a
 * dev server with its UI, an engine with two syncs and its worker, then checks and photographs:
 * the syncs listed right after the worker starts, a sync's summary, a run with failed records
 * shown as such with its reasons, and replay requests rejected with a reason. Screenshots go to
 * docs/ui/ (or the directory given). Opt-in, not in jest: under a loaded 2-core machine the UI
 * takes 1-2 minutes to render all of it, over the test suite's budget per file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Page } from 'puppeteer-core';
import { startDevServer } from '../sandbox/temporal-dev-server';
import { updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine } from '../test/harness/engine';
import { salesforceSyncYaml } from '../test/harness/sync-yaml';
import { reconcileSyncs } from '../workers/reconcile-syncs';
import { replayFailedSignal, replayFailedUpdate } from '../workflows/definitions';

const LONG_NAME = `Acme ${'Overly Long Company Name '.repeat(4)}`;

class UiCheckFailed extends Error {
  constructor(what: string, screenshot: string) {
    super(`the Temporal UI did not show ${what}; see ${screenshot}`);
    this.name = 'UiCheckFailed';
  }
}

function findChromium(): string {
  const found = [process.env.EBB_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p): p is string => !!p && fs.existsSync(p),
  );
  if (!found) throw new Error('no Chromium found: apt-get install -y chromium, or set EBB_CHROMIUM=/path/to/chrome');
  return found;
}

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? 'docs/ui');
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-ui-check-'));
  const started = Date.now();
  const server = await startDevServer({ ui: true, logFile: path.join(tmp, 'temporal.log') });
  // The engine harness connects to the server named here.
  process.env.EBB_TEST_TEMPORAL_ADDRESS = server.address;
  const engine = await startEngine({
    generated: 2,
    syncsYaml: () =>
      salesforceSyncYaml('accounts-to-sf') + salesforceSyncYaml('contacts-no-schedule', { mode: 'update' }),
  });
  const browser = await puppeteer.launch({ executablePath: findChromium(), headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const ui = `${server.uiUrl}/namespaces/default/workflows`;
    const workflowPage = async (workflowId: string, tab: string) => {
      const { runId } = await engine.client.workflow.getHandle(workflowId).describe();
      return `${ui}/${encodeURIComponent(workflowId)}/${runId}/${tab}`;
    };
    const expectPage = async (name: string, url: string, ...texts: string[]) => {
      const screenshot = path.join(outDir, `${name}.png`);
      await page.goto(url, { waitUntil: 'load' });
      const shown = await waitForTexts(page, texts);
      await page.screenshot({ path: screenshot });
      if (!shown) throw new UiCheckFailed(texts.join(' / '), screenshot);
      process.stdout.write(`ok   ${name}: ${texts.join(' / ')}\n`);
    };

    // 1. Right after the worker starts, before any run: both syncs listed.
    await reconcileSyncs(engine.client, engine.config, engine.names);
    await expectPage('1-syncs-listed-at-worker-start', ui, 'sync/accounts-to-sf', 'sync/contacts-no-schedule');

    // 2. A sync's summary and details.
    await expectPage(
      '2-sync-summary',
      await workflowPage('sync/contacts-no-schedule', 'user-metadata'),
      'sync contacts-no-schedule: account_health -> salesforce Account (update by External_Id__c',
      'schedule: none (runs when asked)',
    );

    // 3. A run with a failed record: its outcome and why, by error code.
    await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: LONG_NAME }]);
    const run = await engine.run('accounts-to-sf');
    await expectPage(
      '3-run-with-failures',
      await workflowPage(`sync/accounts-to-sf/run/${run.runNumber}`, 'user-metadata'),
      `run ${run.runNumber} of sync accounts-to-sf: succeeded with 1 failed record`,
      'STRING_TOO_LONG',
    );

    // 4. Replay requests that cannot be meant: the update answers, the signal's reason is in the details.
    const controller = engine.client.workflow.getHandle('sync/accounts-to-sf');
    const answer = await controller.executeUpdate(replayFailedUpdate, { args: [{ runNumber: 999 }] }).then(
      () => 'accepted',
      (err: Error) => (err.cause as Error | undefined)?.message ?? err.message,
    );
    process.stdout.write(`     replayFailed update {"runNumber": 999}: ${answer}\n`);
    await controller.signal(replayFailedSignal, 4 as unknown as { runNumber?: number });
    await controller.signal(replayFailedSignal, { runNumber: 999 });
    await expectPage(
      '4-replay-inputs-rejected',
      await workflowPage('sync/accounts-to-sf', 'user-metadata'),
      // The UI's markdown curls the quotes of {"runNumber": 3}.
      '(or no input), not 4',
      `replayFailed: there is no run 999 (the last run is ${run.runNumber})`,
    );
    process.stdout.write(
      `ui-check passed in ${Math.round((Date.now() - started) / 1000)} s; screenshots in ${outDir}\n`,
    );
  } finally {
    await browser.close();
    await engine.stop();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Whether the page came to show every text within 90 s (the UI renders after its API calls and
 * queries). Summaries and details are rendered markdown in frames of their own, so every frame counts.
 */
async function waitForTexts(page: Page, texts: string[]): Promise<boolean> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const frames = await Promise.all(
      page.frames().map((frame) => frame.evaluate('document.body ? document.body.innerText : ""').catch(() => '')),
    );
    const text = frames.join('\n');
    if (texts.every((t) => text.includes(t))) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
