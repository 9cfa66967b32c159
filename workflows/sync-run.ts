/**
 * One run of a sync (`sync/<id>/run/<n>`): plan -> deliver batches through a bounded window -> finish.
 * The plan stages rows in the state store and returns counts; batches are addressed by number. A run
 * with many batches continues as new between batches, so its history stays small at any model size.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { deliveryActivity, finishingActivity, planningActivity, shortActivity } from './activity-options';
import {
  progressQuery,
  runProgressSignal,
  type PlannedRun,
  type RunInput,
  type RunProgress,
  type RunSummary,
} from './definitions';
import { describeFailure } from './describe-failure';

const { planRun } = proxyActivities<Activities>(planningActivity);
const { finishRun } = proxyActivities<Activities>(finishingActivity);
const { notifyRun } = proxyActivities<Activities>(shortActivity);

export async function syncRun(input: RunInput): Promise<RunSummary> {
  const progress: RunProgress = input.resume?.progress ?? {
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
  let handOver: { plan: PlannedRun; nextBatch: number } | null = null;
  try {
    let plan: PlannedRun;
    if (input.resume) {
      plan = input.resume.plan;
    } else {
      plan = await planRun(input);
      progress.phase = 'delivering';
      progress.batchesTotal = plan.batches;
      progress.recordsTotal = plan.added + plan.changed + plan.removed;
      progress.failed = plan.invalid;
      report();
    }
    const { deliverBatch } = proxyActivities<Activities>({ ...deliveryActivity, taskQueue: plan.deliveryTaskQueue });

    let next = input.resume?.nextBatch ?? 1;
    let stopTaking = false;
    // A fixed pool of lanes bounds the batches in flight; the task queue's own limits bound the rate.
    const lane = async (): Promise<void> => {
      while (next <= plan.batches && !stopTaking) {
        if (workflowInfo().continueAsNewSuggested) {
          // Let the batches in flight finish, then hand the rest to a fresh history.
          stopTaking = true;
          break;
        }
        const batchNumber = next++;
        const result = await deliverBatch({ syncId: input.syncId, runNumber: input.runNumber, batchNumber });
        progress.batchesDone++;
        progress.succeeded += result.succeeded;
        progress.failed += result.failed;
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.window, plan.batches - next + 1)) }, lane));
    if (next <= plan.batches) {
      handOver = { plan, nextBatch: next };
    } else {
      progress.phase = 'finishing';
      summary = await finishRun({ syncId: input.syncId, runNumber: input.runNumber, status: 'succeeded', error: null });
    }
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
  if (handOver) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof syncRun>({ ...input, resume: { ...handOver, progress: { ...progress } } });
  }
  await notifyRun({ syncId: input.syncId, runNumber: input.runNumber });
  progress.phase = 'done';
  const done = summary!;
  // A run in which every record failed is a failed workflow, not a green one. Runs recorded before
  // this change completed instead: `patched` keeps their histories replaying as they were.
  if (done.status === 'failed' && patched('every-record-failed-fails-the-run')) {
    const failed = done.failed + done.invalid;
    throw ApplicationFailure.create({
      type: 'SyncRunFailed',
      message: `every record of run ${done.runNumber} failed (${failed}); see \`ebb records ${input.syncId} --run ${done.runNumber} --failed\``,
      nonRetryable: true,
      details: [done],
    });
  }
  return done;
}
