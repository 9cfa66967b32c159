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
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  bulkDeliveryActivity,
  deliveryActivity,
  finishingActivity,
  planningActivity,
  shortActivity,
} from './activity-options';
import {
  describeOutcome,
  progressQuery,
  runProgressSignal,
  type PlannedRun,
  type RunInput,
  type RunProgress,
  type RunSummary,
} from './definitions';
import { describeFailure } from './describe-failure';
import { failureLines } from './controller-details';
import { EbbFailedRecords, EbbLastRunOutcome } from './search-attributes';

const { planRun } = proxyActivities<Activities>(planningActivity);
const { finishRun } = proxyActivities<Activities>(finishingActivity);
const { notifyRun } = proxyActivities<Activities>(shortActivity);
const { writeSyncLogs } = proxyActivities<Activities>(finishingActivity);

/**
 * Copies the run's final record results to the warehouse's sync-log table (a no-op unless the
 * model's source sets `syncLogs`). The run's outcome stands if the warehouse refuses: the failed
 * activity is in the run's history and the worker's log, and the results stay in the state store.
 */
async function logRunToWarehouse(input: RunInput): Promise<void> {
  if (!patched('warehouse-sync-logs')) return;
  try {
    await writeSyncLogs.executeWithOptions(
      { ...finishingActivity, summary: `sync logs of run ${input.runNumber} to the warehouse` },
      [{ syncId: input.syncId, runNumber: input.runNumber }],
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
  }
}

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
  setHandler(progressQuery, () => progress, {
    description: 'Phase, batches done of total, records delivered and failed.',
  });
  // The run's page in the Temporal UI: progress while it runs, the outcome and failure reasons at the end.
  const showProgress = (): void =>
    setCurrentDetails(
      `**run ${input.runNumber} of sync ${input.syncId}**: ${progress.phase}, ${progress.batchesDone}/${progress.batchesTotal} batches, ` +
        `${progress.succeeded} delivered, ${progress.failed} failed of ${progress.recordsTotal} records`,
    );
  const showOutcome = (done: RunSummary): void => {
    setCurrentDetails(
      [
        `**run ${done.runNumber} of sync ${input.syncId}: ${describeOutcome(done.status, done.failed + done.invalid)}**`,
        `${done.added} added, ${done.changed} changed, ${done.removed} removed, ${done.unchanged} unchanged; ` +
          `${done.succeeded} delivered, ${done.failed} failed, ${done.invalid} invalid; ${done.apiCalls} API calls` +
          (done.error ? `\n\nerror: ${done.error}` : ''),
        ...failureLines(done.failureReasons, input.syncId, done.runNumber),
      ].join('\n\n'),
    );
    if (input.searchAttributes)
      upsertSearchAttributes([
        { key: EbbLastRunOutcome, value: done.status },
        { key: EbbFailedRecords, value: done.failed + done.invalid },
      ]);
  };
  showProgress();
  // Tell the controller at most every 5% of the batches: its history grows by 20 events per run, not per batch.
  const parent = workflowInfo().parent;
  let reportedStep = -1;
  const report = (): void => {
    const step = progress.batchesTotal ? Math.floor((progress.batchesDone * 20) / progress.batchesTotal) : 20;
    if (!parent || step === reportedStep) return;
    reportedStep = step;
    showProgress();
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
      plan = await planRun.executeWithOptions(
        { ...planningActivity, summary: `plan run ${input.runNumber}: read the model, diff, stage the changes` },
        [input],
      );
      progress.phase = 'delivering';
      progress.batchesTotal = plan.batches;
      progress.recordsTotal = plan.added + plan.changed + plan.removed;
      progress.failed = plan.invalid;
      report();
    }
    const { deliverBatch } = proxyActivities<Activities>({ ...deliveryActivity, taskQueue: plan.deliveryTaskQueue });

    let next = input.resume?.nextBatch ?? 1;
    // A large run goes through the destination's bulk jobs (Salesforce Bulk API 2.0) in one activity
    // that records every batch's outcomes as deliverBatch would; the lanes below then find nothing left.
    if (plan.delivery === 'bulk' && !input.resume && plan.batches > 0 && patched('bulk-delivery')) {
      const { deliverBulk } = proxyActivities<Activities>({
        ...bulkDeliveryActivity,
        taskQueue: plan.deliveryTaskQueue,
      });
      const result = await deliverBulk.executeWithOptions(
        {
          ...bulkDeliveryActivity,
          taskQueue: plan.deliveryTaskQueue,
          summary: `Bulk API 2.0: ${plan.batches} batches, ${progress.recordsTotal} records`,
        },
        [{ syncId: input.syncId, runNumber: input.runNumber }],
      );
      progress.batchesDone = plan.batches;
      progress.succeeded += result.succeeded;
      progress.failed += result.failed;
      next = plan.batches + 1;
      report();
    }
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
        const records = recordsInBatch(plan, batchNumber);
        const result = await deliverBatch.executeWithOptions(
          {
            ...deliveryActivity,
            taskQueue: plan.deliveryTaskQueue,
            summary: `batch ${batchNumber}/${plan.batches}${records === null ? '' : `: ${records} ${records === 1 ? 'record' : 'records'}`}`,
          },
          [{ syncId: input.syncId, runNumber: input.runNumber, batchNumber }],
        );
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
      summary = await finishRun.executeWithOptions(
        { ...finishingActivity, summary: `finish run ${input.runNumber}: count results, commit cursor and snapshots` },
        [{ syncId: input.syncId, runNumber: input.runNumber, status: 'succeeded', error: null }],
      );
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
    await logRunToWarehouse(input);
    await notifyRun({ syncId: input.syncId, runNumber: input.runNumber });
    progress.phase = 'done';
    showOutcome(summary);
    throw ApplicationFailure.create({ type: 'SyncRunFailed', message, nonRetryable: true, details: [summary] });
  }
  if (handOver) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof syncRun>({ ...input, resume: { ...handOver, progress: { ...progress } } });
  }
  await logRunToWarehouse(input);
  await notifyRun({ syncId: input.syncId, runNumber: input.runNumber });
  progress.phase = 'done';
  const done = summary!;
  showOutcome(done);
  // A run in which every record failed is a failed workflow, not a green one. Runs recorded before
  // this change completed instead: `patched` keeps their histories replaying as they were.
  if (done.status === 'failed' && patched('every-record-failed-fails-the-run')) {
    const failed = done.failed + done.invalid;
    throw ApplicationFailure.create({
      type: 'SyncRunFailed',
      message: `every record of run ${done.runNumber} failed (${failed})${reasonsText(done)}; see \`ebb records ${input.syncId} --run ${done.runNumber} --failed\``,
      nonRetryable: true,
      details: [done],
    });
  }
  return done;
}

/**
 * Records in batch `n`, when the plan says how many go in one (plans fill batches in order, the last
 * one partly); null for plans recorded before they said.
 */
function recordsInBatch(plan: PlannedRun, n: number): number | null {
  const perBatch = plan.recordsPerBatch;
  if (!perBatch) return plan.batches === 1 ? plan.added + plan.changed + plan.removed : null;
  return n < plan.batches ? perBatch : plan.added + plan.changed + plan.removed - perBatch * (plan.batches - 1);
}

/** ': STRING_TOO_LONG x2, REQUIRED_FIELD_MISSING x1' (codes and counts only; keys are in the details). */
function reasonsText(done: RunSummary): string {
  const reasons = done.failureReasons ?? [];
  return reasons.length ? `: ${reasons.map((r) => `${r.code} x${r.count}`).join(', ')}` : '';
}
