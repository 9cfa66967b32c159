/** Read commands: `ebb status`, `ebb runs`, `ebb records`. Human tables by default, `--json` for machines. */
import { resolveSync } from '../../config/load-config';
import { storedRunStatus } from '../../state/run-outcome';
import { connectClient, loadCliContext, openStore } from '../cli-context';
import { printJson, printTable, say } from '../output';
import type { StateStore } from '../../state/state-store';
import { controllerStatus, runProgress, runWaiting } from '../sync-control';

export async function statusCommand(options: { config?: string; sync?: string; json?: boolean }): Promise<void> {
  const ctx = loadCliContext(options.config);
  const syncIds = options.sync ? [options.sync] : Object.keys(ctx.config.syncs);
  if (options.sync) resolveSync(ctx.config, options.sync);
  const { client, close } = await connectClient(ctx);
  const store = await openStore(ctx);
  try {
    const out = [];
    for (const syncId of syncIds) {
      const status = await controllerStatus(client, syncId);
      const progress = status?.currentRun
        ? ((await runProgress(client, status.currentRun.workflowId)) ?? status.currentRun.progress)
        : null;
      const waiting = status?.currentRun ? await runWaiting(client, status.currentRun.workflowId) : null;
      const lastRun = await store.latestRun(syncId);
      out.push({
        syncId,
        controller: status ? 'running' : 'not started',
        status,
        progress,
        waiting,
        lastStoredRun: lastRun ?? null,
        cursor: await store.getCursor(syncId),
      });
    }
    if (options.json) return printJson(out);
    printTable(
      out.map((o) => ({
        sync: o.syncId,
        state: !o.status
          ? 'not started'
          : o.status.paused
            ? 'paused'
            : o.status.currentRun
              ? `running #${o.status.currentRun.runNumber}`
              : 'idle',
        progress: o.progress ? `${o.progress.batchesDone}/${o.progress.batchesTotal} batches` : '',
        // The pause message's first sentence: what it waits for and when it looks again.
        waiting: o.waiting?.split('. ')[0] ?? '',
        'last run': o.lastStoredRun ? `#${o.lastStoredRun.run_number} ${storedRunStatus(o.lastStoredRun)}` : '-',
        failed: o.lastStoredRun?.failed ?? '',
        overdue: o.status?.overdue ? 'OVERDUE' : '',
        cursor: o.cursor ?? '',
      })),
      ['sync', 'state', 'progress', 'waiting', 'last run', 'failed', 'overdue', 'cursor'],
    );
  } finally {
    await store.close();
    await close();
  }
}

/** Runs `fn` with the state store of a sync named on the command line (checked against the config first). */
async function withSyncStore(
  options: { config?: string; sync: string },
  fn: (store: StateStore) => Promise<void>,
): Promise<void> {
  const ctx = loadCliContext(options.config);
  resolveSync(ctx.config, options.sync);
  const store = await openStore(ctx);
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

export async function runsCommand(options: {
  config?: string;
  sync: string;
  json?: boolean;
  limit?: number;
}): Promise<void> {
  await withSyncStore(options, async (store) => {
    // Status is the run's honest outcome (state/run-outcome.ts); failed counts refused records, invalid apart.
    const runs = (await store.listRuns(options.sync, options.limit ?? 20)).map((r) => ({
      ...r,
      status: storedRunStatus(r),
      failed: Math.max(0, r.failed - r.invalid),
    }));
    if (options.json) return printJson(runs);
    if (!runs.length) return say(`no runs of ${options.sync} yet: start one with \`ebb run ${options.sync}\``);
    printTable(
      runs.map((r) => ({
        run: r.run_number,
        kind: r.kind,
        status: r.status,
        started: r.started_at,
        duration: r.finished_at ? `${((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000).toFixed(1)}s` : '',
        added: r.added,
        changed: r.changed,
        removed: r.removed,
        unchanged: r.unchanged,
        succeeded: r.succeeded,
        failed: r.failed,
        invalid: r.invalid,
        'api calls': r.api_calls,
        error: [r.error_message, r.error_detail].filter(Boolean).join(' — '),
      })),
      [
        'run',
        'kind',
        'status',
        'started',
        'duration',
        'added',
        'changed',
        'removed',
        'unchanged',
        'succeeded',
        'failed',
        'invalid',
        'api calls',
        'error',
      ],
    );
  });
}

export async function recordsCommand(options: {
  config?: string;
  sync: string;
  run?: number;
  failed?: boolean;
  json?: boolean;
  limit?: number;
}): Promise<void> {
  await withSyncStore(options, async (store) => {
    let runNumber = options.run;
    if (runNumber === undefined) runNumber = (await store.latestRun(options.sync))?.run_number;
    const records =
      runNumber === undefined
        ? []
        : await store.listRecordResults(options.sync, {
            runNumber,
            failedOnly: options.failed,
            limit: options.limit ?? 1000,
          });
    if (options.json) return printJson(records);
    if (!records.length)
      return say(
        runNumber === undefined
          ? `no runs of ${options.sync} yet`
          : `no ${options.failed ? 'failed ' : ''}records in run ${runNumber} of ${options.sync}`,
      );
    printTable(
      records.map((r) => ({
        run: r.runNumber,
        key: r.key,
        op: r.operation,
        status: r.status,
        'destination id': r.destinationId,
        error: r.errorCode ? `${r.errorCode}: ${r.errorMessage}` : '',
        attempt: r.attempt,
        at: r.at,
      })),
      ['run', 'key', 'op', 'status', 'destination id', 'error', 'attempt', 'at'],
    );
  });
}
