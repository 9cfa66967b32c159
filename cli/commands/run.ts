/** `ebb run|resync|replay <sync>`: ask the sync's controller for a run, optionally wait with a progress bar. */
import { SingleBar, Presets } from 'cli-progress';
import { resolveSync } from '../../config/load-config';
import { describeOutcome, type RunKind } from '../../workflows/definitions';
import { connectClient, loadCliContext, openStore } from '../cli-context';
import { ExitError } from '../exit-error';
import { count, excerpt, printJson, say } from '../output';
import { requireRun } from '../run-lookup';
import { requestRun, requestRunBySignal, waitForRequest } from '../sync-control';
import { noWorkerNotice, queuePollers } from '../temporal-overview';
import { waitNotices } from '../wait-notices';

const KIND_NAMES: Record<RunKind, string> = {
  incremental: 'an incremental run',
  full: 'a full resync',
  replay: 'a replay of failed records',
};

export interface RunOptions {
  config?: string;
  sync: string;
  kind: RunKind;
  runNumber?: number;
  wait?: boolean;
  /** Mirror mode: this run may delete more than the sync's `maxDeletes`. */
  allowDeletes?: boolean;
  json?: boolean;
}

export async function runCommand(options: RunOptions): Promise<void> {
  const ctx = loadCliContext(options.config);
  resolveSync(ctx.config, options.sync);
  // A replay of a run that never was would otherwise come back as an empty "succeeded" run.
  if (options.runNumber !== undefined) {
    const store = await openStore(ctx);
    try {
      await requireRun(store, options.sync, options.runNumber);
    } finally {
      await store.close();
    }
  }
  const { client, close } = await connectClient(ctx);
  try {
    const input = {
      kind: options.kind,
      runNumber: options.runNumber,
      ...(options.allowDeletes ? { allowDeletes: true } : {}),
    };
    // A request is an update, which waits for a worker to answer: without one it would wait silently.
    const noWorker = noWorkerNotice(await queuePollers(client, ctx.names.taskQueue));
    if (noWorker && !options.wait) {
      await requestRunBySignal(client, options.sync, ctx.names, input);
      if (options.json) printJson({ sync: options.sync, kind: options.kind, requestSeq: null, queued: true });
      else
        say(
          `requested ${KIND_NAMES[options.kind]} of ${options.sync}; ${noWorker}: the run starts once one polls ` +
            `(Temporal keeps the request until then)`,
        );
      return;
    }
    if (noWorker) {
      process.stderr.write(
        `${noWorker}; waiting for one to poll before requesting the run (Ctrl-C stops waiting; nothing is requested yet)\n`,
      );
      await waitForPollers(client, ctx.names.taskQueue);
    }
    const request = await requestRun(client, options.sync, ctx.names, input);
    if (!options.wait) {
      if (options.json) printJson({ sync: options.sync, kind: options.kind, requestSeq: request.requestSeq });
      else
        say(
          `requested ${KIND_NAMES[options.kind]} of ${options.sync} (request ${request.requestSeq}); follow it with \`ebb status ${options.sync}\``,
        );
      return;
    }
    const bar =
      options.json || !process.stdout.isTTY
        ? null
        : new SingleBar({ format: ' {bar} {value}/{total} batches | {phase}' }, Presets.shades_classic);
    let started = false;
    const notice = waitNotices(client, options.sync, { phases: !bar });
    const status = await waitForRequest(
      client,
      options.sync,
      request.requestSeq,
      (progress, s) => {
        notice.progress(progress, s);
        if (!bar || !progress) return;
        if (!started) {
          bar.start(progress.batchesTotal, 0, { phase: progress.phase });
          started = true;
        }
        bar.setTotal(Math.max(progress.batchesTotal, 1));
        bar.update(progress.batchesDone, { phase: progress.phase });
      },
      { onTemporalUnavailable: (message) => notice.say(message ?? 'Temporal answers again; still waiting') },
      ctx.names,
    );
    if (started) bar?.stop();
    const last = status.lastRun;
    if (!last) throw new ExitError(1, 'the run ended without a summary');
    const store = await openStore(ctx);
    const failures =
      last.failed + last.invalid
        ? await store.listRecordResults(options.sync, { runNumber: last.runNumber, failedOnly: true, limit: 5 })
        : [];
    const accepted = await store.acceptedByOperation(options.sync, last.runNumber);
    await store.close();
    if (options.json) printJson({ run: last, sampleFailures: failures });
    else {
      say(
        `run ${last.runNumber} (${last.kind}) ${describeOutcome(last.status, last.failed + last.invalid)}: ` +
          `${count(last.added + last.changed + last.removed, 'record')} changed ` +
          `(${last.added} added, ${last.changed} changed, ${last.removed} removed, ${last.unchanged} unchanged), ` +
          `${accepted.upserted} upserted${accepted.deleted ? `, ${accepted.deleted} deleted` : ''}, ` +
          `${last.failed} failed, ${last.invalid} invalid, ${count(last.apiCalls, 'API request')}`,
      );
      for (const f of failures) say(`  failed ${excerpt(f.key, 80)}: ${f.errorCode} ${excerpt(f.errorMessage ?? '')}`);
      if (last.failed + last.invalid)
        say(`  all failures: ebb records ${options.sync} --run ${last.runNumber} --failed`);
      if (last.error) say(`  error: ${excerpt(last.error, 1000)}`);
    }
    // Exit codes (README): 0 every record delivered, 2 some records failed, 1 the run failed.
    if (last.status === 'failed') throw new ExitError(1);
    if (last.status === 'succeeded_with_failures') throw new ExitError(2);
  } finally {
    await close();
  }
}

/** Resolves once a worker polls the queue (checked every two seconds). */
async function waitForPollers(client: Parameters<typeof queuePollers>[0], taskQueue: string): Promise<void> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    if ((await queuePollers(client, taskQueue)).live > 0) return;
  }
}
