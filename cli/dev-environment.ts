/**
 * A whole ebb on one laptop: a Temporal dev server with its UI, the Salesforce, Slack, Meta and HubSpot sandboxes,
 * the webhook receiver sandbox, the demo DuckDB warehouse and a worker running examples/ebb.yaml. Used by `ebb dev` and the demo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrThrow } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { startHubSpotSandbox, type HubSpotSandbox } from '../sandbox/hubspot/hubspot-sandbox';
import { startMetaSandbox, type MetaSandbox } from '../sandbox/meta/meta-sandbox';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startSlackSandbox, type SlackSandbox } from '../sandbox/slack/slack-sandbox';
import { startWebhookSandbox, type WebhookSandbox } from '../sandbox/webhook/webhook-sandbox';
import { freePort, startDevServer, type DevServer } from '../sandbox/temporal-dev-server';
import { buildDemoWarehouse } from '../sandbox/warehouse/demo-warehouse';
import { openStateStore, type StateStore } from '../state/state-store';
import { reconcileSyncs } from '../workers/reconcile-syncs';
import { startWorkers, type RunningWorkers } from '../workers/start-workers';
import { TemporalNames } from '../workflows/temporal-names';
import {
  packageRoot,
  removeDevEnvironmentFile,
  writeDevEnvironmentFile,
  type DevEnvironmentFile,
} from './dev-environment-file';
import { say } from './output';
import { installWorkerRuntime } from '../observability/runtime';

// From dist/cli as from cli/: the package's own folder, where examples/ and .ebb/ are.
const ROOT = packageRoot();
export const DEMO_CONFIG = path.join(ROOT, 'examples', 'ebb.yaml');
/** The webhook sandbox's signing secret, which the demo config reads (no secret: the sandbox is local). */
const WEBHOOK_SECRET_FILE = path.join(ROOT, 'examples', 'webhook-sandbox.secret');

export interface DevEnvironment {
  demoDir: string;
  warehouse: string;
  server: DevServer;
  salesforce: SalesforceSandbox;
  slack: SlackSandbox;
  meta: MetaSandbox;
  webhook: WebhookSandbox;
  hubspot: HubSpotSandbox;
  config: EbbConfig;
  client: Client;
  store: StateStore;
  workers: RunningWorkers;
  taskQueue: string;
  stop(): Promise<void>;
}

async function portOr(preferred: number): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => void freePort().then(resolve));
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(preferred)));
  });
}

export async function startDevEnvironment(options: { fresh: boolean; demoDir?: string }): Promise<DevEnvironment> {
  // The workers run in this process: their log lines are for the person at the terminal.
  await installWorkerRuntime({ logging: { format: process.env.EBB_LOG_FORMAT === 'json' ? 'json' : 'pretty' } });
  const demoDir = path.resolve(options.demoDir ?? path.join(ROOT, '.ebb', 'demo'));
  if (options.fresh) fs.rmSync(demoDir, { recursive: true, force: true });
  fs.mkdirSync(demoDir, { recursive: true });
  const warehouse = path.join(demoDir, 'warehouse.duckdb');
  if (!fs.existsSync(warehouse)) await buildDemoWarehouse(warehouse);

  const port = await portOr(7233);
  const server = await startDevServer({
    port,
    ui: true,
    uiPort: await portOr(port + 1000),
    dbFilename: path.join(demoDir, 'temporal.db'),
    logFile: path.join(demoDir, 'temporal-dev-server.log'),
  });
  const salesforce = await startSalesforceSandbox({
    port: await portOr(8787),
    file: path.join(demoDir, 'salesforce-records.json'),
  });
  const slack = await startSlackSandbox({ port: await portOr(8788), file: path.join(demoDir, 'slack-messages.json') });
  const meta = await startMetaSandbox({ port: await portOr(8791), file: path.join(demoDir, 'meta-audiences.json') });
  // The receiver verifies with the secret examples/ebb.yaml signs with (its secretFile).
  const webhook = await startWebhookSandbox({
    port: await portOr(8793),
    secret: fs.readFileSync(WEBHOOK_SECRET_FILE, 'utf8').trim(),
    file: path.join(demoDir, 'webhook-records.json'),
  });
  const hubspot = await startHubSpotSandbox({
    port: await portOr(8792),
    file: path.join(demoDir, 'hubspot-records.json'),
  });

  Object.assign(process.env, {
    EBB_DEMO_DIR: demoDir,
    EBB_TEMPORAL_ADDRESS: server.address,
    SF_LOGIN_URL: salesforce.url,
    SF_CLIENT_ID: salesforce.clientId,
    SF_CLIENT_SECRET: salesforce.clientSecret,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_API_URL: slack.url,
    META_ACCESS_TOKEN: meta.token,
    META_API_URL: meta.url,
    WEBHOOK_URL: webhook.url,
    WEBHOOK_SECRET_FILE,
    HUBSPOT_ACCESS_TOKEN: hubspot.token,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  const config = loadConfigOrThrow(DEMO_CONFIG);
  const store = await openStateStore({ path: path.resolve(path.dirname(DEMO_CONFIG), config.state.path) });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const native = await NativeConnection.connect({ address: server.address });
  const names = TemporalNames.of(config);
  const taskQueue = names.taskQueue;
  // Every sync's controller exists from here on, so the UI lists them before any schedule fires.
  await reconcileSyncs(client, config, names);
  const workers = await startWorkers({
    config,
    baseDir: path.dirname(DEMO_CONFIG),
    store,
    connection: native,
    client,
    taskQueue,
  });

  return {
    demoDir,
    warehouse,
    server,
    salesforce,
    slack,
    meta,
    webhook,
    hubspot,
    config,
    client,
    store,
    workers,
    taskQueue,
    async stop() {
      await workers.shutdown();
      await native.close();
      await connection.close();
      await store.close();
      await salesforce.close();
      await slack.close();
      await meta.close();
      await webhook.close();
      await hubspot.close();
      await server.stop();
    },
  };
}

export function printDevEndpoints(env: DevEnvironment): void {
  say(`Temporal UI:          ${env.server.uiUrl}/namespaces/default/workflows`);
  say(`  schedules:          ${env.server.uiUrl}/namespaces/default/schedules`);
  say(`Temporal address:     ${env.server.address}`);
  say(`Salesforce sandbox:   ${env.salesforce.url}/__sandbox/records/Account`);
  say(`Slack sandbox:        ${env.slack.url.replace(/\/api\/$/, '')}/__sandbox/messages`);
  say(`Meta sandbox:         ${env.meta.url}/__sandbox/members`);
  say(`Webhook receiver:     ${new URL('/__sandbox/records', env.webhook.url).href}`);
  say(`HubSpot sandbox:      ${env.hubspot.url}/__sandbox/records/companies`);
  say(`Warehouse (DuckDB):   ${env.warehouse}`);
  say('');
  say('In another terminal, from this folder, the CLI finds this environment by itself (.ebb/dev.json):');
  say('  npx ebb run accounts-to-sf --wait');
  say('Elsewhere, or with your own config, set these variables:');
  say(`  export EBB_CONFIG=${DEMO_CONFIG} EBB_TEMPORAL_ADDRESS=${env.server.address} EBB_DEMO_DIR=${env.demoDir}`);
  say(
    `  export SF_LOGIN_URL=${env.salesforce.url} SF_CLIENT_ID=${env.salesforce.clientId} SF_CLIENT_SECRET=${env.salesforce.clientSecret}`,
  );
  say(`  export SLACK_BOT_TOKEN=${env.slack.token} SLACK_API_URL=${env.slack.url}`);
  say(`  export META_ACCESS_TOKEN=${env.meta.token} META_API_URL=${env.meta.url}`);
  say(`  export WEBHOOK_URL=${env.webhook.url} WEBHOOK_SECRET_FILE=${WEBHOOK_SECRET_FILE}`);
  say(`  export HUBSPOT_ACCESS_TOKEN=${env.hubspot.token} HUBSPOT_BASE_PATH=${env.hubspot.url}`);
  say('  npx ebb run accounts-to-sf --wait');
  say(
    'Or in the UI: open workflow `sync/accounts-to-sf` and send it the signal or update runNow, fullResync, replayFailed, pause or resume.',
  );
}

/** What the CLI in another terminal needs to use this environment without exports (.ebb/dev.json). */
export function devEnvironmentFile(env: DevEnvironment): DevEnvironmentFile {
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    config: DEMO_CONFIG,
    temporal: { address: env.server.address, namespace: env.server.namespace, uiUrl: env.server.uiUrl ?? '' },
    env: {
      EBB_DEMO_DIR: env.demoDir,
      SF_LOGIN_URL: env.salesforce.url,
      SF_CLIENT_ID: env.salesforce.clientId,
      SF_CLIENT_SECRET: env.salesforce.clientSecret,
      SLACK_BOT_TOKEN: env.slack.token,
      SLACK_API_URL: env.slack.url,
      META_ACCESS_TOKEN: env.meta.token,
      META_API_URL: env.meta.url,
      WEBHOOK_URL: env.webhook.url,
      WEBHOOK_SECRET_FILE,
      HUBSPOT_ACCESS_TOKEN: env.hubspot.token,
      HUBSPOT_BASE_PATH: env.hubspot.url,
    },
  };
}

export async function devCommand(): Promise<void> {
  const env = await startDevEnvironment({ fresh: false });
  writeDevEnvironmentFile(ROOT, devEnvironmentFile(env));
  printDevEndpoints(env);
  say('\nebb dev is running; Ctrl-C stops everything.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  removeDevEnvironmentFile(ROOT);
  await env.stop();
}
