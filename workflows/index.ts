export { syncController } from './sync-controller';
export { syncRun } from './sync-run';
export { scheduledSyncTrigger } from './scheduled-trigger';
