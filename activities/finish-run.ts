/**
 * finish: closes a run. Counts come from the stored per-record results; in cursor mode the cursor
 * moves forward only when every record of the run was accepted, so a failed record is read again.
 */
import type { Run } from '../state/state-store';
import type { RunKind, RunSummary } from '../workflows/definitions';
import type { EngineContext } from './engine-context';

export interface FinishInput {
  syncId: string;
  runNumber: number;
  status: 'succeeded' | 'failed';
  error: string | null;
}

export async function finishRun(ctx: EngineContext, input: FinishInput): Promise<RunSummary> {
  const { store } = ctx;
  const { syncId, runNumber } = input;
  if (input.status === 'succeeded') {
    const { maxCursor, anyFailed } = await store.runCursorOutcome(syncId, runNumber);
    if (maxCursor !== null && !anyFailed) await store.setCursor(syncId, maxCursor);
  }
  const run = await store.finishRun(syncId, runNumber, input.status, input.error);
  return { ...toRunSummary(run), cursor: await store.getCursor(syncId) };
}

export function toRunSummary(run: Run): Omit<RunSummary, 'cursor'> {
  return {
    runNumber: run.run_number,
    kind: run.kind as RunKind,
    status: run.status === 'succeeded' ? 'succeeded' : 'failed',
    added: run.added,
    changed: run.changed,
    removed: run.removed,
    unchanged: run.unchanged,
    invalid: run.invalid,
    succeeded: run.succeeded,
    failed: run.failed,
    apiCalls: run.api_calls,
    startedAt: run.started_at,
    finishedAt: run.finished_at ?? run.started_at,
    error: run.error_message,
  };
}
