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
  isCancellation,
  patched,
  proxyActivities,
  setDefaultSignalHandler,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { shortActivity } from './activity-options';
import {
  fullResyncSignal,
  fullResyncUpdate,
  pauseSignal,
  pauseUpdate,
  replayFailedSignal,
  replayFailedUpdate,
  requestRunUpdate,
  resumeSignal,
  resumeUpdate,
  runNowSignal,
  runNowUpdate,
  runProgressSignal,
  statusQuery,
  type ControllerInput,
  type ControllerMemo,
  type ControllerState,
  type CurrentRun,
  type PauseResult,
  type RequestRunInput,
  type RequestRunResult,
  type RunKind,
  type RunProgress,
  type RunSummary,
  type SyncDescription,
  type SyncStatus,
} from './definitions';
import { describeFailure } from './describe-failure';
import {
  checkFullResyncInput,
  checkNoInput,
  checkReplayInput,
  checkRunRequest,
  RejectedRequestError,
} from './request-validation';
import { EbbDestination, EbbFailedRecords, EbbLastRunOutcome, EbbPaused, EbbSyncId } from './search-attributes';
import { syncRun } from './sync-run';
import { renderControllerDetails, runDetails } from './controller-details';

const { allocateRun, checkReplay, describeSync, notifyStaleness, schedulePaused, setSchedulePaused } =
  proxyActivities<Activities>(shortActivity);

/** Rejected requests kept in the controller's state and details: enough to see what went wrong lately. */
const MAX_REJECTED = 5;
/** Runs with failures remembered for replay checks; older ones are checked against the state store. */
const MAX_RUNS_WITH_FAILURES = 20;

/**
 * History length past which an idle controller continues as new, well before the server suggests it
 * (4,096 events): after a worker restart every controller that wakes replays its whole history, and
 * hundreds of long ones made workflow tasks time out. A run adds up to ~90 events (its progress signals).
 */
const CONTROLLER_HISTORY_EVENTS = 250;

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
  let description: SyncDescription = { scheduleIntervalMs: null };
  let described = false;
  let closedBecause: string | null = null;

  /** No successful run for twice the schedule's interval (a paused sync is never overdue). */
  const isOverdue = (): boolean => {
    const since = Date.parse(state.lastSuccessAt ?? state.startedAt ?? new Date().toISOString());
    return scheduleIntervalMs !== null && !state.paused && Date.now() - since > 2 * scheduleIntervalMs;
  };
  const status = (): SyncStatus => {
    return {
      syncId,
      paused: state.paused,
      currentRun: current,
      pending: state.pending,
      lastRun: state.lastRun,
      lastSuccessAt: state.lastSuccessAt,
      cursor: state.cursor ?? null,
      scheduleIntervalMs,
      overdue: isOverdue(),
      requestSeq: state.requestSeq,
      completedThroughSeq: state.completedThroughSeq,
      skippedWhilePaused: state.skippedWhilePaused,
      ...(state.pausedBy ? { pausedBy: state.pausedBy } : {}),
      ...(state.rejected?.length ? { rejected: state.rejected } : {}),
    };
  };
  const publish = () => renderControllerDetails(status(), description.summary, closedBecause);

  /** A signal cannot answer its sender: the reason goes to the details, where the UI shows it. */
  const reject = (name: string, reason: string): void => {
    state.rejected = [...(state.rejected ?? []), { name, reason, at: new Date().toISOString() }].slice(-MAX_REJECTED);
    publish();
  };
  /** Runs a signal's check; a failed one is recorded instead of acted on. */
  const checked = <T>(name: string, check: () => T): T | null => {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof RejectedRequestError)) throw err;
      reject(name, err.message);
      return null;
    }
  };
  /** The controller's memo: what `ebb status` reads for all syncs with one list call, without a worker. */
  let memoWritten = '';
  const writeMemo = (): void => {
    if (!patched('status-in-memo')) return;
    const memo: ControllerMemo = { paused: state.paused, ...(state.pausedBy ? { pausedBy: state.pausedBy } : {}) };
    const text = JSON.stringify(memo);
    if (text === memoWritten) return;
    memoWritten = text;
    upsertMemo({ ebb: memo });
  };
  /** What lists of workflows show (the memo, and the search attributes when the namespace has them). */
  const writeSearchAttributes = (): void => {
    writeMemo();
    if (!description.searchAttributes) return;
    const last = state.lastRun;
    upsertSearchAttributes([
      { key: EbbSyncId, value: syncId },
      ...(description.destination ? [{ key: EbbDestination, value: description.destination }] : []),
      { key: EbbPaused, value: state.paused },
      ...(last
        ? [
            { key: EbbLastRunOutcome, value: last.status },
            { key: EbbFailedRecords, value: last.failed + last.invalid },
          ]
        : []),
    ]);
  };

  const request = (req: RequestRunInput): RequestRunResult => {
    // The Schedule fired unpaused: someone unpaused it in the Temporal UI, which resumes the sync.
    if (state.paused && req.source === 'schedule' && req.scheduleActive === true && description.hasSchedule) {
      state.paused = false;
      delete state.pausedBy;
      writeSearchAttributes();
    }
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

  // Histories recorded before requests were checked take every signal as it came.
  const checking = () => patched('requests-checked');
  /**
   * A replay of a named run needs that run to exist and to have failed records: the state store
   * knows, so the check is an activity. Returns the reason it has nothing to send, or null.
   */
  const replayProblem = async (runNumber: number | undefined): Promise<string | null> =>
    runNumber === undefined ? null : (await checkReplay({ syncId, runNumber })).problem;
  const requestReplay = async (name: string, runNumber: number | undefined): Promise<RequestRunResult> => {
    const problem = await replayProblem(runNumber);
    if (problem) throw new RejectedRequestError(`${name}: ${problem}`);
    return request({ kind: 'replay', runNumber });
  };

  /** One pause: the controller's, mirrored on the sync's Schedule (the Schedules page shows it too). */
  const setPaused = async (paused: boolean, by: 'signal' | 'schedule'): Promise<PauseResult> => {
    const apply = (): void => {
      const changed = state.paused !== paused;
      state.paused = paused;
      if (paused) state.pausedBy = by;
      else delete state.pausedBy;
      publish();
      if (changed) writeSearchAttributes();
    };
    const mirror = by === 'signal' && patched('pause-mirrored-on-schedule');
    // A pause stops runs at once; a resume waits until the Schedule is unpaused, or the next run
    // would find it still paused and pause the sync again.
    if (paused || !mirror) apply();
    if (mirror) {
      // A pause sent right after the controller started waits to learn whether the sync has a Schedule.
      await condition(() => described);
      if (description.hasSchedule) await setSchedulePaused({ syncId, paused });
      if (!paused) apply();
    }
    return { paused: state.paused };
  };

  setHandler(runNowSignal, (req) => {
    if (!checking()) return void request({ kind: 'incremental', ...req });
    const checkedReq = checked('runNow', () => checkRunRequest('runNow', req, state.lastRunNumber));
    if (checkedReq) void request({ kind: 'incremental', ...checkedReq });
  });
  setHandler(fullResyncSignal, (req) => {
    if (!checking()) return void request({ kind: 'full', allowDeletes: req?.allowDeletes });
    const checkedReq = checked('fullResync', () => checkFullResyncInput(req));
    if (checkedReq) void request({ kind: 'full', ...checkedReq });
  });
  setHandler(replayFailedSignal, async (req) => {
    if (!checking()) return void request({ kind: 'replay', runNumber: req?.runNumber });
    const checkedReq = checked('replayFailed', () => checkReplayInput(req, state.lastRunNumber));
    if (!checkedReq) return;
    await requestReplay('replayFailed', checkedReq.runNumber).catch((err: unknown) => {
      if (!(err instanceof RejectedRequestError)) throw err;
      reject('replayFailed', err.message);
    });
  });
  setHandler(pauseSignal, async (req) => {
    if (checking() && !checked('pause', () => (checkNoInput('pause', req), true))) return;
    await setPaused(true, 'signal');
  });
  setHandler(resumeSignal, async (req) => {
    if (checking() && !checked('resume', () => (checkNoInput('resume', req), true))) return;
    await setPaused(false, 'signal');
  });
  // The same requests as updates: the validator answers the sender before anything is recorded.
  const rejectedUpdate = (err: unknown): never => {
    if (err instanceof RejectedRequestError)
      throw ApplicationFailure.create({ type: 'RejectedRequest', message: err.message, nonRetryable: true });
    throw err;
  };
  setHandler(runNowUpdate, (req) => request({ kind: 'incremental', ...(req ?? {}), source: 'manual' }), {
    validator: (req) => void checkRunRequest('runNow', req, state.lastRunNumber),
    description: 'Start an incremental run now (input: none). Answers with the request number.',
  });
  setHandler(fullResyncUpdate, (req) => request({ kind: 'full', ...checkFullResyncInput(req), source: 'manual' }), {
    validator: (req) => void checkFullResyncInput(req),
    description: 'Forget the snapshot and send every row (input: none, or {"allowDeletes": true}).',
  });
  setHandler(
    replayFailedUpdate,
    (req) => requestReplay('replayFailed', checkReplayInput(req).runNumber).catch(rejectedUpdate),
    {
      validator: (req) => void checkReplayInput(req, state.lastRunNumber),
      description:
        'Re-send the failed records of a run (input: {"runNumber": 3}, or none for the latest with failures).',
    },
  );
  setHandler(pauseUpdate, () => setPaused(true, 'signal'), {
    validator: (req) => checkNoInput('pause', req),
    description: 'Pause the sync and its Schedule (input: none).',
  });
  setHandler(resumeUpdate, () => setPaused(false, 'signal'), {
    validator: (req) => checkNoInput('resume', req),
    description: 'Resume the sync and its Schedule (input: none).',
  });
  setHandler(
    requestRunUpdate,
    async (req) => {
      if (req?.kind === 'replay' && checking()) return requestReplay('requestRun', req.runNumber).catch(rejectedUpdate);
      return request(req ?? {});
    },
    {
      validator: (req) => void checkRunRequest('requestRun', req, state.lastRunNumber),
      description:
        'What the ebb CLI sends: {"kind": "incremental" | "full" | "replay", "runNumber"?, "allowDeletes"?}.',
    },
  );
  setHandler(statusQuery, status, { description: 'The sync: paused, current run and progress, last run, queue.' });
  // Not a named handler, so the UI does not offer it beside the person's signals (definitions.ts).
  setDefaultSignalHandler((name, ...args) => {
    if (name === runProgressSignal.name) {
      const progress = args[0] as RunProgress;
      if (current && current.runNumber === progress.runNumber) current.progress = progress;
      return;
    }
    reject(name, `there is no signal ${name}; signals: runNow, fullResync, replayFailed, pause, resume`);
  });
  publish();
  description = await describeSync({ syncId });
  described = true;
  ({ scheduleIntervalMs } = description);
  writeSearchAttributes();
  publish();

  // Time until the sync becomes overdue, so the controller wakes then and its status says so.
  const msUntilOverdue = (): number | null => {
    if (scheduleIntervalMs === null || state.paused) return null;
    const since = Date.parse(state.lastSuccessAt ?? state.startedAt ?? new Date().toISOString());
    const ms = since + 2 * scheduleIntervalMs - Date.now();
    return ms > 0 ? ms + 1 : null;
  };

  // Beside the run loop, so a run stuck retrying (a destination down for hours) still alerts.
  if (patched('staleness-alerts')) void watchStaleness().catch(() => undefined);

  try {
    await serve();
  } catch (err) {
    // Cancelled by a worker whose config no longer has this sync (workers/reconcile-syncs.ts): close
    // as completed, saying why; a running run is cancelled with it (REQUEST_CANCEL) and records so.
    if (!isCancellation(err)) throw err;
    closedBecause = 'closed: the sync is no longer in the config';
    publish();
  }

  /**
   * One alert when the sync becomes overdue and one when a run succeeds again: `state.staleAlert`
   * (carried across continue-as-new) remembers the first, so neither repeats. Wakes when the sync
   * would become overdue and whenever a run succeeds or the sync is paused or resumed.
   */
  async function watchStaleness(): Promise<void> {
    const observed = () => `${state.lastSuccessAt}|${state.paused}`;
    for (;;) {
      const alerted = state.staleAlert;
      if (alerted && state.lastSuccessAt !== null && state.lastSuccessAt !== alerted.since) {
        await sendStalenessAlert({ kind: 'recovered', since: alerted.since, recoveredAt: state.lastSuccessAt });
        state.staleAlert = undefined;
      } else if (!alerted && isOverdue()) {
        const since = state.lastSuccessAt ?? state.startedAt ?? new Date().toISOString();
        await sendStalenessAlert({ kind: 'overdue', since });
        state.staleAlert = { since };
      }
      const seen = observed();
      const wait = state.staleAlert ? null : msUntilOverdue();
      if (wait === null) await condition(() => observed() !== seen);
      else await condition(() => observed() !== seen, wait);
    }
  }

  /** An alert destination that refuses (a wrong channel) must not stop the controller: the failure is in its history. */
  async function sendStalenessAlert(alert: { kind: 'overdue' | 'recovered'; since: string; recoveredAt?: string }) {
    try {
      await notifyStaleness({ syncId, scheduleIntervalMs, ...alert });
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
  }

  async function serve(): Promise<void> {
    for (;;) {
      // Between runs, so a long history is handed over before the controller waits (and a restart replays it).
      if (workflowInfo().historyLength > CONTROLLER_HISTORY_EVENTS && patched('continue-as-new-early')) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof syncController>({ syncId, carried: state });
      }
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
      // A Schedule paused in the Temporal UI pauses the sync: it is one pause, whichever button was pressed.
      if (description.hasSchedule && !state.paused && patched('schedule-pause-is-sync-pause')) {
        if ((await schedulePaused({ syncId })).paused) {
          await setPaused(true, 'schedule');
          continue;
        }
      }
      state.pending = null;

      const { runNumber } = await allocateRun({
        syncId,
        kind: pending.kind,
        replayOfRun: pending.replayOfRun,
        requestId: uuid4(),
      });
      // The controller's own id carries the deployment's prefix (temporal-names.ts): its runs share it.
      const workflowId = `${workflowInfo().workflowId}/run/${runNumber}`;
      state.lastRunNumber = Math.max(state.lastRunNumber ?? 0, runNumber);
      current = { runNumber, kind: pending.kind, workflowId, startedAt: new Date().toISOString(), progress: null };
      publish();
      const kindText =
        pending.kind === 'replay' && pending.replayOfRun ? `replay of run ${pending.replayOfRun}` : pending.kind;
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
              ...(description.searchAttributes ? { searchAttributes: true } : {}),
            },
          ],
          // A run never outlives its controller: a restarted controller must not start a second run beside
          // an orphaned one. A cancelled run loses nothing (only accepted records count as delivered).
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          ...(description.summary
            ? {
                staticSummary: `run ${runNumber} (${kindText}) of ${syncId}: ${description.summary}`,
                staticDetails: runDetails(syncId, runNumber, kindText, description.summary),
              }
            : {}),
          ...(description.searchAttributes
            ? {
                typedSearchAttributes: [
                  { key: EbbSyncId, value: syncId },
                  ...(description.destination ? [{ key: EbbDestination, value: description.destination }] : []),
                ],
              }
            : {}),
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
      if (state.lastRun.failed + state.lastRun.invalid > 0)
        state.runsWithFailures = [...(state.runsWithFailures ?? []), runNumber].slice(-MAX_RUNS_WITH_FAILURES);
      current = null;
      writeSearchAttributes();
      publish();
    }
  }
}
