/**
 * Everything that crosses the workflow boundary: inputs, results, signals, queries and updates,
 * shared by the workflows, the worker and the CLI. They carry ids, counts and ranges only:
 * never rows, secrets or PII (DESIGN.md invariant 3).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { TemporalNames } from './temporal-names';

export type RunKind = 'incremental' | 'full' | 'replay';

/** See state/run-outcome.ts. */
export type RunOutcome = 'succeeded' | 'succeeded_with_failures' | 'failed';

/** 'succeeded with 3 failed records' and the like, for people. */
export function describeOutcome(outcome: RunOutcome, failedRecords: number): string {
  if (outcome !== 'succeeded_with_failures') return outcome;
  return `succeeded with ${failedRecords} failed ${failedRecords === 1 ? 'record' : 'records'}`;
}

/**
 * The ids of a deployment without a name (temporal-names.ts): what tests and tools use for a config
 * with no `deployment`. Engine code takes a `TemporalNames` made from its config instead.
 */
const UNNAMED = new TemporalNames(null);
export const controllerWorkflowId = (syncId: string): string => UNNAMED.controller(syncId);
export const runWorkflowId = (syncId: string, runNumber: number): string => UNNAMED.run(syncId, runNumber);
export const scheduleId = (syncId: string): string => UNNAMED.schedule(syncId);

export interface ControllerInput {
  syncId: string;
  /** State handed over by continue-as-new; absent on first start. */
  carried?: ControllerState;
}

/** What a sync moves where, for the Temporal UI's summaries (config names only, never values). */
export interface SyncDescription {
  scheduleIntervalMs: number | null;
  /** 'account_health -> salesforce Account, upsert by External_Id__c'; absent in old histories. */
  summary?: string;
  /** The destination connection's name (search attribute EbbDestination). */
  destination?: string;
  /** The server has ebb's search attributes (workflows/search-attributes.ts): workflows may write them. */
  searchAttributes?: boolean;
  /** The sync has a Temporal Schedule whose pause is the sync's pause (workers/schedules.ts). */
  hasSchedule?: boolean;
}

/**
 * Failed records of a run with one error code, and how many. Neither keys nor messages: keys are
 * the model's values and messages may quote rows; `ebb records <sync> --run <n> --failed` has both.
 */
export interface FailureReason {
  code: string;
  count: number;
}

/** A request the controller refused, kept (the last few) in its details so the person who sent it sees why. */
export interface RejectedRequest {
  name: string;
  reason: string;
  at: string;
}

export interface PendingRun {
  kind: RunKind;
  replayOfRun: number | null;
  /** Every request with a sequence number up to this one is served by the pending run. */
  throughSeq: number;
  /** A person confirmed this run's deletes beyond the sync's `maxDeletes` (see RequestRunInput). */
  allowDeletes?: boolean;
}

export interface RunSummary {
  runNumber: number;
  kind: RunKind;
  /**
   * The run's honest outcome (state/run-outcome.ts): succeeded, succeeded_with_failures (some
   * records failed or were invalid), or failed (it stopped, or every record failed). Histories
   * written before outcomes existed say 'succeeded' for runs with failed records.
   */
  status: RunOutcome;
  /** added + changed + removed = succeeded + failed + invalid */
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Rows that could not be sent at all (null or duplicate key, a value the mapping cannot write). */
  invalid: number;
  /** Records the destination accepted. */
  succeeded: number;
  /** Records the destination refused (invalid rows not included). */
  failed: number;
  apiCalls: number;
  startedAt: string;
  finishedAt: string;
  /** Why the run failed (a fix-it message about config or credentials; never a row value). */
  error: string | null;
  /** The cursor after this run (cursor mode: the upper end of the rows read). */
  cursor: string | null;
  /** The run's failed records by error code (absent before runs reported them). */
  failureReasons?: FailureReason[];
}

export interface ControllerState {
  paused: boolean;
  pending: PendingRun | null;
  requestSeq: number;
  completedThroughSeq: number;
  lastRun: RunSummary | null;
  lastSuccessAt: string | null;
  /** Scheduled triggers dropped because the sync was paused. */
  skippedWhilePaused: number;
  startedAt: string | null;
  cursor?: string | null;
  /** Who paused the sync: a person through ebb or a signal, or its Schedule paused in the Temporal UI. */
  pausedBy?: 'signal' | 'schedule';
  /** The last requests refused, newest last (bounded: see MAX_REJECTED). */
  rejected?: RejectedRequest[];
  /** The highest run number this controller started (unknown for controllers older than this field). */
  lastRunNumber?: number;
  /** Recent runs that left failed or invalid records, newest last: what a replay can re-send. */
  runsWithFailures?: number[];
  /** Set once the sync's overdue alert went out: the success (or start) it was overdue since; cleared on recovery. */
  staleAlert?: { since: string };
}

/** What a controller keeps in its memo (key `ebb`), for `ebb status` to read from one list call. */
export interface ControllerMemo {
  paused: boolean;
  pausedBy?: 'signal' | 'schedule';
}

/** A controller's memo when it starts: unpaused (it writes its own from its first workflow task on). */
export const STARTING_CONTROLLER_MEMO: { ebb: ControllerMemo } = { ebb: { paused: false } };

export interface CurrentRun {
  runNumber: number;
  kind: RunKind;
  workflowId: string;
  startedAt: string;
  /** As last reported by the run (at most every 5% of its batches). */
  progress: RunProgress | null;
}

export interface SyncStatus {
  syncId: string;
  paused: boolean;
  currentRun: CurrentRun | null;
  pending: PendingRun | null;
  lastRun: RunSummary | null;
  lastSuccessAt: string | null;
  /** The sync's cursor as of its last successful run (cursor mode). */
  cursor: string | null;
  scheduleIntervalMs: number | null;
  /** No successful run within twice the schedule interval: the schedule may have silently stopped. */
  overdue: boolean;
  requestSeq: number;
  completedThroughSeq: number;
  skippedWhilePaused: number;
  pausedBy?: 'signal' | 'schedule';
  rejected?: RejectedRequest[];
}

export interface RunInput {
  syncId: string;
  runNumber: number;
  kind: RunKind;
  replayOfRun: number | null;
  /** Mirror mode: this run may delete more than the sync's `maxDeletes` (a person confirmed it). */
  allowDeletes?: boolean;
  /** Set when a long run continues as new: its plan is done and batches before `nextBatch` delivered. */
  resume?: { plan: PlannedRun; nextBatch: number; progress: RunProgress };
  /** The server has ebb's search attributes, so the run may write its outcome to them. */
  searchAttributes?: boolean;
}

/** What a plan tells its run: counts, the number of staged batches and where to deliver them. */
export interface PlannedRun {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  invalid: number;
  batches: number;
  /** Rows read out of the warehouse (with the warehouse-side diff, only new and changed ones). */
  rowsRead?: number;
  deliveryTaskQueue: string;
  /** Batches in flight at once. */
  window: number;
  /** Records staged per batch (every batch full but the last), for the batches' summaries in the UI. */
  recordsPerBatch?: number;
  /**
   * How the batches go out: one delivery activity per batch through the destination's requests
   * (collections; also when absent, in plans recorded before), or one activity sending them all
   * through the destination's bulk jobs (Salesforce Bulk API 2.0).
   */
  delivery?: 'collections' | 'bulk';
}

export interface RunProgress {
  runNumber: number;
  phase: 'planning' | 'delivering' | 'finishing' | 'done';
  batchesTotal: number;
  batchesDone: number;
  recordsTotal: number;
  succeeded: number;
  failed: number;
}

export interface RequestRunInput {
  kind?: RunKind;
  /** For replays: the run whose failed records to re-send (default: the latest run with failures). */
  runNumber?: number;
  source?: 'manual' | 'schedule';
  /**
   * Mirror mode: confirms that the next run may delete more records than the sync's `maxDeletes`
   * (`ebb run <sync> --allow-deletes`). It applies to that one run only.
   */
  allowDeletes?: boolean;
  /**
   * Set by the scheduled trigger: whether the sync's Schedule was unpaused when it fired. A Schedule
   * unpaused in the Temporal UI resumes a sync its pause had paused (one pause, two places to press it).
   */
  scheduleActive?: boolean;
}

export interface RequestRunResult {
  requestSeq: number;
  /** False when the request was dropped (a scheduled trigger while paused). */
  accepted: boolean;
}

export interface PauseResult {
  paused: boolean;
}

// Signals are fire-and-forget: one that fails validation is recorded in the controller's details.
// Each has an update of the same name whose validator answers the sender before anything changes.
export const runNowSignal = defineSignal<[RequestRunInput?]>('runNow');
export const fullResyncSignal = defineSignal<[{ allowDeletes?: boolean }?]>('fullResync');
export const replayFailedSignal = defineSignal<[{ runNumber?: number }?]>('replayFailed');
export const pauseSignal = defineSignal<[Record<string, never>?]>('pause');
export const resumeSignal = defineSignal<[Record<string, never>?]>('resume');
// Update arguments are typed as given; the UI may send none, which the validators accept.
export const runNowUpdate = defineUpdate<RequestRunResult, [RequestRunInput | undefined]>('runNow');
export const fullResyncUpdate = defineUpdate<RequestRunResult, [{ allowDeletes?: boolean } | undefined]>('fullResync');
export const replayFailedUpdate = defineUpdate<RequestRunResult, [{ runNumber?: number } | undefined]>('replayFailed');
export const pauseUpdate = defineUpdate<PauseResult, [Record<string, never> | undefined]>('pause');
export const resumeUpdate = defineUpdate<PauseResult, [Record<string, never> | undefined]>('resume');
export const statusQuery = defineQuery<SyncStatus>('status');
export const requestRunUpdate = defineUpdate<RequestRunResult, [RequestRunInput]>('requestRun');
export const progressQuery = defineQuery<RunProgress>('progress');
/**
 * From a run to its controller, so the controller's `status` shows the current run's progress.
 * The controller receives it in its default signal handler: named handlers are what the Temporal
 * UI offers a person (the `__temporal_workflow_metadata` query lists them), and this one is not theirs.
 */
export const runProgressSignal = defineSignal<[RunProgress]>('runProgress');
