/** Talking to a sync's controller workflow from outside: start it if needed, request runs, wait for them. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  fullResyncSignal,
  progressQuery,
  replayFailedSignal,
  runNowSignal,
  STARTING_CONTROLLER_MEMO,
  requestRunUpdate,
  statusQuery,
  type RequestRunInput,
  type RequestRunResult,
  type RunProgress,
  type SyncStatus,
} from '../workflows/definitions';
import { TemporalNames } from '../workflows/temporal-names';

/** A deployment's names, or the task queue of a deployment without a name (tests and tools). */
export type SyncTarget = TemporalNames | string;

const namesOf = (target: SyncTarget): TemporalNames =>
  typeof target === 'string' ? new TemporalNames(null, target) : target;
const UNNAMED = new TemporalNames(null);

export async function ensureController(client: Client, syncId: string, target: SyncTarget) {
  const names = namesOf(target);
  const workflowId = names.controller(syncId);
  try {
    await client.workflow.start('syncController', {
      workflowId,
      taskQueue: names.taskQueue,
      args: [{ syncId }],
      memo: STARTING_CONTROLLER_MEMO,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return client.workflow.getHandle(workflowId);
}

export async function requestRun(
  client: Client,
  syncId: string,
  target: SyncTarget,
  input: RequestRunInput,
): Promise<RequestRunResult> {
  const handle = await ensureController(client, syncId, target);
  return handle.executeUpdate(requestRunUpdate, { args: [{ source: 'manual', ...input }] });
}

/**
 * The same request as a signal, which Temporal keeps until the controller's worker reads it: for
 * when no worker polls, where an update would wait for one. It has no answer, so no request number.
 */
export async function requestRunBySignal(
  client: Client,
  syncId: string,
  target: SyncTarget,
  input: RequestRunInput,
): Promise<void> {
  const handle = await ensureController(client, syncId, target);
  const allowDeletes = input.allowDeletes ? { allowDeletes: true } : {};
  if (input.kind === 'full') await handle.signal(fullResyncSignal, allowDeletes);
  else if (input.kind === 'replay')
    await handle.signal(replayFailedSignal, input.runNumber === undefined ? {} : { runNumber: input.runNumber });
  else await handle.signal(runNowSignal, { source: 'manual', ...allowDeletes });
}

/** The controller's status, or null when it was never started (or has been terminated). */
export async function controllerStatus(
  client: Client,
  syncId: string,
  names: TemporalNames = UNNAMED,
): Promise<SyncStatus | null> {
  try {
    const handle = client.workflow.getHandle(names.controller(syncId));
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

type PendingActivities = Awaited<
  ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>
>['raw']['pendingActivities'];

/**
 * Why the run is waiting, when a delivery of it paused for the destination's daily API budget: the
 * pause's message ("waiting for API budget (used/limit), next check at <time>. ..."), read from
 * the last failure of its pending delivery. The pause is a retrying activity, so the run workflow's
 * description is where Temporal keeps it; null when nothing waits.
 */
function waitingOf(pending: PendingActivities): string | null {
  const paused = pending?.find((a) => a.lastFailure?.applicationFailureInfo?.type === 'ApiBudgetExhausted');
  return paused?.lastFailure?.message ?? null;
}

/** An activity of a run that failed and waits for Temporal to try it again. */
export interface PendingRetry {
  activity: string;
  /** The attempt Temporal makes next (2 after the first failure). */
  attempt: number;
  /** The last failure's message: why it is retrying. */
  reason: string;
  /** The last failure's type (the thrown error's class, e.g. `DestinationUnreachable`). */
  errorType: string | null;
  nextAttemptAt: string | null;
}

/** The retrying activity among a workflow's pending ones (the most attempted), or null. */
function retryOf(pending: PendingActivities): PendingRetry | null {
  const failing = (pending ?? []).filter((a) => a.lastFailure).sort((a, b) => (b.attempt ?? 0) - (a.attempt ?? 0))[0];
  if (!failing?.lastFailure) return null;
  const next = failing.nextAttemptScheduleTime?.seconds;
  return {
    activity: failing.activityType?.name ?? 'activity',
    attempt: failing.attempt ?? 1,
    reason: failing.lastFailure.message ?? '',
    errorType: failing.lastFailure.applicationFailureInfo?.type ?? null,
    nextAttemptAt: next ? new Date(Number(next) * 1000).toISOString() : null,
  };
}

async function pendingActivities(client: Client, workflowId: string): Promise<PendingActivities | null> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).raw.pendingActivities;
  } catch {
    // The run may have just finished.
    return null;
  }
}

/**
 * The retrying activity of a workflow (the run's plan or a delivery, or the controller's own), from
 * the last failure Temporal keeps on its pending activity; null when nothing is retrying.
 */
export async function pendingRetry(client: Client, workflowId: string): Promise<PendingRetry | null> {
  return retryOf(await pendingActivities(client, workflowId));
}

/** Why a run waits (API budget) and what it retries, from one describe of it. */
export async function runAttention(
  client: Client,
  workflowId: string,
): Promise<{ waiting: string | null; retry: PendingRetry | null }> {
  const pending = await pendingActivities(client, workflowId);
  return { waiting: waitingOf(pending), retry: retryOf(pending) };
}

/** "retrying deliver (attempt 3): connect ECONNREFUSED 127.0.0.1:9; next try at 10:04:05". */
export function describeRetry(retry: PendingRetry): string {
  const at = retry.nextAttemptAt ? `; next try at ${retry.nextAttemptAt.slice(11, 19)} UTC` : '';
  return `retrying ${retry.activity} (attempt ${retry.attempt}): ${retry.reason.split('\n')[0]}${at}`;
}

const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** Temporal did not answer (server down or restarting, network gone): worth waiting for. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === UNAVAILABLE || code === DEADLINE_EXCEEDED) return true;
  }
  return false;
}

/** What a person waiting for a run is told while it is not simply making progress. */
export interface WaitNotices {
  /** Temporal stopped answering (`message` says since when and that the run goes on); `null` when it is back. */
  onTemporalUnavailable?: (message: string | null) => void;
  /** How long to keep retrying an unanswering Temporal before giving up (default 10 minutes). */
  unavailableForMs?: number;
}

/** Gave up waiting for a run because Temporal stopped answering; the run itself may well go on. */
export class TemporalLostError extends Error {
  constructor(syncId: string, minutes: number, cause: unknown) {
    super(
      `Temporal has not answered for ${minutes} minutes, so ebb stopped waiting; the run of ${syncId} goes on ` +
        `in the server and the workers: follow it with \`ebb status ${syncId}\` once Temporal is back`,
      { cause },
    );
    this.name = 'TemporalLostError';
  }
}

/**
 * Polls until the controller has served request `requestSeq`; reports progress of the current run.
 * A Temporal outage does not end the wait: the run goes on in the server and workers, so the poll
 * retries (saying so through `notices`) until Temporal answers again.
 */
export async function waitForRequest(
  client: Client,
  syncId: string,
  requestSeq: number,
  onProgress: (p: RunProgress | null, status: SyncStatus) => void,
  notices: WaitNotices = {},
  names: TemporalNames = UNNAMED,
): Promise<SyncStatus> {
  let lostSince: number | null = null;
  const giveUpAfter = notices.unavailableForMs ?? 10 * 60_000;
  for (;;) {
    let status: SyncStatus | null;
    let progress: RunProgress | null = null;
    try {
      status = await controllerStatus(client, syncId, names);
      if (status?.currentRun) progress = await runProgress(client, status.currentRun.workflowId);
    } catch (err) {
      if (!isTemporalUnavailable(err)) throw err;
      if (lostSince === null) {
        lostSince = Date.now();
        notices.onTemporalUnavailable?.(
          `Temporal stopped answering (${(err as Error).message.split('\n')[0]}); the run goes on in the server and ` +
            'the workers, and ebb keeps waiting for it, retrying the connection',
        );
      } else if (Date.now() - lostSince > giveUpAfter)
        throw new TemporalLostError(syncId, Math.round(giveUpAfter / 60_000), err);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (lostSince !== null) {
      lostSince = null;
      notices.onTemporalUnavailable?.(null);
    }
    if (!status)
      throw new Error(
        `the controller of sync '${syncId}' is not running (terminated?); start it with \`ebb run ${syncId}\``,
      );
    if (status.completedThroughSeq >= requestSeq) return status;
    onProgress(progress, status);
    await new Promise((r) => setTimeout(r, 500));
  }
}
