/**
 * The long-lived controller of one sync (`sync/<syncId>`): the only writer of its state. It queues
 * run requests (schedule, CLI, UI signals), coalesces those that arrive during a run into one next
 * run, runs them one at a time as child `syncRun` workflows, and continues-as-new before its
 * history grows large.
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { shortActivity } from './activity-options';
import {
  fullResyncSignal,
  pauseSignal,
  replayFailedSignal,
  requestRunUpdate,
  resumeSignal,
  runNowSignal,
  runProgressSignal,
  runWorkflowId,
  statusQuery,
  type ControllerInput,
  type ControllerState,
  type CurrentRun,
  type RequestRunInput,
  type RequestRunResult,
  type RunKind,
  type RunSummary,
  type SyncStatus,
} from './definitions';
import { describeFailure } from './describe-failure';
import { syncRun } from './sync-run';
import { renderControllerDetails } from './controller-details';

const { allocateRun, describeSync } = proxyActivities<Activities>(shortActivity);

/** A full resync covers an incremental run, which covers a replay (failed records are re-sent by any run). */
const PRIORITY: Record<RunKind, number> = { replay: 1, incremental: 2, full: 3 };

export async function syncController(input: ControllerInput): Promise<void> {
  const { syncId } = input;
  const state: ControllerState = input.carried ?? {
    paused: false,
    pending: null,
    requestSeq: 0,
    completedThroughSeq: 0,
    lastRun: null,
    lastSuccessAt: null,
    skippedWhilePaused: 0,
    startedAt: new Date().toISOString(),
  };
  let current: CurrentRun | null = null;
  // Known once describeSync answers; handlers are registered first so no early update is rejected.
  let scheduleIntervalMs: number | null = null;

  const status = (): SyncStatus => {
    const since = Date.parse(state.lastSuccessAt ?? state.startedAt ?? new Date().toISOString());
    return {
      syncId,
      paused: state.paused,
      currentRun: current,
      pending: state.pending,
      lastRun: state.lastRun,
      lastSuccessAt: state.lastSuccessAt,
      cursor: state.cursor ?? null,
      scheduleIntervalMs,
      overdue: scheduleIntervalMs !== null && !state.paused && Date.now() - since > 2 * scheduleIntervalMs,
      requestSeq: state.requestSeq,
      completedThroughSeq: state.completedThroughSeq,
      skippedWhilePaused: state.skippedWhilePaused,
    };
  };
  const publish = () => renderControllerDetails(status());

  const request = (req: RequestRunInput): RequestRunResult => {
    if (state.paused && req.source === 'schedule') {
      state.skippedWhilePaused++;
      publish();
      return { requestSeq: state.requestSeq, accepted: false };
    }
    const kind = req.kind ?? 'incremental';
    const seq = ++state.requestSeq;
    const pending = state.pending;
    // A confirmation of deletes goes to the next run whichever request's kind that run takes: the
    // person confirmed what the model implies now, and the next run is the one that serves their
    // request. It leaves with that run (pending is cleared when the run starts), so it never
    // reaches a later one.
    const allowDeletes = req.allowDeletes === true || pending?.allowDeletes === true;
    if (!pending || PRIORITY[kind] > PRIORITY[pending.kind]) {
      state.pending = {
        kind,
        replayOfRun: kind === 'replay' ? (req.runNumber ?? null) : null,
        throughSeq: seq,
        ...(allowDeletes ? { allowDeletes } : {}),
      };
    } else {
      pending.throughSeq = seq;
      if (allowDeletes) pending.allowDeletes = true;
    }
    publish();
    return { requestSeq: seq, accepted: true };
  };

  setHandler(runNowSignal, (req) => void request({ kind: 'incremental', ...req }));
  setHandler(fullResyncSignal, (req) => void request({ kind: 'full', allowDeletes: req?.allowDeletes }));
  setHandler(replayFailedSignal, (req) => void request({ kind: 'replay', runNumber: req?.runNumber }));
  setHandler(requestRunUpdate, (req) => request(req ?? {}));
  setHandler(pauseSignal, () => {
    state.paused = true;
    publish();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    publish();
  });
  setHandler(statusQuery, status);
  setHandler(runProgressSignal, (progress) => {
    if (current && current.runNumber === progress.runNumber) current.progress = progress;
  });
  publish();
  ({ scheduleIntervalMs } = await describeSync({ syncId }));
  publish();

  // Time until the sync becomes overdue, so the controller wakes then and its status says so.
  const msUntilOverdue = (): number | null => {
    if (scheduleIntervalMs === null || state.paused) return null;
    const since = Date.parse(state.lastSuccessAt ?? state.startedAt ?? new Date().toISOString());
    const ms = since + 2 * scheduleIntervalMs - Date.now();
    return ms > 0 ? ms + 1 : null;
  };

  for (;;) {
    const ready = () => (state.pending !== null && !state.paused) || workflowInfo().continueAsNewSuggested;
    const untilOverdue = msUntilOverdue();
    if (untilOverdue === null) await condition(ready);
    else if (!(await condition(ready, untilOverdue))) {
      publish();
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof syncController>({ syncId, carried: state });
    }
    const pending = state.pending;
    if (!pending) continue;
    state.pending = null;

    const { runNumber } = await allocateRun({
      syncId,
      kind: pending.kind,
      replayOfRun: pending.replayOfRun,
      requestId: uuid4(),
    });
    const workflowId = runWorkflowId(syncId, runNumber);
    current = { runNumber, kind: pending.kind, workflowId, startedAt: new Date().toISOString(), progress: null };
    publish();
    let summary: RunSummary | null = null;
    let error: string | null = null;
    try {
      summary = await executeChild(syncRun, {
        workflowId,
        args: [
          {
            syncId,
            runNumber,
            kind: pending.kind,
            replayOfRun: pending.replayOfRun,
            ...(pending.allowDeletes ? { allowDeletes: true } : {}),
          },
        ],
        // A run never outlives its controller: a restarted controller must not start a second run beside
        // an orphaned one. A cancelled run loses nothing (only accepted records count as delivered).
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
    } catch (err) {
      if (!(err instanceof ChildWorkflowFailure)) throw err;
      const cause = err.cause;
      summary = cause instanceof ApplicationFailure ? ((cause.details?.[0] as RunSummary | undefined) ?? null) : null;
      error = describeFailure(err);
    }
    state.lastRun = summary
      ? { ...summary, error: summary.error ?? error }
      : {
          runNumber,
          kind: pending.kind,
          status: 'failed',
          added: 0,
          changed: 0,
          removed: 0,
          unchanged: 0,
          invalid: 0,
          succeeded: 0,
          failed: 0,
          apiCalls: 0,
          startedAt: current.startedAt,
          finishedAt: new Date().toISOString(),
          error,
          cursor: state.cursor ?? null,
        };
    // A run that delivered what it could counts as a success for overdue; its failed records are retried next run.
    if (state.lastRun.status !== 'failed') {
      state.lastSuccessAt = state.lastRun.finishedAt;
      state.cursor = state.lastRun.cursor;
    }
    state.completedThroughSeq = Math.max(state.completedThroughSeq, pending.throughSeq);
    current = null;
    publish();
  }
}
