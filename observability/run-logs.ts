/**
 * ebb's own log events, one per completed step of a run, written through the activity's logger
 * (so each line carries the sync, run, batch, workflow id and attempt: activity-scope.ts). They
 * hold counts and durations from the activities' results, which never contain rows.
 */
import { Context } from '@temporalio/activity';
import type { DeliverResult } from '../activities/deliver-batch';
import type { RunSummary } from '../workflows/definitions';
import type { ActivityObserver } from './activity-scope';

interface PlanCounts {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  invalid: number;
  batches: number;
}

export const logRunEvents: ActivityObserver = (scope, outcome, seconds) => {
  if (!('result' in outcome)) return; // Temporal's own logger reports failures, with their type.
  const log = Context.current().log;
  const took = { seconds: Math.round(seconds * 1000) / 1000 };
  switch (scope.activity) {
    case 'planRun': {
      const { added, changed, removed, unchanged, invalid, batches } = outcome.result as PlanCounts;
      log.info('run planned', { added, changed, removed, unchanged, invalid, batches, ...took });
      break;
    }
    case 'deliverBatch': {
      const { succeeded, failed } = outcome.result as DeliverResult;
      log.info('batch delivered', { succeeded, failed, ...took });
      break;
    }
    case 'finishRun': {
      const run = outcome.result as RunSummary;
      const { status, succeeded, failed, invalid, apiCalls } = run;
      const runSeconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
      log.info('run finished', { status, succeeded, failed, invalid, apiCalls, runSeconds });
      break;
    }
    case 'notifyRun':
      if ((outcome.result as { alerted?: boolean }).alerted) log.info('alert sent', took);
      break;
  }
};
