/**
 * Everything one benchmark run needs, started here and removed afterwards. Shared by every case: a
 * headless in-memory Temporal dev server and the Salesforce sandbox (in this process). Per group of
 * cases with the same rows and latency: a fresh directory with its warehouse, its ebb.yaml and state
 * store, its own sync id and task queue, and ebb's workers in a child process (worker-entry.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startDevServer, type DevServer } from '../sandbox/temporal-dev-server';
import { controllerWorkflowId } from '../workflows/definitions';
import { BENCH_MODEL_SQL, buildBenchWarehouse } from './bench-warehouse';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

export interface BenchEnvironment {
  dir: string;
  server: DevServer;
  client: Client;
  salesforce: SalesforceSandbox;
  stop(): Promise<void>;
}

export interface GroupEnvironment {
  syncId: string;
  taskQueue: string;
  warehouse: string;
  /** The SQLite state store; its -wal and -shm files sit beside it. */
  stateFile: string;
  worker: WorkerProcess;
  stop(): Promise<void>;
}

export async function startBenchEnvironment(): Promise<BenchEnvironment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-bench-'));
  const stops: Array<() => Promise<unknown>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const server = await startDevServer({ logFile: path.join(dir, 'temporal-dev-server.log') });
    stops.push(() => server.stop());
    const salesforce = await startSalesforceSandbox();
    stops.push(() => salesforce.close());
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: server.namespace });
    return { dir, server, client, salesforce, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The bench's ebb.yaml: one Account sync; `syncExtra` adds YAML lines (4-space indented) to the sync. */
export const benchConfigYaml = (env: BenchEnvironment, syncId: string, syncExtra = '') => `
temporal: { address: '${env.server.address}', namespace: ${env.server.namespace} }
state: { path: ./state.sqlite }
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
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
    sql: ${BENCH_MODEL_SQL}
syncs:
  ${syncId}:
    model: account_health
    destination: salesforce
    mode: upsert
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }
    # The org is emptied before each measurement, so an update must carry every field (as the
    # scripts' do): changed fields only would ask Salesforce to create Accounts without a Name.
    changedFieldsOnly: false
${syncExtra}`;

/**
 * Deletes every record of the sandbox and zeroes its request counts and daily API usage, keeping the
 * latency. The bench empties it before each measurement, so that no client meets a bigger org (and a
 * bigger heap in this process, which serves it) for having run later.
 */
export function emptyOrg(env: BenchEnvironment, latencyMs: number): void {
  env.salesforce.reset();
  env.salesforce.injectFaults({ latencyMs });
}

/**
 * Empties the sandbox, sets its latency, builds a
 * warehouse of `rows` accounts and starts a worker with a state store of its own.
 */
export async function startGroup(
  env: BenchEnvironment,
  options: { label: string; rows: number; latencyMs: number },
): Promise<GroupEnvironment> {
  const dir = path.join(env.dir, options.label);
  fs.mkdirSync(dir, { recursive: true });
  const syncId = `accounts-${options.label}`;
  const taskQueue = `ebb-bench-${options.label}`;
  const warehouse = path.join(dir, 'warehouse.duckdb');
  await buildBenchWarehouse(warehouse, options.rows);
  emptyOrg(env, options.latencyMs);
  const configFile = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(configFile, benchConfigYaml(env, syncId));
  const worker = await startWorkerProcess(configFile, taskQueue, {
    SF_LOGIN_URL: env.salesforce.url,
    SF_CLIENT_ID: env.salesforce.clientId,
    SF_CLIENT_SECRET: env.salesforce.clientSecret,
  });
  const stop = async () => {
    await env.client.workflow
      .getHandle(controllerWorkflowId(syncId))
      .terminate('benchmark group over')
      .catch(() => undefined);
    await worker.stop();
  };
  return { syncId, taskQueue, warehouse, stateFile: path.join(dir, 'state.sqlite'), worker, stop };
}
