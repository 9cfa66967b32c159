/**
 * `npm run bench:bulk [-- --rows N] [--processing-ms M] [--poll-seconds S]`: an initial sync of
 * `--rows` accounts (default 100,000) to an empty Salesforce org, once through sObject Collections
 * (`bulk: false`) and once through Bulk API 2.0 (`bulk: { above: 1 }`), each with its own warehouse
 * copy, state store and worker process (bench/worker-entry.ts), as `ebb worker` runs. Reports, for
 * each path, the requests the sandbox answered (its own count, token and describe included), the
 * API calls ebb recorded for the run, and the run's wall time from request to completion.
 *
 * The sandbox takes `--processing-ms` (default 1000) between a job's UploadComplete and its
 * completion, then applies the records through the same org code as collections do; real
 * Salesforce takes seconds to minutes per job, so the Bulk wall time here is a lower bound while the
 * request count is what an org would be charged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { benchConfigYaml, emptyOrg, startBenchEnvironment, type BenchEnvironment } from './bench-environment';
import { buildBenchWarehouse } from './bench-warehouse';
import { runEbb } from './ebb-runs';
import { controllerWorkflowId } from '../workflows/definitions';
import { startWorkerProcess } from './worker-process';

interface PathResult {
  path: 'collections' | 'bulk';
  seconds: number;
  sandboxRequests: number;
  ebbApiCalls: number;
  bulkJobs: number;
  collectionsRequests: number;
  accounts: number;
}

async function measure(
  env: BenchEnvironment,
  options: { path: 'collections' | 'bulk'; rows: number; pollSeconds: number; warehouse: string },
): Promise<PathResult> {
  const dir = path.join(env.dir, options.path);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(options.warehouse, path.join(dir, 'warehouse.duckdb'));
  const syncId = `accounts-${options.path}`;
  const taskQueue = `ebb-bench-bulk-${options.path}`;
  const configFile = path.join(dir, 'ebb.yaml');
  const bulk = options.path === 'bulk' ? `{ above: 1, pollSeconds: ${options.pollSeconds} }` : 'false';
  fs.writeFileSync(configFile, benchConfigYaml(env, syncId, `    bulk: ${bulk}\n`));
  const worker = await startWorkerProcess(configFile, taskQueue, {
    SF_LOGIN_URL: env.salesforce.url,
    SF_CLIENT_ID: env.salesforce.clientId,
    SF_CLIENT_SECRET: env.salesforce.clientSecret,
  });
  try {
    emptyOrg(env, 0);
    const started = performance.now();
    const summary = await runEbb(env.client, { syncId, taskQueue, runNumber: 1 });
    const seconds = (performance.now() - started) / 1000;
    const stats = env.salesforce.stats();
    const accounts = env.salesforce.records('Account').length;
    if (summary.succeeded !== options.rows || accounts !== options.rows)
      throw new Error(`the ${options.path} run delivered ${summary.succeeded} records, the org holds ${accounts}`);
    return {
      path: options.path,
      seconds,
      sandboxRequests: stats.total,
      ebbApiCalls: summary.apiCalls,
      bulkJobs: env.salesforce.bulkJobs().length,
      collectionsRequests: stats.upsertRequests,
      accounts,
    };
  } finally {
    await env.client.workflow
      .getHandle(controllerWorkflowId(syncId))
      .terminate('benchmark over')
      .catch(() => undefined);
    await worker.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '100000' },
      'processing-ms': { type: 'string', default: '1000' },
      'poll-seconds': { type: 'string', default: '1' },
    },
  });
  const rows = Number(values.rows);
  const processingMs = Number(values['processing-ms']);
  const pollSeconds = Number(values['poll-seconds']);
  const env = await startBenchEnvironment();
  try {
    env.salesforce.configureBulk({ processingMs });
    const warehouse = path.join(env.dir, 'warehouse.duckdb');
    await buildBenchWarehouse(warehouse, rows);
    const results: PathResult[] = [];
    for (const which of ['collections', 'bulk'] as const) {
      process.stderr.write(`${which}: an initial sync of ${rows} accounts...\n`);
      results.push(await measure(env, { path: which, rows, pollSeconds, warehouse }));
    }
    const [collections, bulk] = results as [PathResult, PathResult];
    process.stdout.write(
      `${rows} accounts, initial sync; Bulk jobs take ${processingMs} ms to process, polled every ${pollSeconds} s\n` +
        '| path        | wall s | requests (sandbox) | API calls (ebb) | Bulk jobs | collections requests |\n' +
        '| ----------- | ------ | ------------------ | --------------- | --------- | -------------------- |\n' +
        results
          .map(
            (r) =>
              `| ${r.path.padEnd(11)} | ${r.seconds.toFixed(1).padStart(6)} | ${String(r.sandboxRequests).padStart(18)} | ` +
              `${String(r.ebbApiCalls).padStart(15)} | ${String(r.bulkJobs).padStart(9)} | ${String(r.collectionsRequests).padStart(20)} |`,
          )
          .join('\n') +
        `\nBulk spends ${(collections.sandboxRequests / bulk.sandboxRequests).toFixed(0)}x fewer requests and takes ` +
        `${(bulk.seconds / collections.seconds).toFixed(2)}x the wall time of collections\n`,
    );
  } finally {
    await env.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
