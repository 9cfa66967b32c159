/**
 * Run-level metrics, taken from the activities' results as they complete (activity-scope.ts):
 * a finished run's duration, records to send and invalid rows. Results carry counts only.
 */
import type { RunSummary } from '../workflows/definitions';
import type { ActivityObserver } from './activity-scope';
import { countInvalidRecords, observeFinishedRun } from './metrics';

/** Runs already observed by this process, so a finish re-executed after a lost completion counts once. */
const observed = new Set<string>();
const REMEMBERED = 1000;

export const observeRunMetrics: ActivityObserver = (scope, outcome) => {
  if (scope.activity !== 'finishRun' || !('result' in outcome) || !scope.syncId) return;
  const run = outcome.result as RunSummary;
  const id = `${scope.syncId}/${run.runNumber}`;
  if (observed.has(id)) return;
  observed.add(id);
  if (observed.size > REMEMBERED) observed.delete(observed.values().next().value as string);
  observeFinishedRun(scope.syncId, run);
  countInvalidRecords(scope.syncId, scope.destination ?? 'unknown', run.invalid);
};
