/**
 * All activities, built by a factory that receives their dependencies; the worker is the only
 * place that wires them. Workflows import the `Activities` type only.
 */
import { heartbeat } from '@temporalio/activity';
import { countingRequests } from '../connectors/destinations/request-counter';
import {
  allocateRun,
  checkReplay,
  describeSync,
  schedulePaused,
  setSchedulePaused,
  triggerController,
} from './controller-activities';
import { apiBudgetPause, isApiBudgetExhausted } from './api-budget-pause';
import { deliverBatch, type DeliverInput } from './deliver-batch';
import { deliverBulk, type DeliverBulkInput } from './deliver-bulk';
import { DestinationPool, type EngineContext } from './engine-context';
import { finishRun, type FinishInput } from './finish-run';
import { notifyRun } from './notify-run';
import { notifyStaleness, type StalenessAlertInput } from './notify-staleness';
import { planRun } from './plan-run';
import { writeSyncLogs } from './write-sync-logs';
import type { RunInput, RunKind } from '../workflows/definitions';

export function createActivities(ctx: EngineContext, pool: DestinationPool = new DestinationPool(ctx)) {
  return {
    allocateRun: (input: { syncId: string; kind: RunKind; replayOfRun: number | null; requestId: string }) =>
      allocateRun(ctx, input),
    describeSync: (input: { syncId: string }) => describeSync(ctx, pool, input),
    triggerController: (input: { syncId: string; source: 'schedule' | 'manual' }) => triggerController(ctx, input),
    setSchedulePaused: (input: { syncId: string; paused: boolean }) => setSchedulePaused(ctx, input),
    schedulePaused: (input: { syncId: string }) => schedulePaused(ctx, input),
    checkReplay: (input: { syncId: string; runNumber: number }) => checkReplay(ctx, input),
    // Samples exist only for `ebb plan`; they hold row values and must never reach workflow history.
    // A real run's deletion guard throws instead of reporting.
    planRun: async (input: RunInput) => {
      // The plan checks the destination (a token request, a describe): the run made those requests.
      const counter = { requests: 0 };
      try {
        const {
          samples: _samples,
          deletionGuard: _guard,
          toSend: _toSend,
          ...result
        } = await countingRequests(counter, () =>
          planRun(ctx, pool, input, {
            onProgress: (rows) => heartbeat({ rows }),
          }),
        );
        // Batches are filled in order, so the first one's size names every batch but the last in the UI.
        const recordsPerBatch =
          result.batches > 1 ? (await ctx.store.readBatch(input.syncId, input.runNumber, 1)).length : undefined;
        return recordsPerBatch ? { ...result, recordsPerBatch } : result;
      } catch (err) {
        // The plan's describe found the connection's apiBudget spent: plan again in the next window.
        if (isApiBudgetExhausted(err)) throw await apiBudgetPause(ctx, pool, input.syncId, err);
        throw err;
      } finally {
        await ctx.store.countPlanApiCalls(input.syncId, input.runNumber, counter.requests);
      }
    },
    deliverBatch: (input: DeliverInput) => deliverBatch(ctx, pool, input),
    deliverBulk: (input: DeliverBulkInput) => deliverBulk(ctx, pool, input),
    finishRun: (input: FinishInput) => finishRun(ctx, input, { onProgress: () => heartbeat() }),
    notifyRun: (input: { syncId: string; runNumber: number }) => notifyRun(ctx, pool, input),
    notifyStaleness: (input: StalenessAlertInput) => notifyStaleness(ctx, pool, input),
    writeSyncLogs: (input: { syncId: string; runNumber: number }) =>
      writeSyncLogs(ctx, pool, input, { onProgress: () => heartbeat() }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { DestinationPool, type EngineContext } from './engine-context';
