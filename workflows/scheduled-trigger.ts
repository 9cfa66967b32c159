/**
 * Started by a sync's Temporal Schedule. Schedules can only start workflows, so this short workflow
 * signals-with-start the sync's controller through an activity and ends.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { shortActivity } from './activity-options';

const { triggerController } = proxyActivities<Activities>(shortActivity);

export async function scheduledSyncTrigger(input: { syncId: string }): Promise<void> {
  await triggerController({ syncId: input.syncId, source: 'schedule' });
}
