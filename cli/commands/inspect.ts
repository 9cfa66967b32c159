/** Read commands: `ebb runs`, `ebb records` (`ebb status` is in status.ts). Human tables by default, `--json` for machines. */
import { resolveSync } from '../../config/load-config';
import { prunedResultsNote } from '../../state/retention';
import { storedRunStatus } from '../../state/run-outcome';
import { loadCliContext, openStore, type CliContext } from '../cli-context';
import { camelCaseKeys, printJson, printTable, say } from '../output';
import { runToShow } from '../run-lookup';
import type { StateStore } from '../../state/state-store';

/** `ebb records` and `ebb runs` without --limit; a cut list says so. */
export const DEFAULT_RECORDS_LIMIT = 1000;
export const DEFAULT_RUNS_LIMIT = 20;

/** Runs `fn` with the state store of a sync named on the command line (checked against the config first). */
async function withSyncStore(
  options: { config?: string; sync: string },
  fn: (store: StateStore, ctx: CliContext) => Promise<void>,
): Promise<void> {
  const ctx = loadCliContext(options.config);
  resolveSync(ctx.config, options.sync);
  const store = await openStore(ctx);
  try {
    await fn(store, ctx);
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
    const limit = options.limit ?? DEFAULT_RUNS_LIMIT;
    // One more than shown, to tell a cut list from a complete one.
    const fetched = await store.listRuns(options.sync, limit + 1);
    const runs = fetched.slice(0, limit).map((r) => ({
      ...r,
      status: storedRunStatus(r),
      failed: Math.max(0, r.failed - r.invalid),
    }));
    const cut = fetched.length > limit ? `showing the latest ${limit} runs: more with --limit <n>` : null;
    if (options.json) {
      if (cut) process.stderr.write(`${cut}\n`);
      return printJson(runs.map(camelCaseKeys));
    }
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
    if (cut) say(cut);
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
  await withSyncStore(options, async (store, ctx) => {
    const { runNumber, note: whichRun } = await runToShow(store, options.sync, options.run);
    const limit = options.limit ?? DEFAULT_RECORDS_LIMIT;
    // One more than shown, to tell a cut list from a complete one.
    const fetched =
      runNumber === undefined
        ? []
        : await store.listRecordResults(options.sync, { runNumber, failedOnly: options.failed, limit: limit + 1 });
    const records = fetched.slice(0, limit);
    const cut =
      fetched.length > limit
        ? `showing the first ${limit} ${options.failed ? 'failed ' : ''}records of run ${runNumber}: more with --limit <n>`
        : null;
    // Notes go to stderr with --json, so the JSON on stdout stays whole.
    if (options.json) for (const note of [whichRun, cut]) if (note) process.stderr.write(`${note}\n`);
    if (!options.json && whichRun && records.length) say(whichRun);
    // Records a prune removed are not "no records": say which retention setting took them.
    const pruned =
      runNumber === undefined
        ? null
        : await prunedResultsNote(store, options.sync, runNumber, ctx.config.state.retention);
    if (options.json) {
      if (pruned) process.stderr.write(`${pruned}\n`);
      return printJson(records);
    }
    if (pruned && !records.length) return say(pruned);
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
    if (cut) say(cut);
    if (pruned) say(pruned);
  });
}
