/**
 * ebb's workers for one benchmark group, in a process of their own:
 * `node -r tsx/cjs bench/worker-entry.ts <ebb.yaml> <task queue>`. The same wiring as `ebb worker`
 * (workers/start-workers.ts, every queue), without the CLI around it. Once the workers are created
 * it prints one line, `ready {"maxConcurrency":..,"requestsPerSecond":..,"batchSize":..}`, with the
 * limits of the Salesforce delivery queue, and it runs until SIGTERM.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrThrow } from '../config/load-config';
import { quietTemporalLogs } from '../cli/runtime-logging';
import { openStateStore } from '../state/state-store';
import { startWorkers } from '../workers/start-workers';

async function main(): Promise<void> {
  const [configFile, taskQueue] = process.argv.slice(2);
  if (!configFile || !taskQueue) throw new Error('usage: worker-entry.ts <ebb.yaml> <task queue>');
  quietTemporalLogs();
  const config = loadConfigOrThrow(configFile);
  const baseDir = path.dirname(configFile);
  const store = await openStateStore({ path: path.resolve(baseDir, config.state.path) });
  const address = config.temporal.address;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const native = await NativeConnection.connect({ address });
  const workers = await startWorkers({
    config,
    baseDir,
    store,
    connection: native,
    client,
    namespace: config.temporal.namespace,
    taskQueue,
  });
  const limits = workers.queues.find((q) => q.limits)?.limits;
  if (!limits) throw new Error(`${configFile} starts no delivery worker: the benchmark needs its Salesforce sync`);
  const { maxConcurrency, requestsPerSecond, batchSize } = limits;
  process.stdout.write(`ready ${JSON.stringify({ maxConcurrency, requestsPerSecond, batchSize })}\n`);
  process.once('SIGTERM', () => void workers.shutdown());
  await workers.done;
  await native.close();
  await connection.close();
  await store.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
