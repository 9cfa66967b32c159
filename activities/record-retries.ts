/**
 * Re-sends, within one delivery, the records a destination rejected for a passing reason: codes it
 * lists in `transientRecordErrors`, such as Salesforce's UNABLE_TO_LOCK_ROW while another
 * transaction holds the row. Left to the next run, such a row would stay stale for a whole schedule
 * interval; throwing so that Temporal retries the activity would re-send the records that landed.
 *
 *   const outcomes = await deliverRetryingTransientRecords(records, send, {
 *     transientErrors: destination.transientRecordErrors,
 *     policy: defaultRecordRetryPolicy,
 *     heartbeat,
 *   });
 *
 * Only the records still failing transiently go out again, together in one smaller request; a
 * record that then fails for another reason (a validation error) keeps that outcome. Idempotency is
 * the destination's, as for any re-sent batch: upserts by external id, Slack posts found by metadata.
 */
import type { RecordOutcome, RecordToDeliver } from '../connectors/destinations/destination';

export interface RecordRetryPolicy {
  /** Wait before each retry, in milliseconds; its length is the number of retries. */
  delaysMs: readonly number[];
  /**
   * Each wait is stretched or shrunk at random by up to this fraction (0.25: +-25%), so batches that
   * collided on one locked row do not all come back at the same moment and collide again.
   */
  jitter: number;
}

/** Three retries over about 7 s: long enough for a typical Salesforce row lock to clear. */
export const defaultRecordRetryPolicy: RecordRetryPolicy = { delaysMs: [1000, 2000, 4000], jitter: 0.25 };

/** The longest wait between heartbeats; well under the deliver activity's 20 s heartbeat timeout. */
const heartbeatEveryMs = 5000;

export interface RecordRetryOptions {
  /** The destination's `transientRecordErrors`; nothing is retried when it is empty or missing. */
  transientErrors: ReadonlySet<string> | undefined;
  policy: RecordRetryPolicy;
  heartbeat: () => void;
  /** Waits this long; the activity passes Temporal's cancellation-aware sleep. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Sends `records` with `send`, then re-sends those failing with a transient error code as the
 * policy says. `send(records, retry)` gets `retry = true` for re-sends, so the caller can tell the
 * destination that this is not the first attempt for them. Returns one outcome per record, in order.
 */
export async function deliverRetryingTransientRecords(
  records: RecordToDeliver[],
  send: (records: RecordToDeliver[], retry: boolean) => Promise<RecordOutcome[]>,
  options: RecordRetryOptions,
): Promise<RecordOutcome[]> {
  const outcomes = await send(records, false);
  const transient = options.transientErrors;
  if (!transient || transient.size === 0) return outcomes;
  const isTransient = (o: RecordOutcome | undefined) => o?.status === 'failed' && transient.has(o.errorCode);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  let pending = outcomes.flatMap((o, i) => (isTransient(o) ? [i] : []));
  let retries = 0;
  for (const delay of options.policy.delaysMs) {
    if (pending.length === 0) break;
    await waitHeartbeating(jittered(delay, options.policy.jitter), options.heartbeat, sleep);
    retries++;
    const again = await send(
      pending.map((i) => records[i] as RecordToDeliver),
      true,
    );
    pending.forEach((index, j) => {
      outcomes[index] = again[j] as RecordOutcome;
    });
    pending = pending.filter((i) => isTransient(outcomes[i]));
  }
  for (const i of pending) {
    const outcome = outcomes[i];
    if (outcome?.status !== 'failed') continue;
    outcomes[i] = {
      ...outcome,
      errorMessage:
        `${outcome.errorMessage} (still ${outcome.errorCode} after ${retries} ${retries === 1 ? 'retry' : 'retries'} within the run; ` +
        'the next run sends it again)',
    };
  }
  return outcomes;
}

function jittered(delayMs: number, jitter: number): number {
  return Math.max(0, Math.round(delayMs * (1 + jitter * (2 * Math.random() - 1))));
}

async function waitHeartbeating(
  ms: number,
  heartbeat: () => void,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  heartbeat();
  for (let left = ms; left > 0; left -= heartbeatEveryMs) {
    await sleep(Math.min(left, heartbeatEveryMs));
    heartbeat();
  }
}
