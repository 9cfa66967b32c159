/**
 * How much orchestration a run cost: the events in its workflow's histories (every execution of a run
 * that continued as new) and the activities it scheduled.
 */
import type { Client } from '@temporalio/client';

export interface HistoryStats {
  events: number;
  activities: number;
  /** Executions of the run workflow (1 plus one per continue-as-new). */
  executions: number;
}

/** Reads the latest execution of `workflowId`, then each one it continued from, back to the first. */
export async function runHistoryStats(client: Client, workflowId: string): Promise<HistoryStats> {
  const stats: HistoryStats = { events: 0, activities: 0, executions: 0 };
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    stats.executions++;
    stats.events += events.length;
    stats.activities += events.filter((e) => e.activityTaskScheduledEventAttributes).length;
    const previous = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) return stats;
    runId = previous;
  }
}
