/**
 * Which sync, run and batch the code running now works for. An activity interceptor (installed on
 * every ebb worker by workers/start-workers.ts) enters the scope around each activity, so the HTTP
 * metrics (http-metrics.ts) and the structured logs (logging.ts) learn their sync, destination,
 * run, batch, workflow id and attempt without any connector or activity passing them along.
 * AsyncLocalStorage keeps concurrent activities of one process apart.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { EbbConfig } from '../config/schema';

export interface ActivityScope {
  activity: string;
  workflowId: string;
  attempt: number;
  syncId?: string;
  runNumber?: number;
  batch?: number;
  /** The destination connection the activity talks to (a notify activity's is the alert destination). */
  destination?: string;
}

const current = new AsyncLocalStorage<ActivityScope>();

export function activityScope(): ActivityScope | undefined {
  return current.getStore();
}

/** Runs `fn` inside `scope` (tests and code outside activities, such as the CLI's plan). */
export function withActivityScope<T>(scope: ActivityScope, fn: () => Promise<T>): Promise<T> {
  return current.run(scope, fn);
}

/** Activities take one object (STYLE.md, practice 3): its ids are the scope's; nothing else is read. */
export function scopeOf(
  config: Pick<EbbConfig, 'syncs'>,
  info: ActivityContext['info'],
  firstArg: unknown,
): ActivityScope {
  const input = (typeof firstArg === 'object' && firstArg !== null ? firstArg : {}) as Record<string, unknown>;
  const syncId = typeof input.syncId === 'string' ? input.syncId : undefined;
  const sync = syncId !== undefined ? config.syncs[syncId] : undefined;
  const destination = info.activityType === 'notifyRun' ? sync?.alert?.destination : sync?.destination;
  return {
    activity: info.activityType,
    workflowId: info.workflowExecution?.workflowId ?? '',
    attempt: info.attempt,
    ...(syncId !== undefined ? { syncId } : {}),
    ...(typeof input.runNumber === 'number' ? { runNumber: input.runNumber } : {}),
    ...(typeof input.batchNumber === 'number' ? { batch: input.batchNumber } : {}),
    ...(destination !== undefined ? { destination } : {}),
  };
}

export type ActivityObserver = (
  scope: ActivityScope,
  outcome: { result: unknown } | { error: unknown },
  seconds: number,
) => void;

/**
 * The interceptor factory: enters the activity's scope, then tells each observer how it ended.
 * Observers run after the activity and must not throw into it.
 */
export function activityScopeInterceptor(
  config: Pick<EbbConfig, 'syncs'>,
  observers: readonly ActivityObserver[],
): ActivityInterceptorsFactory {
  return (ctx) => ({
    // Temporal's activity logger already adds the workflow id, attempt and activity type.
    outbound: {
      getLogAttributes(input, next) {
        const scope = current.getStore();
        return {
          ...next(input),
          ...(scope?.syncId !== undefined ? { syncId: scope.syncId } : {}),
          ...(scope?.runNumber !== undefined ? { runNumber: scope.runNumber } : {}),
          ...(scope?.batch !== undefined ? { batch: scope.batch } : {}),
          ...(scope?.destination !== undefined ? { destination: scope.destination } : {}),
        };
      },
    },
    inbound: {
      async execute(input, next) {
        const scope = scopeOf(config, ctx.info, input.args[0]);
        const started = performance.now();
        const notify = (outcome: { result: unknown } | { error: unknown }) => {
          const seconds = (performance.now() - started) / 1000;
          for (const observe of observers) {
            try {
              observe(scope, outcome, seconds);
            } catch (err) {
              process.stderr.write(`ebb: an observer of ${scope.activity} failed: ${String(err)}\n`);
            }
          }
        };
        return current.run(scope, async () => {
          try {
            const result = await next(input);
            notify({ result });
            return result;
          } catch (error) {
            notify({ error });
            throw error;
          }
        });
      },
    },
  });
}
