/**
 * One run of a sync (`sync/<id>/run/<n>`): plan -> deliver batches through a bounded window -> finish.
 * The plan stages rows in the state store and returns counts; batches are addressed by number.
 */
import {
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { deliveryActivity, planningActivity, shortActivity } from './activity-options';
import { progressQuery, runProgressSignal, type RunInput, type RunProgress, type RunSummary } from './definitions';
import { describeFailure } from './describe-failure';

const { planRun } = proxyActivities<Activities>(planningActivity);
const { finishRun, notifyRun } = proxyActivities<Activities>(shortActivity);

export async function syncRun(input: RunInput): Promise<RunSummary> {
  const progress: RunProgress = {
    runNumber: input.runNumber,
    phase: 'planning',
    batchesTotal: 0,
    batchesDone: 0,
    recordsTotal: 0,
    succeeded: 0,
    failed: 0,
  };
  setHandler(progressQuery, () => progress);
  // Tell the controller at most every 5% of the batches: its history grows by 20 events per run, not per batch.
  const parent = workflowInfo().parent;
  let reportedStep = -1;
  const report = (): void => {
    const step = progress.batchesTotal ? Math.floor((progress.batchesDone * 20) / progress.batchesTotal) : 20;
    if (!parent || step === reportedStep) return;
    reportedStep = step;
    // A controller that is gone (terminated) must not fail the run.
    getExternalWorkflowHandle(parent.workflowId, parent.runId)
      .signal(runProgressSignal, { ...progress })
      .catch(() => undefined);
  };

  let summary: RunSummary;
  try {
    const plan = await planRun(input);
    progress.phase = 'delivering';
    progress.batchesTotal = plan.batches;
    progress.recordsTotal = plan.added + plan.changed + plan.removed;
    progress.failed = plan.invalid;
    report();
    const { deliverBatch } = proxyActivities<Activities>({ ...deliveryActivity, taskQueue: plan.deliveryTaskQueue });

    let next = 1;
    // A fixed pool of lanes bounds the batches in flight; the task queue's own limits bound the rate.
    const lane = async (): Promise<void> => {
      while (next <= plan.batches) {
        const batchNumber = next++;
        const result = await deliverBatch({ syncId: input.syncId, runNumber: input.runNumber, batchNumber });
        progress.batchesDone++;
        progress.succeeded += result.succeeded;
        progress.failed += result.failed;
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.window, plan.batches) }, lane));
    progress.phase = 'finishing';
    summary = await finishRun({ syncId: input.syncId, runNumber: input.runNumber, status: 'succeeded', error: null });
  } catch (err) {
    if (isCancellation(err)) {
      // Close the run's record even though the run itself is being cancelled.
      await CancellationScope.nonCancellable(() =>
        finishRun({ syncId: input.syncId, runNumber: input.runNumber, status: 'failed', error: 'cancelled' }),
      );
      throw err;
    }
    const message = describeFailure(err);
    summary = await finishRun({ syncId: input.syncId, runNumber: input.runNumber, status: 'failed', error: message });
    await notifyRun({ syncId: input.syncId, runNumber: input.runNumber });
    progress.phase = 'done';
    throw ApplicationFailure.create({ type: 'SyncRunFailed', message, nonRetryable: true, details: [summary] });
  }
  await notifyRun({ syncId: input.syncId, runNumber: input.runNumber });
  progress.phase = 'done';
  return summary;
}
