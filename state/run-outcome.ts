/**
 * A run's honest outcome, the same wherever it is shown (workflow result, controller details,
 * `ebb runs`, alerts, the exit code of `ebb run --wait`):
 *
 *   - succeeded: every record it set out to send was accepted;
 *   - succeeded_with_failures: it ran to the end, and some records failed or could not be sent
 *     (a rejected value, a null or duplicate key); they are retried by the next run;
 *   - failed: it stopped (bad credentials, a warehouse error, cancelled), or every record failed.
 *
 * Counts add up: added + changed + removed = succeeded + failed + invalid, where `failed` counts
 * records the destination refused and `invalid` rows that could not be sent at all.
 */
import type { RunOutcome } from '../workflows/definitions';

export type { RunOutcome };

export interface RunCounts {
  /** How the run ended in the state store: 'failed' when it stopped. */
  status: string;
  succeeded: number;
  /** Failed record results, the invalid rows included (as the state store keeps them). */
  failedResults: number;
  invalid: number;
}

export function runOutcome(run: RunCounts): RunOutcome {
  if (run.status === 'failed') return 'failed';
  if (run.failedResults === 0) return 'succeeded';
  return run.succeeded === 0 ? 'failed' : 'succeeded_with_failures';
}

export { describeOutcome } from '../workflows/definitions';

/** A stored run's status as people should read it: its outcome once finished, its phase before. */
export function storedRunStatus(run: {
  status: string;
  succeeded: number;
  failed: number;
  invalid: number;
}): RunOutcome | 'planning' | 'delivering' {
  if (run.status === 'planning' || run.status === 'delivering') return run.status;
  return runOutcome({ status: run.status, succeeded: run.succeeded, failedResults: run.failed, invalid: run.invalid });
}
