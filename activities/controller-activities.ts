/** Small activities the controller and the scheduled trigger use. */
import { scheduleIntervalMs } from '../config/schedule';
import { controllerWorkflowId, runNowSignal, type RunKind } from '../workflows/definitions';
import type { DestinationPool, EngineContext } from './engine-context';

export async function allocateRun(
  ctx: EngineContext,
  input: { syncId: string; kind: RunKind; replayOfRun: number | null; requestId: string },
): Promise<{ runNumber: number }> {
  return { runNumber: await ctx.store.allocateRun(input) };
}

export async function describeSync(
  _ctx: EngineContext,
  pool: DestinationPool,
  input: { syncId: string },
): Promise<{ scheduleIntervalMs: number | null }> {
  const { sync } = pool.resolve(input.syncId);
  return { scheduleIntervalMs: sync.schedule ? scheduleIntervalMs(sync.schedule) : null };
}

/** Signals-with-start the sync's controller; Schedules cannot signal, so they start a workflow that calls this. */
export async function triggerController(
  ctx: EngineContext,
  input: { syncId: string; source: 'schedule' | 'manual' },
): Promise<void> {
  if (!ctx.client) throw new Error('triggerController needs a Temporal client in the worker context');
  await ctx.client.workflow.signalWithStart('syncController', {
    workflowId: controllerWorkflowId(input.syncId),
    taskQueue: ctx.taskQueue,
    args: [{ syncId: input.syncId }],
    signal: runNowSignal,
    signalArgs: [{ source: input.source }],
  });
}
