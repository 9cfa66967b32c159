/** Driving ebb the way a user does: a run requested from the sync's controller workflow, as `ebb run` does. */
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { requestRun } from '../cli/sync-control';
import { runWorkflowId, type RunKind, type RunSummary } from '../workflows/definitions';

export class BenchRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const START_POLL_MS = 20;

/**
 * Requests run `runNumber` of the sync (the bench starts every sync with an empty state store, so it
 * knows the number) and resolves with its summary. It waits on the run workflow's result, a long poll
 * on the server, rather than querying the controller, which would add the worker's query handling
 * to the CPU time being measured.
 */
export async function runEbb(
  client: Client,
  target: { syncId: string; taskQueue: string; runNumber: number },
  kind: RunKind = 'incremental',
): Promise<RunSummary> {
  const { syncId, runNumber } = target;
  await requestRun(client, syncId, target.taskQueue, { kind });
  const handle = client.workflow.getHandle(runWorkflowId(syncId, runNumber));
  // result() of a workflow not started yet fails with a bare ServiceError; describe() says NotFound.
  for (;;) {
    try {
      await handle.describe();
      break;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await new Promise((resolve) => setTimeout(resolve, START_POLL_MS));
    }
  }
  let summary: RunSummary;
  try {
    summary = (await handle.result()) as RunSummary;
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new BenchRunError(`ebb's run ${runNumber} of ${syncId} failed: ${err.cause?.message ?? err.message}`);
    throw err;
  }
  if (summary.runNumber !== runNumber || summary.status !== 'succeeded' || summary.failed + summary.invalid > 0)
    throw new BenchRunError(`ebb's run of ${syncId} did not deliver every record: ${JSON.stringify(summary)}`);
  return summary;
}
