/**
 * deliver: sends one staged batch to the destination and records every record's outcome.
 *
 * Idempotent: a batch whose outcomes were already recorded is not sent again (the activity may be
 * re-executed after the worker died between recording and reporting completion); a batch sent but
 * not recorded is sent again with an attempt > 1, and each destination makes that safe its own way:
 * Salesforce upserts (and updates) by external id and claims records an earlier insert created;
 * Slack finds the earlier post by its metadata. Nothing is doubled. Records the destination
 * rejected with a transient error code (a locked row) are re-sent within the activity first
 * (record-retries.ts), so only records still failing after the retries are recorded as failed.
 */
import { activityInfo, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { RecordOutcome, RecordToDeliver } from '../connectors/destinations/destination';
import { countingRequests } from '../connectors/destinations/request-counter';
import type { DestinationPool, EngineContext } from './engine-context';
import { defaultRecordRetryPolicy, deliverRetryingTransientRecords } from './record-retries';

const BUDGET_RETRY_MINUTES = 5;

/** Requests kept back from a daily budget: 2% of it, at least 10. */
export function budgetReserve(limit: number): number {
  return Math.max(10, Math.ceil(limit * 0.02));
}

export interface DeliverInput {
  syncId: string;
  runNumber: number;
  batchNumber: number;
}

export interface DeliverResult {
  succeeded: number;
  failed: number;
}

export class DeliveryContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryContractError';
  }
}

export async function deliverBatch(
  ctx: EngineContext,
  pool: DestinationPool,
  input: DeliverInput,
): Promise<DeliverResult> {
  const { store } = ctx;
  const { syncId, runNumber, batchNumber } = input;
  const previous = await store.batchOutcome(syncId, runNumber, batchNumber);
  if (previous) return previous;

  const staged = await store.readBatch(syncId, runNumber, batchNumber);
  const records: RecordToDeliver[] = staged.map((r) => ({
    key: r.key,
    payload: r.payload,
    operation: r.operation,
    destinationId: r.destinationId,
    hash: r.hash,
  }));
  const destination = await pool.get(syncId, { checked: true });
  const usage = destination.apiUsage?.() ?? null;
  if (usage && usage.limit - usage.used <= budgetReserve(usage.limit)) {
    // Leave the rest of the org's daily budget to its other integrations; retry once some of it frees up.
    throw ApplicationFailure.create({
      type: 'ApiBudgetExhausted',
      message:
        `sync '${syncId}' paused delivery: the destination's daily API budget is nearly used up (${usage.used} of ${usage.limit}). ` +
        `ebb retries every ${BUDGET_RETRY_MINUTES} minutes; raise the org's limit or lower other usage to resume sooner`,
      nextRetryDelay: `${BUDGET_RETRY_MINUTES} minutes`,
    });
  }
  // Destinations without natural idempotency (Slack posts) look for earlier sends only when told
  // this is not the first attempt, so the attempt also counts sends by earlier activities and runs.
  const counted = await store.countBatchAttempt(syncId, runNumber, batchNumber);
  const attempt = Math.max(activityInfo().attempt, counted.attempts, counted.maybeSent ? 2 : 1);

  let outcomes: RecordOutcome[];
  const counter = { requests: 0 };
  const beat = () => heartbeat({ batchNumber });
  const send = async (part: RecordToDeliver[], retry: boolean): Promise<RecordOutcome[]> => {
    // A re-sent record is not on its first attempt: destinations without natural idempotency look
    // for an earlier write of it first, in case the rejection came after all.
    const sent = await destination.deliver(part, {
      syncId,
      attempt: retry ? Math.max(attempt, 2) : attempt,
      heartbeat: beat,
    });
    if (sent.length !== part.length || sent.some((o, i) => o.key !== part[i]?.key)) {
      throw new DeliveryContractError(
        `destination of sync '${syncId}' returned ${sent.length} outcomes for ${part.length} records (or out of order); this is a bug in its connector`,
      );
    }
    return sent;
  };
  try {
    outcomes = await countingRequests(counter, () =>
      deliverRetryingTransientRecords(records, send, {
        transientErrors: destination.transientRecordErrors,
        policy: ctx.recordRetries ?? defaultRecordRetryPolicy,
        heartbeat: beat,
        // Cancellation-aware: a cancelled run does not sit out the backoff.
        sleep: (ms) => Context.current().sleep(ms),
      }),
    );
  } catch (err) {
    throw toActivityFailure(err);
  } finally {
    // Failed attempts spent API budget too.
    await store.countBatchApiCalls(syncId, runNumber, batchNumber, counter.requests);
  }
  await store.recordBatchOutcomes({
    syncId,
    runNumber,
    batchNumber,
    attempt,
    results: outcomes.map((o, i) => {
      const record = records[i] as RecordToDeliver;
      return o.status === 'succeeded'
        ? {
            key: o.key,
            operation: record.operation,
            status: 'succeeded',
            destinationId: o.destinationId,
            errorCode: null,
            errorMessage: null,
            hash: record.hash,
          }
        : {
            key: o.key,
            operation: record.operation,
            status: 'failed',
            destinationId: record.destinationId,
            errorCode: o.errorCode,
            errorMessage: o.fields?.length ? `${o.errorMessage} (fields: ${o.fields.join(', ')})` : o.errorMessage,
            hash: null,
          };
    }),
  });
  const succeeded = outcomes.filter((o) => o.status === 'succeeded').length;
  return { succeeded, failed: outcomes.length - succeeded };
}

/**
 * Maps the destination's error classes to Temporal failures. Classes are matched by `name`, which
 * survives bundling and module copies where `instanceof` does not.
 */
function toActivityFailure(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  if (err.name === 'FatalDestinationError') {
    return ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true });
  }
  if (err.name === 'TransientDestinationError') {
    const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
    return ApplicationFailure.create({
      type: err.name,
      message: err.message,
      nextRetryDelay: retryAfterMs !== undefined ? Math.max(retryAfterMs, 100) : undefined,
    });
  }
  return err;
}
