/**
 * `ebb status [sync]`: every sync's state from the state store (runs, progress, cursor, overdue)
 * plus what Temporal lists in one call (running controllers and their memo, running runs) and
 * whether a worker polls the engine's queue. It answers in the same few calls for 500 syncs as for
 * one, and answers while no worker runs, saying so: it queries no workflow, except a controller
 * too old to have a memo while a worker is there to answer. Why a run waits or retries comes from a
 * describe of the run, made only for running runs the workers noted a failed attempt of
 * (state/failed-attempts.ts): one describe each, not one per run in flight.
 */
import pLimit from 'p-limit';
import { resolveSync } from '../../config/load-config';
import { scheduleIntervalMs } from '../../config/schedule';
import { storedRunStatus } from '../../state/run-outcome';
import type { Run } from '../../state/state-store';
import { workflowsWithFailedAttempts } from '../../state/failed-attempts';
import { storedBatchProgress, storedSyncOverview } from '../../state/sync-overview';
import type { CurrentRun, RunKind, RunProgress } from '../../workflows/definitions';
import { connectClient, loadCliContext, openStore } from '../cli-context';
import { camelCaseKeys, printJson, printTable, say } from '../output';
import { controllerStatus, describeRetry, runAttention, type PendingRetry } from '../sync-control';
import { noWorkerNotice, temporalOverview } from '../temporal-overview';

/** Runs described at once for their waits and retries (only running runs are described). */
const DESCRIBE_CONCURRENCY = 8;

export interface SyncStatusView {
  syncId: string;
  controller: 'running' | 'not started';
  status: {
    syncId: string;
    /** Null when the controller is too old to say in its memo and no worker could be asked. */
    paused: boolean | null;
    pausedBy?: 'signal' | 'schedule';
    currentRun: CurrentRun | null;
    /** The latest finished run, as `ebb runs` shows it. */
    lastRun: Record<string, unknown> | null;
    lastSuccessAt: string | null;
    cursor: string | null;
    scheduleIntervalMs: number | null;
    /** No successful run within twice the schedule interval: the schedule may have silently stopped. */
    overdue: boolean;
  } | null;
  progress: RunProgress | null;
  waiting: string | null;
  retry: PendingRetry | null;
  lastStoredRun: Record<string, unknown> | null;
  cursor: string | null;
  /** Workers polling the engine's queue (the same for every sync of the deployment). */
  workersPolling: number;
}

export async function statusCommand(options: { config?: string; sync?: string; json?: boolean }): Promise<void> {
  const ctx = loadCliContext(options.config);
  const syncIds = options.sync ? [options.sync] : Object.keys(ctx.config.syncs);
  if (options.sync) resolveSync(ctx.config, options.sync);
  const { client, close } = await connectClient(ctx);
  // The list call goes first: the server works on it while the store's modules load and it opens.
  const overview = temporalOverview(client, ctx.names, options.sync);
  overview.catch(() => undefined); // awaited below; a store that fails to open must not leave it unhandled
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(ctx);
  } catch (err) {
    await close();
    throw err;
  }
  try {
    const [temporal, stored] = await Promise.all([overview, storedSyncOverview(store, syncIds)]);
    const workerLive = temporal.pollers.live > 0;
    const worthDescribing = await workflowsWithFailedAttempts(
      store,
      [...temporal.runs.values()].map((run) => run.workflowId),
    );
    const describe = pLimit(DESCRIBE_CONCURRENCY);
    const out: SyncStatusView[] = await Promise.all(
      syncIds.map(async (syncId): Promise<SyncStatusView> => {
        const fromStore = stored.get(syncId);
        const latest = fromStore?.latest ?? null;
        const running = temporal.runs.get(syncId) ?? null;
        const controllerRunning = temporal.controllers.has(syncId);
        let memo = temporal.controllers.get(syncId) ?? null;
        // A controller from before memos: ask it, when a worker is there to answer.
        if (controllerRunning && !memo && workerLive) {
          const answer = await describe(() => controllerStatus(client, syncId, ctx.names)).catch(() => null);
          if (answer) memo = { paused: answer.paused, ...(answer.pausedBy ? { pausedBy: answer.pausedBy } : {}) };
        }
        const runRow = running && latest?.run_number === running.runNumber ? latest : null;
        const progress = running ? await runProgressFromStore(store, syncId, running.runNumber, runRow) : null;
        const { waiting, retry } =
          running && worthDescribing.has(running.workflowId)
            ? await describe(() => runAttention(client, running.workflowId))
            : { waiting: null, retry: null };
        const lastFinished = latest && latest.finished_at ? latest : running ? null : latest;
        const lastRun = lastFinished ?? (running ? await previousRun(store, syncId, running.runNumber) : null);
        const schedule = ctx.config.syncs[syncId]?.schedule;
        const intervalMs = schedule ? scheduleIntervalMs(schedule) : null;
        const since = fromStore?.lastSuccessAt ?? latest?.started_at ?? null;
        const paused = memo ? memo.paused : null;
        return {
          syncId,
          controller: controllerRunning ? 'running' : 'not started',
          status: controllerRunning
            ? {
                syncId,
                paused,
                ...(memo?.pausedBy ? { pausedBy: memo.pausedBy } : {}),
                currentRun: running
                  ? {
                      runNumber: running.runNumber,
                      kind: (runRow?.kind ?? 'incremental') as RunKind,
                      workflowId: running.workflowId,
                      startedAt: runRow?.started_at ?? running.startedAt ?? '',
                      progress,
                    }
                  : null,
                lastRun: lastRun ? { ...camelCaseKeys(lastRun), status: storedRunStatus(lastRun) } : null,
                lastSuccessAt: fromStore?.lastSuccessAt ?? null,
                cursor: fromStore?.cursor ?? null,
                scheduleIntervalMs: intervalMs,
                overdue:
                  intervalMs !== null &&
                  paused !== true &&
                  since !== null &&
                  Date.now() - Date.parse(since) > 2 * intervalMs,
              }
            : null,
          progress,
          waiting,
          retry,
          lastStoredRun: latest ? camelCaseKeys(latest) : null,
          cursor: fromStore?.cursor ?? null,
          workersPolling: temporal.pollers.live,
        };
      }),
    );
    const notice = noWorkerNotice(temporal.pollers);
    if (options.json) {
      if (notice) process.stderr.write(`${notice}\n`);
      return printJson(out);
    }
    printTable(
      out.map((o) => ({
        sync: o.syncId,
        state: !o.status
          ? 'not started'
          : o.status.currentRun
            ? `running #${o.status.currentRun.runNumber}`
            : o.status.paused === null
              ? 'unknown'
              : o.status.paused
                ? 'paused'
                : 'idle',
        progress: o.progress ? `${o.progress.batchesDone}/${o.progress.batchesTotal} batches` : '',
        // The pause message's first sentence: what it waits for and when it looks again.
        waiting: o.waiting?.split('. ')[0] ?? (o.retry ? describeRetry(o.retry) : ''),
        'last run': o.lastStoredRun
          ? `#${String(o.lastStoredRun.runNumber)} ${storedRunStatus(o.lastStoredRun as unknown as Run)}`
          : '-',
        failed: o.lastStoredRun?.failed ?? '',
        overdue: o.status?.overdue ? 'OVERDUE' : '',
        cursor: o.cursor ?? '',
      })),
      ['sync', 'state', 'progress', 'waiting', 'last run', 'failed', 'overdue', 'cursor'],
    );
    if (out.some((o) => o.status?.paused === null))
      say(
        'unknown: a controller started before ebb kept its state in the memo, and no worker to ask; it says once a worker runs',
      );
    if (notice) say(notice);
  } finally {
    await store.close();
    await close();
  }
}

/** A running run's progress from what its plan and deliveries recorded. */
async function runProgressFromStore(
  store: Parameters<typeof storedBatchProgress>[0],
  syncId: string,
  runNumber: number,
  run: Run | null,
): Promise<RunProgress> {
  const batches = await storedBatchProgress(store, syncId, runNumber);
  const phase: RunProgress['phase'] =
    !run || run.status === 'planning'
      ? 'planning'
      : run.finished_at
        ? 'finishing'
        : batches.batchesDone < batches.batchesTotal
          ? 'delivering'
          : 'finishing';
  return {
    runNumber,
    phase,
    batchesTotal: batches.batchesTotal,
    batchesDone: batches.batchesDone,
    recordsTotal: run ? run.added + run.changed + run.removed : 0,
    succeeded: batches.succeeded,
    failed: batches.failed + (run?.invalid ?? 0),
  };
}

/** The run before a running one: the last one that finished. */
async function previousRun(
  store: Parameters<typeof storedBatchProgress>[0],
  syncId: string,
  runNumber: number,
): Promise<Run | null> {
  const runs = await store.listRuns(syncId, 2);
  return runs.find((r) => r.run_number < runNumber) ?? null;
}
