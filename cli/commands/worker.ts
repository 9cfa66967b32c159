/** `ebb worker`: runs the engine worker and one worker per destination until SIGINT/SIGTERM. */
import { ensureSchedules } from '../../workers/schedules';
import { startWorkers } from '../../workers/start-workers';
import { connectClient, connectNative, loadCliContext, openStore } from '../cli-context';
import { say } from '../output';
import { quietTemporalLogs } from '../runtime-logging';

export async function workerCommand(options: { config?: string }): Promise<void> {
  quietTemporalLogs();
  const ctx = loadCliContext(options.config);
  const store = await openStore(ctx);
  const { client, close } = await connectClient(ctx);
  const connection = await connectNative(ctx);
  const schedules = await ensureSchedules(client, ctx.config, ctx.taskQueue);
  const workers = await startWorkers({
    config: ctx.config,
    baseDir: ctx.baseDir,
    store,
    connection,
    client,
    namespace: ctx.config.temporal.namespace,
    taskQueue: ctx.taskQueue,
  });
  for (const q of workers.queues) {
    say(
      `worker on ${q.taskQueue}${q.limits ? ` (concurrency ${q.limits.maxConcurrency}, ${q.limits.requestsPerSecond}/s, batches of ${q.limits.batchSize})` : ''}`,
    );
  }
  if (schedules.length) say(`schedules: ${schedules.join(', ')}`);
  const stop = () => void workers.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await workers.done;
  await connection.close();
  await close();
  await store.close();
}
