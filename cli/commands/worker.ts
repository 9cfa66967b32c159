/**
 * `ebb worker [--queues engine,<destination>,...]`: runs the engine worker and one worker per
 * destination (or only the queues named) until SIGINT/SIGTERM.
 */
import { describeLimits } from '../../connectors/destinations/destination';
import { reconcileSyncs } from '../../workers/reconcile-syncs';
import { startWorkers } from '../../workers/start-workers';
import { ALL_QUEUES, selectQueues, unusedDestinations } from '../../workers/queue-selection';
import { connectClient, connectNative, loadCliContext, openStore } from '../cli-context';
import { warnAboutLocalAddresses } from '../local-address-warnings';
import { ExitError } from '../exit-error';
import { say } from '../output';
import { startMetricsServer } from '../../observability/metrics-server';
import { installWorkerRuntime } from '../../observability/runtime';

export interface WorkerOptions {
  config?: string;
  /** `engine` and/or destination names; all queues when absent. */
  queues?: string[];
}

export async function workerCommand(options: WorkerOptions): Promise<void> {
  const ctx = loadCliContext(options.config);
  // Off unless asked for: a port opened by surprise is a port someone has to secure.
  const metricsAddress = process.env.EBB_METRICS_ADDRESS || ctx.config.observability?.metrics?.address;
  const runtime = await installWorkerRuntime({ metrics: Boolean(metricsAddress) });
  const metrics = metricsAddress
    ? await startMetricsServer({
        address: metricsAddress,
        temporalMetricsUrl: runtime.temporalMetricsUrl,
        setting: process.env.EBB_METRICS_ADDRESS ? 'EBB_METRICS_ADDRESS' : 'observability.metrics.address',
      })
    : null;
  warnAboutLocalAddresses(ctx.config);
  const selection = options.queues ? selectQueues(ctx.config, options.queues) : ALL_QUEUES;
  for (const name of unusedDestinations(ctx.config, selection))
    say(`no sync uses destination ${name}: no worker for it`);
  const store = await openStore(ctx);
  // The workers' connection first: it names a TLS failure (an unknown CA, a missing client
  // certificate) at once, where the client's only says it gave up waiting after its timeout.
  const connection = await connectNative(ctx).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const { client, close } = await connectClient(ctx).catch(async (err: unknown) => {
    await connection.close();
    await store.close();
    throw err;
  });
  const closeAll = async () => {
    await metrics?.close();
    await connection.close();
    await close();
    await store.close();
  };
  // startWorkers first: it refuses a state store of another deployment before anything is started.
  const workers = await startWorkers({
    config: ctx.config,
    baseDir: ctx.baseDir,
    store,
    connection,
    client,
    namespace: ctx.config.temporal.namespace,
    taskQueue: ctx.taskQueue,
    queues: selection,
  });
  if (workers.queues.length === 0) {
    await workers.shutdown();
    await closeAll();
    throw new ExitError(1, `nothing to serve: no sync uses ${options.queues?.join(', ')}`);
  }
  // Schedules and controllers live on the engine queue, so the processes that serve it keep them current.
  const reconciled = selection.engine ? await reconcileSyncs(client, ctx.config, ctx.names) : null;
  const schedules = reconciled?.schedules ?? [];
  if (ctx.names.deployment) say(`deployment ${ctx.names.deployment}`);
  if (metrics) say(`metrics at ${metrics.url}`);
  for (const q of workers.queues) {
    say(`worker on ${q.taskQueue}${q.limits ? ` (${describeLimits(q.limits)})` : ''}`);
  }
  if (schedules.length) say(`schedules: ${schedules.join(', ')}`);
  if (reconciled?.started.length) say(`started controllers: ${reconciled.started.join(', ')}`);
  if (reconciled?.closed.length)
    say(`closed controllers of syncs no longer configured: ${reconciled.closed.join(', ')}`);
  if (reconciled?.removedSchedules.length)
    say(`deleted schedules of syncs no longer scheduled: ${reconciled.removedSchedules.join(', ')}`);
  if (reconciled?.searchAttributesWarning) say(`warning: ${reconciled.searchAttributesWarning}`);
  const stop = () => void workers.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await workers.done;
  await closeAll();
}
