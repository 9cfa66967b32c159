/**
 * Starts one Temporal dev server for the whole jest run (unless EBB_TEST_TEMPORAL_ADDRESS points at
 * one already) and bundles the workflow code once; test files connect to both through env vars.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../sandbox/temporal-dev-server';

declare global {
  var __EBB_DEV_SERVER__: DevServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  // For suites that need no Temporal (config, connectors against sandboxes): EBB_TEST_NO_TEMPORAL=1.
  if (process.env.EBB_TEST_NO_TEMPORAL === '1') return;
  const root = path.resolve(__dirname, '..', '..');
  const logDir = path.join(root, '.test-logs');
  fs.mkdirSync(logDir, { recursive: true });
  if (!process.env.EBB_TEST_TEMPORAL_ADDRESS) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-temporal-'));
    const started = Date.now();
    const server = await startDevServer({
      dbFilename: path.join(tmp, 'temporal.db'),
      logFile: path.join(logDir, 'temporal-dev-server.log'),
      // Small enough that tests exercise continue-as-new.
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 },
    });
    globalThis.__EBB_DEV_SERVER__ = server;
    process.env.EBB_TEST_TEMPORAL_ADDRESS = server.address;
    process.stdout.write(`\n[test] Temporal dev server at ${server.address} (ready in ${Date.now() - started} ms)\n`);
  }
  const bundlePath = path.join(logDir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: console.error,
    },
  });
  fs.writeFileSync(bundlePath, code);
  process.env.EBB_TEST_WORKFLOW_BUNDLE = bundlePath;
}
