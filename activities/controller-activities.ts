/** Small activities the controller and the scheduled trigger use. */
import { ScheduleNotFoundError } from '@temporalio/client';
import { scheduleIntervalMs } from '../config/schedule';
import { resolveSync, type ResolvedSync } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { runNowSignal, STARTING_CONTROLLER_MEMO, type RunKind, type SyncDescription } from '../workflows/definitions';
import { EBB_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { TemporalNames } from '../workflows/temporal-names';
import { temporalNames, type DestinationPool, type EngineContext } from './engine-context';

export async function allocateRun(
  ctx: EngineContext,
  input: { syncId: string; kind: RunKind; replayOfRun: number | null; requestId: string },
): Promise<{ runNumber: number }> {
  return { runNumber: await ctx.store.allocateRun(input) };
}

export async function describeSync(
  ctx: EngineContext,
  pool: DestinationPool,
  input: { syncId: string },
): Promise<SyncDescription> {
  const resolved = pool.resolve(input.syncId);
  const { sync } = resolved;
  return {
    scheduleIntervalMs: sync.schedule ? scheduleIntervalMs(sync.schedule) : null,
    summary: syncSummary(resolved),
    destination: resolved.destination.name,
    searchAttributes: await searchAttributesRegistered(ctx),
    hasSchedule: sync.schedule !== undefined,
  };
}

/**
 * 'account_health -> salesforce Account (upsert by External_Id__c)': names from the config only
 * (model, destination, object or channel, mode, key), safe for workflow history and the UI.
 */
export function syncSummary(resolved: Pick<ResolvedSync, 'sync' | 'destination' | 'connector'>): string {
  const sync = resolved.sync as ResolvedSync['sync'] & {
    object?: string;
    channel?: string;
    externalId?: { from?: string; to?: string };
  };
  const target = sync.object ?? sync.channel;
  const mode = sync.mode ?? resolved.connector.modes[0] ?? 'default mode';
  const key = sync.externalId?.to ? `${sync.externalId.to} (from ${sync.primaryKey})` : sync.primaryKey;
  return `${sync.model} -> ${resolved.destination.name}${target ? ` ${target}` : ''} (${mode} by ${key})`;
}

/**
 * The fixed summary and details a controller is started with (the Temporal UI's Summary and
 * Details boxes): what the sync moves where and how a person acts on it. Config names only.
 */
export function controllerMetadata(
  config: EbbConfig,
  syncId: string,
  names: TemporalNames,
): { staticSummary: string; staticDetails: string } {
  const resolved = resolveSync(config, syncId);
  const { sync, model } = resolved;
  const schedule = sync.schedule
    ? 'every' in sync.schedule
      ? `every ${sync.schedule.every}`
      : `cron \`${sync.schedule.cron}\``
    : 'none (runs when asked)';
  return {
    staticSummary: `sync ${syncId}: ${syncSummary(resolved)}`,
    staticDetails: [
      `**sync ${syncId}** moves model \`${sync.model}\` (source \`${model.source}\`, key \`${sync.primaryKey}\`) to destination \`${resolved.destination.name}\`.`,
      '',
      `- mode: ${sync.mode ?? `${resolved.connector.modes[0] ?? 'default'} (the destination's default)`}; change detection: ${sync.changeDetection}`,
      `- schedule: ${schedule}`,
      '- signals and updates: `runNow`, `fullResync`, `replayFailed` (`{"runNumber": 3}` or nothing for the latest run with failures), `pause`, `resume`; query: `status`',
      `- each run is a child workflow \`${names.controller(syncId)}/run/<n>\`; failed records: \`ebb records ${syncId} --failed\``,
    ].join('\n'),
  };
}

/** Cached per process: registering search attributes needs an operator, not a restart of ebb. */
const registeredByNamespace = new Map<string, Promise<boolean>>();

/**
 * Whether the namespace has every ebb search attribute. Workflows write them only then: an upsert of
 * an unregistered attribute fails the workflow task, and the workflow would stop making progress.
 */
export async function searchAttributesRegistered(ctx: Pick<EngineContext, 'client'>): Promise<boolean> {
  const client = ctx.client;
  if (!client) return false;
  const namespace = client.options.namespace;
  let known = registeredByNamespace.get(namespace);
  if (!known) {
    known = client.connection.operatorService.listSearchAttributes({ namespace }).then(
      (res) => EBB_SEARCH_ATTRIBUTES.every((key) => key.name in (res.customAttributes ?? {})),
      () => false,
    );
    registeredByNamespace.set(namespace, known);
    // A negative answer is checked again next time, so registering them later takes effect.
    void known.then((ok) => {
      if (!ok) registeredByNamespace.delete(namespace);
    });
  }
  return known;
}

/** Signals-with-start the sync's controller; Schedules cannot signal, so they start a workflow that calls this. */
export async function triggerController(
  ctx: EngineContext,
  input: { syncId: string; source: 'schedule' | 'manual' },
): Promise<void> {
  if (!ctx.client) throw new Error('triggerController needs a Temporal client in the worker context');
  // A Schedule that fires unpaused tells a sync paused from the Schedules page that it was unpaused there.
  const scheduleActive = input.source === 'schedule' ? !(await schedulePaused(ctx, input)).paused : undefined;
  await ctx.client.workflow.signalWithStart('syncController', {
    workflowId: temporalNames(ctx).controller(input.syncId),
    taskQueue: ctx.taskQueue,
    args: [{ syncId: input.syncId }],
    memo: STARTING_CONTROLLER_MEMO,
    signal: runNowSignal,
    signalArgs: [{ source: input.source, ...(scheduleActive === undefined ? {} : { scheduleActive }) }],
    ...controllerMetadata(ctx.config, input.syncId, temporalNames(ctx)),
  });
}

/**
 * One pause for a sync: its controller's pause is mirrored on its Temporal Schedule, with a note
 * saying how to resume, so the Schedules page shows the same state as `ebb status`. Idempotent;
 * a sync without a schedule has nothing to mirror.
 */
export async function setSchedulePaused(
  ctx: EngineContext,
  input: { syncId: string; paused: boolean },
): Promise<{ schedule: boolean }> {
  if (!ctx.client) return { schedule: false };
  const handle = ctx.client.schedule.getHandle(temporalNames(ctx).schedule(input.syncId));
  try {
    const description = await handle.describe();
    if (description.state.paused === input.paused) return { schedule: true };
    if (input.paused)
      await handle.pause(
        `sync paused (ebb pause ${input.syncId} or the pause signal); resume with ebb resume ${input.syncId}`,
      );
    else await handle.unpause(`sync resumed (ebb resume ${input.syncId} or the resume signal)`);
    return { schedule: true };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return { schedule: false };
    throw err;
  }
}

/** Whether the sync's Schedule is paused (someone paused it on the Temporal UI's Schedules page). */
export async function schedulePaused(ctx: EngineContext, input: { syncId: string }): Promise<{ paused: boolean }> {
  if (!ctx.client) return { paused: false };
  try {
    const description = await ctx.client.schedule.getHandle(temporalNames(ctx).schedule(input.syncId)).describe();
    return { paused: description.state.paused };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return { paused: false };
    throw err;
  }
}

/**
 * Why a replay of run `runNumber` would have nothing to send, or null when it has: the run must
 * exist and have left failed records. (A replay without a run number takes the latest run with
 * failures, and sends nothing when there is none.)
 */
export async function checkReplay(
  ctx: EngineContext,
  input: { syncId: string; runNumber: number },
): Promise<{ problem: string | null }> {
  const run = await ctx.store.getRun(input.syncId, input.runNumber);
  if (!run) {
    const last = await ctx.store.latestRun(input.syncId);
    return {
      problem: `sync ${input.syncId} has no run ${input.runNumber}${last ? ` (its last run is ${last.run_number})` : ' (it has not run yet)'}`,
    };
  }
  if (run.failed === 0)
    return { problem: `run ${input.runNumber} of sync ${input.syncId} has no failed records to replay` };
  return { problem: null };
}
