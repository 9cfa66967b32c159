/**
 * A whole ebb for one test: a demo DuckDB warehouse in a temp dir, the Salesforce and Slack
 * sandboxes, an ebb.yaml written for them, the state store, and ebb's real workers on unique task
 * queues of the shared dev server. Sync ids get a unique suffix so tests never share workflow ids.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities, type Activities } from '../../activities';
import type { RecordRetryPolicy } from '../../activities/record-retries';
import { loadConfigOrThrow } from '../../config/load-config';
import type { EbbConfig } from '../../config/schema';
import { requestRun, waitForRequest } from '../../cli/sync-control';
import {
  startSalesforceSandbox,
  type SalesforceSandbox,
  type SalesforceSandboxOptions,
} from '../../sandbox/salesforce/salesforce-sandbox';
import { startSlackSandbox, type SlackSandbox, type SlackSandboxOptions } from '../../sandbox/slack/slack-sandbox';
import { buildDemoWarehouse } from '../../sandbox/warehouse/demo-warehouse';
import { openStateStore, type StateStore } from '../../state/state-store';
import { startWorkers, type RunningWorkers } from '../../workers/start-workers';
import type { RequestRunInput, RunSummary, SyncStatus } from '../../workflows/definitions';
import { TemporalNames } from '../../workflows/temporal-names';
import { quietWorkerLogs, temporalAddress } from './temporal';
import { selectSql, type TestWarehouse } from './warehouses';

export interface EngineHarnessOptions {
  /** Generated accounts besides the four seed accounts. */
  generated?: number;
  /** ebb.yaml `syncs:` section; `{sf}` / `{slack}` in ids are replaced by unique ids. */
  syncsYaml: (ids: { suffix: string }) => string;
  /** `limits:` of the salesforce destination, as YAML flow map. */
  salesforceLimits?: string;
  salesforce?: SalesforceSandboxOptions;
  slack?: SlackSandboxOptions;
  /** Extra entries of ebb.yaml's `models:` section (account_health is always there). */
  extraModelsYaml?: string;
  /** Extra entries of ebb.yaml's `destinations:` section (salesforce and slack are always there). */
  extraDestinationsYaml?: string;
  /** Extra environment for the config's `${VAR}`s (e.g. another sandbox's URL and token). */
  extraEnv?: Record<string, string>;
  /** Start workers in this process (default true). */
  workers?: boolean;
  /**
   * Sync from this warehouse (test/harness/warehouses.ts) instead of the demo DuckDB file; the test
   * creates `account_health` in it before the first run. Its directory is the engine's `dir`.
   */
  warehouse?: (dir: string) => Promise<TestWarehouse>;
  /** Backoff of in-run record retries (default: the engine's 1 s, 2 s, 4 s); tests pass milliseconds. */
  recordRetries?: RecordRetryPolicy;
  /** Wait before a delivery paused for the daily API budget checks again (default 5 minutes). */
  apiBudgetRetryMs?: number;
  /** `state.retention` as a YAML flow map (default: ebb's default retention). */
  retention?: string;
  /**
   * ebb.yaml's `deployment`: its default task queue (`ebb-<deployment>`) replaces the engine's unique
   * one, and its ids get the deployment's prefix, so sync ids need no suffix.
   */
  deployment?: string;
}

export interface EngineHarness {
  dir: string;
  configFile: string;
  /** The demo DuckDB file (unless a `warehouse` option replaced it). */
  warehouse: string;
  testWarehouse: TestWarehouse | null;
  suffix: string;
  env: Record<string, string>;
  config: EbbConfig;
  store: StateStore;
  client: Client;
  sf: SalesforceSandbox;
  slack: SlackSandbox;
  taskQueue: string;
  /** Workflow ids, schedule ids and task queue of this engine's config. */
  names: TemporalNames;
  workers: RunningWorkers | null;
  startWorkers(): Promise<RunningWorkers>;
  /** ebb's activities bound to this engine, for running one directly (e.g. to re-execute it). */
  activities(): Activities;
  /** Requests a run and waits for it; returns its summary. */
  run(syncId: string, input?: RequestRunInput): Promise<RunSummary>;
  status(syncId: string): Promise<SyncStatus>;
  stop(): Promise<void>;
}

const defaultDestinations = (salesforceLimits = '{ batchSize: 50, maxConcurrency: 2, requestsPerSecond: 50 }') => `
  salesforce:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth:
      clientId: \${SF_CLIENT_ID}
      clientSecret: \${SF_CLIENT_SECRET}
    limits: ${salesforceLimits}
  slack:
    type: slack
    token: \${SLACK_BOT_TOKEN}
    apiUrl: \${SLACK_API_URL}
`;

export async function startEngine(options: EngineHarnessOptions): Promise<EngineHarness> {
  quietWorkerLogs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-engine-'));
  const suffix = randomUUID().slice(0, 8);
  const warehouse = path.join(dir, 'warehouse.duckdb');
  const testWarehouse = options.warehouse ? await options.warehouse(dir) : null;
  if (!testWarehouse) await buildDemoWarehouse(warehouse, { generated: options.generated ?? 40 });
  const sf = await startSalesforceSandbox(options.salesforce);
  const slack = await startSlackSandbox(options.slack);
  const env: Record<string, string> = {
    SF_LOGIN_URL: sf.url,
    SF_CLIENT_ID: sf.clientId,
    SF_CLIENT_SECRET: sf.clientSecret,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_API_URL: slack.url,
    EBB_TEMPORAL_ADDRESS: temporalAddress(),
    ...(options.deployment ? {} : { EBB_TASK_QUEUE: `ebb-test-${suffix}` }),
    ...testWarehouse?.env,
    ...options.extraEnv,
  };
  const yaml = `${options.deployment ? `deployment: ${options.deployment}` : ''}
state: { path: ./state.sqlite${options.retention ? `, retention: ${options.retention}` : ''} }
sources:
  warehouse: ${testWarehouse?.sourceYaml ?? '{ type: duckdb, path: ./warehouse.duckdb }'}
destinations:${defaultDestinations(options.salesforceLimits)}${options.extraDestinationsYaml ?? ''}
models:
  account_health:
    source: warehouse
    primaryKey: account_id
    sql: ${testWarehouse ? selectSql(testWarehouse.kind, ['account_id', 'name', 'health', 'segment', 'mrr', 'updated_at'], 'account_health') : 'select account_id, name, health, segment, mrr, updated_at from account_health'}
    cursor: updated_at
${options.extraModelsYaml ?? ''}
syncs:
${options.syncsYaml({ suffix })}
`;
  const configFile = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(configFile, yaml);
  const config = loadConfigOrThrow(configFile, { env: { ...process.env, ...env } });
  const store = await openStateStore({ path: path.join(dir, 'state.sqlite') });
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection });
  const names = TemporalNames.of(config);
  const taskQueue = names.taskQueue;
  const natives: NativeConnection[] = [];

  const harness: EngineHarness = {
    dir,
    configFile,
    warehouse,
    testWarehouse,
    suffix,
    env,
    config,
    store,
    client,
    sf,
    slack,
    taskQueue,
    names,
    workers: null,
    async startWorkers() {
      const native = await NativeConnection.connect({ address: temporalAddress() });
      natives.push(native);
      const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
      harness.workers = await startWorkers({
        config,
        baseDir: dir,
        store,
        connection: native,
        client,
        taskQueue,
        workflowBundle: bundle ? { codePath: bundle } : undefined,
        recordRetries: options.recordRetries,
        apiBudgetRetryMs: options.apiBudgetRetryMs,
      });
      return harness.workers;
    },
    activities() {
      return createActivities({
        config,
        baseDir: dir,
        store,
        taskQueue,
        client: null,
        recordRetries: options.recordRetries,
        apiBudgetRetryMs: options.apiBudgetRetryMs,
      });
    },
    async run(syncId, input = {}) {
      const { requestSeq } = await requestRun(client, syncId, names, input);
      const status = await waitForRequest(client, syncId, requestSeq, () => undefined, {}, names);
      if (!status.lastRun) throw new Error('no run summary');
      return status.lastRun;
    },
    async status(syncId) {
      const s = await client.workflow.getHandle(names.controller(syncId)).query<SyncStatus>('status');
      return s;
    },
    async stop() {
      for (const syncId of Object.keys(config.syncs)) {
        await client.workflow
          .getHandle(names.controller(syncId))
          .terminate('test over')
          .catch(() => undefined);
      }
      await harness.workers?.shutdown();
      for (const n of natives) await n.close();
      await connection.close();
      await store.close();
      await sf.close();
      await slack.close();
      await testWarehouse?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.workers ?? true) await harness.startWorkers();
  return harness;
}

/** The full event histories of a sync's controller and every run it started, as JSON text. */
export async function historiesText(
  client: Client,
  syncId: string,
  runNumbers: number[],
  names: TemporalNames = new TemporalNames(null),
): Promise<string> {
  const ids = [names.controller(syncId), ...runNumbers.map((n) => names.run(syncId, n))];
  const parts: string[] = [];
  for (const id of ids) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    parts.push(JSON.stringify(history));
  }
  return parts.join('\n');
}
