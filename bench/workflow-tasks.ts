/**
 * How long workers took over their workflow tasks, read from workflow histories: each task's
 * WorkflowTaskScheduled, WorkflowTaskStarted and WorkflowTaskCompleted (or TimedOut, Failed) event
 * times, as the Temporal server recorded them. After a worker restart the first task of every
 * workflow replays its whole history, so the slowest of those is the restart's cost; a task over
 * the workflow task timeout (10 s) times out and is retried.
 *
 *   const tasks = await workflowTasksSince(client, `TaskQueue = 'ebb'`, restartedAt);
 *   const slowest = tasks.filter((t) => t.startedAt >= restartedAt).sort(bySlowest)[0];
 */
import type { Client } from '@temporalio/client';
import pLimit from 'p-limit';

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Timestamp = HistoryEvent['eventTime'];

export interface WorkflowTask {
  workflowId: string;
  workflowType: string;
  /** Epoch milliseconds. */
  scheduledAt: number;
  startedAt: number | null;
  endedAt: number | null;
  outcome: 'completed' | 'timed out' | 'failed' | 'open';
  /** For timeouts: START_TO_CLOSE (the worker took too long) or SCHEDULE_TO_START (no worker took it, e.g. a dead worker's sticky queue). */
  timeoutType?: string;
  /** Events in the history before the task started: what a worker without the workflow cached replays. */
  historyEventsBefore: number;
}

const HISTORY_FETCH_CONCURRENCY = 8;

function msOf(ts: Timestamp): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** `TIMEOUT_TYPE_START_TO_CLOSE` and 1 alike become `START_TO_CLOSE`. */
function timeoutName(value: unknown): string {
  const names: Record<number, string> = { 1: 'START_TO_CLOSE', 2: 'SCHEDULE_TO_START', 3: 'SCHEDULE_TO_CLOSE' };
  if (typeof value === 'number') return names[value] ?? String(value);
  return String(value).replace(/^TIMEOUT_TYPE_/, '');
}

/** The workflow tasks of one history, in order, paired by their scheduled event's id. */
export function workflowTasksOf(events: HistoryEvent[], workflowId: string, workflowType: string): WorkflowTask[] {
  const byScheduled = new Map<number, WorkflowTask>();
  for (const event of events) {
    const id = Number(event.eventId ?? 0);
    const at = msOf(event.eventTime);
    if (event.workflowTaskScheduledEventAttributes) {
      byScheduled.set(id, {
        workflowId,
        workflowType,
        scheduledAt: at,
        startedAt: null,
        endedAt: null,
        outcome: 'open',
        historyEventsBefore: id - 1,
      });
      continue;
    }
    const started = event.workflowTaskStartedEventAttributes;
    if (started) {
      const task = byScheduled.get(Number(started.scheduledEventId ?? 0));
      if (task) {
        task.startedAt = at;
        task.historyEventsBefore = id - 1;
      }
      continue;
    }
    const ended =
      event.workflowTaskCompletedEventAttributes ??
      event.workflowTaskTimedOutEventAttributes ??
      event.workflowTaskFailedEventAttributes;
    if (!ended) continue;
    const task = byScheduled.get(Number(ended.scheduledEventId ?? 0));
    if (!task) continue;
    task.endedAt = at;
    if (event.workflowTaskCompletedEventAttributes) task.outcome = 'completed';
    else if (event.workflowTaskFailedEventAttributes) task.outcome = 'failed';
    else {
      task.outcome = 'timed out';
      task.timeoutType = timeoutName(event.workflowTaskTimedOutEventAttributes?.timeoutType);
    }
  }
  return [...byScheduled.values()];
}

/** Time the worker held the task: started to completed (or to its timeout or failure). */
export const executionMs = (task: WorkflowTask): number | null =>
  task.startedAt !== null && task.endedAt !== null ? task.endedAt - task.startedAt : null;

/**
 * The workflow tasks of every execution the visibility `query` lists (with every execution each
 * continued from, back to one started before `since`), that were scheduled, started or ended at or
 * after `since`.
 */
export async function workflowTasksSince(client: Client, query: string, since: number): Promise<WorkflowTask[]> {
  const executions: Array<{ workflowId: string; runId: string; type: string }> = [];
  for await (const execution of client.workflow.list({ query }))
    executions.push({ workflowId: execution.workflowId, runId: execution.runId, type: execution.type });
  const limit = pLimit(HISTORY_FETCH_CONCURRENCY);
  const seen = new Set<string>();
  const tasks: WorkflowTask[] = [];
  const collect = async (workflowId: string, runId: string, type: string): Promise<void> => {
    if (seen.has(runId)) return;
    seen.add(runId);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    for (const task of workflowTasksOf(events, workflowId, type))
      if (Math.max(task.scheduledAt, task.startedAt ?? 0, task.endedAt ?? 0) >= since) tasks.push(task);
    const first = events[0];
    const previous = first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (previous && msOf(first?.eventTime) >= since) await collect(workflowId, previous, type);
  };
  await Promise.all(executions.map((e) => limit(() => collect(e.workflowId, e.runId, e.type))));
  return tasks;
}
