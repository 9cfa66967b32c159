/**
 * What Temporal knows about a deployment's syncs, in one list call plus one task-queue description,
 * whatever the number of syncs: which controllers and runs are running, each controller's memo
 * (paused or not), and whether any worker polls the engine's queue. None of it needs a worker:
 * `ebb status` answers while every worker is down, and says so.
 */
import type { Client } from '@temporalio/client';
import type { ControllerMemo } from '../workflows/definitions';
import type { TemporalNames } from '../workflows/temporal-names';

/** A worker polls again within about a minute (Temporal's long poll); older polls are from one that stopped. */
const LIVE_POLL_MS = 90_000;

export interface QueuePollers {
  taskQueue: string;
  /** Workers that polled the queue within the last 90 seconds. */
  live: number;
  /** When a worker last polled it (within Temporal's memory of pollers, about 5 minutes); null if none did. */
  lastPollAt: string | null;
}

export interface RunningRun {
  workflowId: string;
  runNumber: number;
  startedAt: string | null;
}

export interface TemporalOverview {
  /** Running controllers by sync id, with their memo (null for controllers older than the memo). */
  controllers: Map<string, ControllerMemo | null>;
  /** Running runs by sync id. */
  runs: Map<string, RunningRun>;
  pollers: QueuePollers;
}

const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

export async function queuePollers(client: Client, taskQueue: string): Promise<QueuePollers> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  const polls = (response.pollers ?? [])
    .map((p) => (p.lastAccessTime?.seconds ? Number(p.lastAccessTime.seconds) * 1000 : 0))
    .filter((ms) => ms > 0);
  const last = polls.length ? Math.max(...polls) : null;
  return {
    taskQueue,
    live: polls.filter((ms) => Date.now() - ms < LIVE_POLL_MS).length,
    lastPollAt: last === null ? null : new Date(last).toISOString(),
  };
}

/** "no worker polls task queue ebb-prod (the last poll was at 10:04:05 UTC)", or null when one does. */
export function noWorkerNotice(pollers: QueuePollers): string | null {
  if (pollers.live > 0) return null;
  const last = pollers.lastPollAt ? ` (the last poll was at ${pollers.lastPollAt.slice(11, 19)} UTC)` : '';
  return `no worker polls task queue ${pollers.taskQueue}${last}: start one with \`ebb worker\` for this config`;
}

/** The server refused the query (e.g. STARTS_WITH on a server older than 1.23). */
const INVALID_ARGUMENT = 3;

/**
 * The list query: running controllers and runs of the deployment's queue. Naming the two workflow
 * types leaves out what only waits for a worker (a Schedule's trigger of each firing, 250 of them
 * every interval while no worker runs), which the server would otherwise send and the CLI decode.
 * For one sync, only its controller and its runs.
 */
function overviewQuery(names: TemporalNames, syncId: string | undefined): string {
  const query = `ExecutionStatus = 'Running' AND TaskQueue = '${names.taskQueue}' AND WorkflowType IN ('syncController', 'syncRun')`;
  if (syncId === undefined) return query;
  const controller = names.controller(syncId).replace(/'/g, "\\'");
  return `${query} AND (WorkflowId = '${controller}' OR WorkflowId STARTS_WITH '${controller}/run/')`;
}

export async function temporalOverview(
  client: Client,
  names: TemporalNames,
  syncId?: string,
): Promise<TemporalOverview> {
  const controllers = new Map<string, ControllerMemo | null>();
  const runs = new Map<string, RunningRun>();
  const list = async (query: string) => {
    for await (const execution of client.workflow.list({ query })) {
      const controllerOf = names.syncOfController(execution.workflowId);
      if (controllerOf !== null) {
        controllers.set(controllerOf, (execution.memo?.ebb as ControllerMemo | undefined) ?? null);
        continue;
      }
      const run = names.runOf(execution.workflowId);
      if (run)
        runs.set(run.syncId, {
          workflowId: execution.workflowId,
          runNumber: run.runNumber,
          startedAt: execution.startTime?.toISOString() ?? null,
        });
    }
  };
  const [pollers] = await Promise.all([
    queuePollers(client, names.taskQueue),
    list(overviewQuery(names, syncId)).catch(async (err: unknown) => {
      const code = (err as { code?: number }).code ?? (err as { cause?: { code?: number } }).cause?.code;
      if (syncId === undefined || code !== INVALID_ARGUMENT) throw err;
      await list(overviewQuery(names, undefined));
    }),
  ]);
  if (syncId !== undefined)
    for (const id of [...controllers.keys(), ...runs.keys()])
      if (id !== syncId) {
        controllers.delete(id);
        runs.delete(id);
      }
  return { controllers, runs, pollers };
}
