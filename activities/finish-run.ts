/**
 * finish: closes a run. Counts come from the stored per-record results; in cursor mode the cursor
 * moves forward only when every record of the run was accepted, so a failed record is read again.
 */
import type { Run } from '../state/state-store';
import type { RunKind, RunSummary } from '../workflows/definitions';
import { resolveSync } from '../config/load-config';
import { runOutcome } from '../state/run-outcome';
import { pruneAfterRun } from '../state/retention';
import { openSource } from '../connectors/sources/registry';
import { WarehouseDiff } from '../connectors/sources/warehouse-diff';
import type { EngineContext } from './engine-context';

export interface FinishInput {
  syncId: string;
  runNumber: number;
  status: 'succeeded' | 'failed';
  error: string | null;
}

export async function finishRun(
  ctx: EngineContext,
  input: FinishInput,
  options: { onProgress?: () => void } = {},
): Promise<RunSummary> {
  const { store } = ctx;
  const { syncId, runNumber } = input;
  // Before the run's staged records go: they hold the warehouse row hashes of accepted records.
  await saveWarehouseSnapshots(ctx, syncId, runNumber, options.onProgress);
  if (input.status === 'succeeded') {
    const { maxCursor, anyFailed } = await store.runCursorOutcome(syncId, runNumber);
    if (maxCursor !== null && !anyFailed) await store.setCursor(syncId, maxCursor);
  }
  const run = await store.finishRun(syncId, runNumber, input.status, input.error);
  // In the background: pruning a full run's million results and giving their space back takes
  // seconds the run's outcome does not depend on. Idempotent, so a lost task is redone next time.
  const retention = ctx.config.state.retention;
  store.queueUpkeep(
    () => pruneAfterRun(store, syncId, retention),
    (err) =>
      process.stderr.write(
        `ebb: state store upkeep after run ${runNumber} of ${syncId} failed, the next run retries it: ${String(err)}\n`,
      ),
  );
  // Codes and counts only: messages may quote row values and keys are the model's, so both stay in
  // `ebb records` (DESIGN.md invariant 3).
  const failureReasons = run.failed > 0 ? await store.failureReasons(syncId, runNumber, 0) : [];
  return {
    ...toRunSummary(run),
    cursor: await store.getCursor(syncId),
    ...(failureReasons.length
      ? { failureReasons: failureReasons.slice(0, FAILURE_CODES).map(({ code, count }) => ({ code, count })) }
      : {}),
  };
}

/**
 * Warehouse-side diff: accepted records' row hashes go to the warehouse's snapshot table, and keys
 * deleted at the destination leave it. Failed records keep their old hash, so the next run reads
 * them again. Saving is idempotent, so a retried finish is harmless.
 */
async function saveWarehouseSnapshots(
  ctx: EngineContext,
  syncId: string,
  runNumber: number,
  onProgress: (() => void) | undefined,
): Promise<void> {
  // Only runs planned with the warehouse diff stage row hashes; others never look at the config here.
  let page = await ctx.store.acceptedRowHashes(syncId, runNumber, null, PAGE);
  if (!page.length) return;
  const { model, source: sourceConfig } = resolveSync(ctx.config, syncId);
  const source = openSource(sourceConfig, { name: model.source, baseDir: ctx.baseDir });
  try {
    if (!source.snapshots) return;
    const diff = new WarehouseDiff(source, syncId);
    await diff.prepare();
    while (page.length) {
      await diff.save(page.filter((r) => r.operation === 'upsert'));
      await diff.remove(page.filter((r) => r.operation === 'delete').map((r) => r.key));
      onProgress?.();
      page = await ctx.store.acceptedRowHashes(syncId, runNumber, page[page.length - 1]?.position ?? null, PAGE);
    }
  } finally {
    await source.close();
  }
}

const PAGE = 1000;
/** Enough to recognise a pattern in the UI while keeping the run's result small. */
const FAILURE_CODES = 10;

export function toRunSummary(run: Run): Omit<RunSummary, 'cursor'> {
  return {
    runNumber: run.run_number,
    kind: run.kind as RunKind,
    status: runOutcome({
      status: run.status,
      succeeded: run.succeeded,
      failedResults: run.failed,
      invalid: run.invalid,
    }),
    added: run.added,
    changed: run.changed,
    removed: run.removed,
    unchanged: run.unchanged,
    invalid: run.invalid,
    succeeded: run.succeeded,
    // The state store keeps invalid rows as failed results; the summary counts them apart.
    failed: Math.max(0, run.failed - run.invalid),
    apiCalls: run.api_calls,
    startedAt: run.started_at,
    finishedAt: run.finished_at ?? run.started_at,
    error: run.error_message,
  };
}
