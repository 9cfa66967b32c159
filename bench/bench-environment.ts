/**
 * Everything one benchmark run needs, started in this process and removed afterwards: a headless
 * in-memory Temporal dev server, the Salesforce sandbox with a fixed latency, the demo warehouse
 * (N rows, plus one of 4N rows for the memory comparison), an ebb.yaml for them, and ebb's workers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrThrow } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import type { DestinationLimits } from '../connectors/destinations/destination';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startDevServer, type DevServer } from '../sandbox/temporal-dev-server';
import { buildDemoWarehouse, SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { openStateStore, type StateStore } from '../state/state-store';
import { startWorkers, type RunningWorkers } from '../workers/start-workers';
import { CONTROLLER_TASK_QUEUE, controllerWorkflowId } from '../workflows/definitions';

/** The sync both ebb and the baseline perform. */
export const SYNC_ID = 'accounts-to-sf';
/** Dry-run-only syncs over the N-row and 4N-row warehouses, planned to compare memory. */
export const PLAN_SYNC_IDS = { single: 'plan-n', quadruple: 'plan-4n' } as const;

export interface BenchEnvironment {
  dir: string;
  warehouse: string;
  config: EbbConfig;
  store: StateStore;
  client: Client;
  salesforce: SalesforceSandbox;
  taskQueue: string;
  deliveryLimits: DestinationLimits;
  stop(): Promise<void>;
}

const configYaml = `
state: { path: ./state.sqlite }
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
  warehouse4n: { type: duckdb, path: ./warehouse-4n.duckdb }
destinations:
  salesforce:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    apiVersion: '60.0'
    auth:
      clientId: \${SF_CLIENT_ID}
      clientSecret: \${SF_CLIENT_SECRET}
models:
  account_health:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name, health, segment, mrr, updated_at from account_health
  account_health_4n:
    source: warehouse4n
    primaryKey: account_id
    sql: select account_id, name, health, segment, mrr, updated_at from account_health
syncs:
${[
  [SYNC_ID, 'account_health'],
  [PLAN_SYNC_IDS.single, 'account_health'],
  [PLAN_SYNC_IDS.quadruple, 'account_health_4n'],
]
  .map(
    ([id, model]) => `  ${id}:
    model: ${model}
    destination: salesforce
    mode: upsert
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }`,
  )
  .join('\n')}
`;

/** `rows` counts the demo's four seed accounts, so the model holds exactly that many rows. */
export async function startBenchEnvironment(options: { rows: number; latencyMs: number }): Promise<BenchEnvironment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-bench-'));
  const stops: Array<() => Promise<unknown>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const warehouse = path.join(dir, 'warehouse.duckdb');
    await buildDemoWarehouse(warehouse, { generated: options.rows - SEED_ACCOUNTS.length });
    await buildDemoWarehouse(path.join(dir, 'warehouse-4n.duckdb'), {
      generated: 4 * options.rows - SEED_ACCOUNTS.length,
    });

    const server: DevServer = await startDevServer({ logFile: path.join(dir, 'temporal-dev-server.log') });
    stops.push(() => server.stop());
    const salesforce = await startSalesforceSandbox({ faults: { latencyMs: options.latencyMs } });
    stops.push(() => salesforce.close());

    const configFile = path.join(dir, 'ebb.yaml');
    fs.writeFileSync(configFile, configYaml);
    const config = loadConfigOrThrow(configFile, {
      env: {
        SF_LOGIN_URL: salesforce.url,
        SF_CLIENT_ID: salesforce.clientId,
        SF_CLIENT_SECRET: salesforce.clientSecret,
      },
    });
    const store = await openStateStore({ path: path.join(dir, 'state.sqlite') });
    stops.push(() => store.close());
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: server.namespace });
    const native = await NativeConnection.connect({ address: server.address });
    stops.push(() => native.close());
    const taskQueue = CONTROLLER_TASK_QUEUE;
    const workers: RunningWorkers = await startWorkers({
      config,
      baseDir: dir,
      store,
      connection: native,
      client,
      taskQueue,
    });
    stops.push(() => workers.shutdown());
    stops.push(() =>
      client.workflow
        .getHandle(controllerWorkflowId(SYNC_ID))
        .terminate('benchmark over')
        .catch(() => undefined),
    );
    const deliveryLimits = workers.queues.find((q) => q.limits)?.limits;
    if (!deliveryLimits) throw new Error('ebb started no delivery worker for the Salesforce destination');
    return { dir, warehouse, config, store, client, salesforce, taskQueue, deliveryLimits, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
