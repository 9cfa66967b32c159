/** Talking to a sync's controller workflow from outside: start it if needed, request runs, wait for them. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  controllerWorkflowId,
  progressQuery,
  requestRunUpdate,
  statusQuery,
  type RequestRunInput,
  type RequestRunResult,
  type RunProgress,
  type SyncStatus,
} from '../workflows/definitions';

export async function ensureController(client: Client, syncId: string, taskQueue: string) {
  const workflowId = controllerWorkflowId(syncId);
  try {
    await client.workflow.start('syncController', { workflowId, taskQueue, args: [{ syncId }] });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return client.workflow.getHandle(workflowId);
}

export async function requestRun(
  client: Client,
  syncId: string,
  taskQueue: string,
  input: RequestRunInput,
): Promise<RequestRunResult> {
  const handle = await ensureController(client, syncId, taskQueue);
  return handle.executeUpdate(requestRunUpdate, { args: [{ source: 'manual', ...input }] });
}

/** The controller's status, or null when it was never started (or has been terminated). */
export async function controllerStatus(client: Client, syncId: string): Promise<SyncStatus | null> {
  try {
    const handle = client.workflow.getHandle(controllerWorkflowId(syncId));
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return null;
    return await handle.query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

export async function runProgress(client: Client, workflowId: string): Promise<RunProgress | null> {
  try {
    return await client.workflow.getHandle(workflowId).query(progressQuery);
  } catch {
    // The run may have just finished; its progress is then read from the state store.
    return null;
  }
}

/**
 * Why the run is waiting, when a delivery of it paused for the destination's daily API budget: the
 * pause's message ("waiting for API budget (used/limit), next check at <time>. ..."), read from
 * the last failure of its pending delivery. The pause is a retrying activity, so the run workflow's
 * description is where Temporal keeps it; null when nothing waits (or the run just finished).
 */
export async function runWaiting(client: Client, workflowId: string): Promise<string | null> {
  try {
    const { raw } = await client.workflow.getHandle(workflowId).describe();
    const paused = raw.pendingActivities?.find(
      (a) => a.lastFailure?.applicationFailureInfo?.type === 'ApiBudgetExhausted',
    );
    return paused?.lastFailure?.message ?? null;
  } catch {
    return null;
  }
}

/** Polls until the controller has served request `requestSeq`; reports progress of the current run. */
export async function waitForRequest(
  client: Client,
  syncId: string,
  requestSeq: number,
  onProgress: (p: RunProgress | null, status: SyncStatus) => void,
): Promise<SyncStatus> {
  for (;;) {
    const status = await controllerStatus(client, syncId);
    if (!status)
      throw new Error(
        `the controller of sync '${syncId}' is not running (terminated?); start it with \`ebb run ${syncId}\``,
      );
    if (status.completedThroughSeq >= requestSeq) return status;
    onProgress(status.currentRun ? await runProgress(client, status.currentRun.workflowId) : null, status);
    await new Promise((r) => setTimeout(r, 500));
  }
}
