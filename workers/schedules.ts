/**
 * One Temporal Schedule per sync that has a `schedule` in config, so the UI's Schedules page shows,
 * pauses, triggers and backfills it. Each scheduled action starts `scheduledSyncTrigger`, which
 * signals-with-start the controller (Schedules can only start workflows).
 *
 * A worker start lists the deployment's Schedules once and touches only those that differ from the
 * config: each Schedule carries, in its memo, the task queue and the spec it was made from, so 500
 * unchanged Schedules cost one list call, not 1,000 describe and update calls.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleSummary,
} from '@temporalio/client';
import type { EbbConfig } from '../config/schema';
import type { TemporalNames } from '../workflows/temporal-names';

/** What ebb writes in a Schedule's memo: whose it is and what it was made from. */
interface ScheduleMemo {
  taskQueue: string;
  /** The config's schedule, as JSON: a change in ebb.yaml makes a different one. */
  spec: string;
}

export interface ScheduleChanges {
  /** Schedules of configured syncs, as they now are. */
  ensured: string[];
  /** Schedules this call created or remade because the config changed. */
  written: string[];
  /** Schedules deleted: their sync left the config or lost its `schedule`. */
  removed: string[];
}

function desired(config: EbbConfig, names: TemporalNames, syncId: string) {
  const schedule = config.syncs[syncId]?.schedule;
  if (!schedule) return null;
  const spec: ScheduleOptions['spec'] =
    'every' in schedule
      ? { intervals: [{ every: schedule.every as `${number}${'s' | 'm' | 'h' | 'd'}` }] }
      : { cronExpressions: [schedule.cron] };
  const action: ScheduleOptions['action'] = {
    type: 'startWorkflow',
    workflowType: 'scheduledSyncTrigger',
    workflowId: names.scheduledTrigger(syncId),
    taskQueue: names.taskQueue,
    args: [{ syncId }],
  };
  const memo: ScheduleMemo = { taskQueue: names.taskQueue, spec: JSON.stringify(schedule) };
  return { spec, action, memo };
}

/** Whether a listed Schedule belongs to this deployment's task queue (memo, or its action for older ones). */
async function ours(client: Client, summary: ScheduleSummary, names: TemporalNames): Promise<boolean> {
  const memo = summary.memo?.ebb as ScheduleMemo | undefined;
  if (memo) return memo.taskQueue === names.taskQueue;
  const description = await client.schedule.getHandle(summary.scheduleId).describe();
  return description.action.type === 'startWorkflow' && description.action.taskQueue === names.taskQueue;
}

export async function reconcileSchedules(
  client: Client,
  config: EbbConfig,
  names: TemporalNames,
): Promise<ScheduleChanges> {
  const existing = new Map<string, ScheduleSummary>();
  for await (const summary of client.schedule.list()) {
    if (names.syncOfSchedule(summary.scheduleId) !== null) existing.set(summary.scheduleId, summary);
  }
  const changes: ScheduleChanges = { ensured: [], written: [], removed: [] };
  for (const syncId of Object.keys(config.syncs)) {
    const want = desired(config, names, syncId);
    const id = names.schedule(syncId);
    const found = existing.get(id);
    existing.delete(id);
    if (!want) {
      if (found && (await ours(client, found, names))) await deleteSchedule(client, id, changes);
      continue;
    }
    changes.ensured.push(id);
    const memo = found?.memo?.ebb as ScheduleMemo | undefined;
    if (memo && memo.taskQueue === want.memo.taskQueue && memo.spec === want.memo.spec) continue;
    // Made from another config (or before Schedules carried a memo, which only creation sets): made
    // anew, keeping a person's pause and its note.
    const state = found ? { paused: found.state.paused, note: found.state.note } : undefined;
    if (found) await client.schedule.getHandle(id).delete().catch(ignoreNotFound);
    try {
      await client.schedule.create({
        scheduleId: id,
        spec: want.spec,
        action: want.action,
        memo: { ebb: want.memo },
        policies: { overlap: ScheduleOverlapPolicy.SKIP },
        ...(state ? { state } : {}),
      });
      changes.written.push(id);
    } catch (err) {
      // Another worker starting at the same time made it.
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
  }
  // What is left are Schedules of syncs no longer in the config.
  for (const [id, summary] of existing) {
    if (await ours(client, summary, names).catch(() => false)) await deleteSchedule(client, id, changes);
  }
  return changes;
}

async function deleteSchedule(client: Client, id: string, changes: ScheduleChanges): Promise<void> {
  try {
    await client.schedule.getHandle(id).delete();
    changes.removed.push(id);
  } catch (err) {
    ignoreNotFound(err);
  }
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof ScheduleNotFoundError)) throw err;
}
