/**
 * Wires ebb's workers: one on the engine task queue (controllers, runs, plan/finish/notify) and one
 * per destination connection on its own queue, whose limits come from the destination's declared
 * limits (overridable in config): `maxConcurrentActivityTaskExecutions` caps this worker and
 * `maxTaskQueueActivitiesPerSecond` is enforced by the server across every worker of the queue.
 * `queues` limits a process to some of those queues (`ebb worker --queues`, see queue-selection.ts).
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, DestinationPool, type EngineContext } from '../activities';
import { deliveryTaskQueue } from '../activities/engine-context';
import type { RecordRetryPolicy } from '../activities/record-retries';
import type { EbbConfig } from '../config/schema';
import { activityScopeInterceptor, type ActivityObserver } from '../observability/activity-scope';
import { measureDestinationRequests } from '../observability/http-metrics';
import { watchStaleness } from '../observability/metrics';
import { logRunEvents } from '../observability/run-logs';
import { observeRunMetrics } from '../observability/run-metrics';
import { processTracing } from '../observability/tracing';
import { deliveryShape, type DestinationLimits } from '../connectors/destinations/destination';
import { claimDeployment, stateStoreName } from '../state/deployment-claim';
import { recordFailedAttempt } from '../state/failed-attempts';
import type { StateStore } from '../state/state-store';
import { ALL_QUEUES, type QueueSelection } from './queue-selection';

export interface StartWorkersInput {
  config: EbbConfig;
  baseDir: string;
  store: StateStore;
  connection: NativeConnection;
  client: Client;
  namespace?: string;
  taskQueue: string;
  /** Pre-bundled workflow code (tests bundle once); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The queues this process serves (default: the engine's and every destination's). */
  queues?: QueueSelection;
  /** Backoff for records rejected with a transient error code (default: 1 s, 2 s, 4 s with jitter). */
  recordRetries?: RecordRetryPolicy;
  /** Wait before a delivery paused for the daily API budget checks again (default 5 minutes). */
  apiBudgetRetryMs?: number;
}

export interface RunningWorkers {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  queues: Array<{ taskQueue: string; limits?: DestinationLimits }>;
  shutdown(): Promise<void>;
}

/** The limits of each destination connection that at least one sync uses. */
export function destinationLimits(ctx: EngineContext, pool: DestinationPool): Map<string, DestinationLimits> {
  const out = new Map<string, DestinationLimits>();
  for (const syncId of Object.keys(ctx.config.syncs)) {
    const resolved = pool.resolve(syncId);
    if (out.has(resolved.destination.name)) continue;
    const destination = resolved.connector.create({ connection: resolved.destination.connection, sync: resolved.sync });
    out.set(resolved.destination.name, destination.limits);
  }
  return out;
}

/**
 * Notes each failed activity attempt in the state store, so that `ebb status` describes only the
 * runs that had one (state/failed-attempts.ts). The failure itself goes on to Temporal unchanged;
 * a store that cannot take the note costs status a hint, never the activity its retry.
 */
function noteFailedAttempts(store: StateStore): ActivityObserver {
  return (scope, outcome) => {
    if (!('error' in outcome) || scope.syncId === undefined || !scope.workflowId) return;
    recordFailedAttempt(store, { workflowId: scope.workflowId, syncId: scope.syncId }).catch((err: unknown) =>
      process.stderr.write(`ebb: could not note a failed attempt of ${scope.activity}: ${String(err)}\n`),
    );
  };
}

/**
 * Workflow tasks an engine worker holds at once (the SDK's default is 40). Its workflows run on one
 * thread, so a held task waits for the others: at 8, a controller's replay after a SIGKILL restart
 * of 500 syncs took up to 2.2 s on 2 cores (bench:scale), nearly all of it waiting; at 4 the wait
 * is halved, and the tasks not taken wait on the server, where no workflow task timeout runs.
 */
const ENGINE_WORKFLOW_TASK_SLOTS = 4;

export async function startWorkers(input: StartWorkersInput): Promise<RunningWorkers> {
  // Before any worker polls: a worker of another deployment would write its runs into this store.
  await claimDeployment(
    input.store,
    input.config.deployment ?? null,
    stateStoreName(input.config.state, input.baseDir),
  );
  const ctx: EngineContext = {
    config: input.config,
    baseDir: input.baseDir,
    store: input.store,
    taskQueue: input.taskQueue,
    client: input.client,
    recordRetries: input.recordRetries,
    apiBudgetRetryMs: input.apiBudgetRetryMs,
  };
  const pool = new DestinationPool(ctx);
  const activities = createActivities(ctx, pool);
  const workflowSource = input.workflowBundle
    ? { workflowBundle: input.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };
  // Every activity runs in a scope naming its sync, run and batch, for the metrics and logs (observability/).
  measureDestinationRequests(input.config);
  // Traces when the OTEL_* variables ask for them (observability/tracing.ts): the tracing interceptor
  // comes first, so the activity's span is open around everything the activity does.
  const tracing = processTracing();
  const interceptors = {
    activity: [
      ...(tracing?.activityInterceptors ?? []),
      activityScopeInterceptor(input.config, [observeRunMetrics, logRunEvents, noteFailedAttempts(input.store)]),
    ],
    // Bundled with the workflow code at start; a pre-built bundle (the tests' shared one) would need them built in.
    ...(tracing && !input.workflowBundle ? { workflowModules: tracing.workflowModules } : {}),
  };
  const common = {
    connection: input.connection,
    namespace: input.namespace ?? 'default',
    interceptors,
    ...(tracing ? { sinks: tracing.sinks } : {}),
  };

  const selection = input.queues ?? ALL_QUEUES;
  const selected = (name: string) => selection.destinations === 'all' || selection.destinations.includes(name);
  const workers: Worker[] = [];
  const queues: RunningWorkers['queues'] = [];
  if (selection.engine) {
    queues.push({ taskQueue: input.taskQueue });
    workers.push(
      await Worker.create({
        ...common,
        ...workflowSource,
        taskQueue: input.taskQueue,
        activities,
        // A workflow task the worker holds but cannot start yet still counts against its 10 s timeout:
        // after a restart, hundreds of controllers replaying at once on one worker thread timed out.
        // Taking a few at a time leaves the rest waiting on the server, where no timeout runs.
        maxConcurrentWorkflowTaskExecutions: ENGINE_WORKFLOW_TASK_SLOTS,
      }),
    );
  }
  for (const [name, limits] of destinationLimits(ctx, pool)) {
    if (!selected(name)) continue;
    const taskQueue = deliveryTaskQueue(input.taskQueue, name);
    queues.push({ taskQueue, limits });
    const shape = deliveryShape(limits);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue,
        // A large run takes the bulk path: one deliverBulk instead of its deliverBatch activities.
        activities: { deliverBatch: activities.deliverBatch, deliverBulk: activities.deliverBulk },
        maxConcurrentActivityTaskExecutions: shape.activitySlots,
        maxTaskQueueActivitiesPerSecond: shape.activitiesPerSecond,
      }),
    );
  }
  const unwatch = watchStaleness(input.store, input.config);
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    unwatch();
    await pool.closeAll();
    await tracing?.forceFlush();
  });
  return {
    done,
    queues,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
