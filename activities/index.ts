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
import { deliverBatch, type DeliverInput } from './deliver-batch';
import { DestinationPool, type EngineContext } from './engine-context';
import { finishRun, type FinishInput } from './finish-run';
import { notifyRun } from './notify-run';
import { planRun } from './plan-run';
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
      } finally {
        await ctx.store.countPlanApiCalls(input.syncId, input.runNumber, counter.requests);
      }
    },
    deliverBatch: (input: DeliverInput) => deliverBatch(ctx, pool, input),
    finishRun: (input: FinishInput) => finishRun(ctx, input, { onProgress: () => heartbeat() }),
    notifyRun: (input: { syncId: string; runNumber: number }) => notifyRun(ctx, pool, input),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { DestinationPool, type EngineContext } from './engine-context';
