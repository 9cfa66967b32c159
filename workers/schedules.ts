/**
 * One Temporal Schedule per sync that has a `schedule` in config, so the UI's Schedules page shows,
 * pauses, triggers and backfills it. Each scheduled action starts `scheduledSyncTrigger`, which
 * signals-with-start the controller (Schedules can only start workflows).
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { EbbConfig } from '../config/schema';
import { scheduleId } from '../workflows/definitions';

export async function ensureSchedules(client: Client, config: EbbConfig, taskQueue: string): Promise<string[]> {
  const ensured: string[] = [];
  for (const [syncId, sync] of Object.entries(config.syncs)) {
    const id = scheduleId(syncId);
    const handle = client.schedule.getHandle(id);
    if (!sync.schedule) {
      await handle.delete().catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
      continue;
    }
    const spec: ScheduleOptions['spec'] =
      'every' in sync.schedule
        ? { intervals: [{ every: sync.schedule.every as `${number}${'s' | 'm' | 'h' | 'd'}` }] }
        : { cronExpressions: [sync.schedule.cron] };
    const action: ScheduleOptions['action'] = {
      type: 'startWorkflow',
      workflowType: 'scheduledSyncTrigger',
      workflowId: `sync/${syncId}/scheduled`,
      taskQueue,
      args: [{ syncId }],
    };
    try {
      await handle.update((prev) => ({ ...prev, spec, action }));
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create({ scheduleId: id, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP } });
    }
    ensured.push(id);
  }
  return ensured;
}
