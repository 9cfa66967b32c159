/**
 * deliver: sends one staged batch to the destination and records every record's outcome. A batch is
 * one or several requests' worth of records (the destination's `requestsPerDelivery`); its requests
 * go out side by side, within the destination's in-flight limit for this process, and each
 * request's outcomes are recorded as soon as it answers.
 *
 * Idempotent: a batch whose outcomes were already recorded is not sent again (the activity may be
 * re-executed after the worker died between recording and reporting completion), nor are the
 * records of its requests already recorded; records sent but not recorded are sent again with an attempt > 1, and each destination makes that safe its own way:
 * Salesforce upserts (and updates) by external id and claims records an earlier insert created;
 * Slack finds the earlier post by its metadata. Nothing is doubled. Records the destination
 * rejected with a transient error code (a locked row) are re-sent within the activity first
 * (record-retries.ts), so only records still failing after the retries are recorded as failed.
 */
import { AsyncResource } from 'node:async_hooks';
import { activityInfo, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Destination, RecordOutcome, RecordToDeliver } from '../connectors/destinations/destination';
import { countingRequests } from '../connectors/destinations/request-counter';
import { countDeliveredRecords } from '../observability/record-metrics';
import { chunks } from '../state/chunks';
import type { RecordResult, StagedRecord } from '../state/state-store';
import type { RecordStatus } from '../state/tables';
import type { DestinationPool, EngineContext } from './engine-context';
import { defaultRecordRetryPolicy, deliverRetryingTransientRecords } from './record-retries';
import { apiBudgetPause, isApiBudgetExhausted } from './api-budget-pause';

/** How long a delivery paused for the daily API budget waits before it asks the destination again. */
export const defaultApiBudgetRetryMs = 5 * 60_000;

/**
 * Requests kept back from a daily API budget for the org's other integrations: 2% of it, at least
 * 10, but at most 10% of it, so a small allowance is not mostly held back (a limit of 15 keeps 2,
 * 100 keeps 10, 1000 keeps 20, 100000 keeps 2000).
 */
export function budgetReserve(limit: number): number {
  return Math.ceil(Math.min(Math.max(10, limit * 0.02), limit * 0.1));
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

/** A staged record on its way out: its per-field hashes go to the snapshot with its outcome (changed-fields.ts). */
export type StagedToDeliver = RecordToDeliver & { fieldHashes: string | null };

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
  const records = staged.map(toDeliver);
  // Everything from here on is counted, the session's token and describe requests and the usage
  // check included: they are requests this run made (the batch that made them carries them).
  const counter = { requests: 0 };
  try {
    return await countingRequests(counter, () => deliverRecords(ctx, pool, input, records));
  } catch (err) {
    // The connection's apiBudget share is spent: wait for the next window (api-budget-pause.ts).
    if (isApiBudgetExhausted(err)) throw await apiBudgetPause(ctx, pool, syncId, err);
    throw err;
  } finally {
    // Failed and paused attempts spent API budget too; a re-executed batch adds to the count.
    await store.countBatchApiCalls(syncId, runNumber, batchNumber, counter.requests);
  }
}

async function deliverRecords(
  ctx: EngineContext,
  pool: DestinationPool,
  input: DeliverInput,
  records: StagedToDeliver[],
): Promise<DeliverResult> {
  const { store } = ctx;
  const { syncId, runNumber, batchNumber } = input;
  let destination: Destination;
  try {
    destination = await pool.get(syncId, { checked: true });
  } catch (err) {
    throw toActivityFailure(err);
  }
  await pauseForApiBudget(ctx, destination, syncId);
  // Destinations without natural idempotency (Slack posts) look for earlier sends only when told
  // this is not the first attempt, so the attempt also counts sends by earlier activities and runs.
  const counted = await store.countBatchAttempt(syncId, runNumber, batchNumber);
  const attempt = Math.max(activityInfo().attempt, counted.attempts, counted.maybeSent ? 2 : 1);

  // A re-executed delivery finds what an earlier execution recorded request by request: those
  // records are counted, not sent again.
  const recorded =
    counted.attempts > 1
      ? await store.recordedStatuses(
          syncId,
          runNumber,
          records.map((r) => r.key),
        )
      : new Map<string, RecordStatus>();
  const tally = { succeeded: 0, failed: 0 };
  for (const status of recorded.values()) tally[status === 'succeeded' ? 'succeeded' : 'failed']++;

  const beat = () => heartbeat({ batchNumber });
  const planned = await store.getRun(syncId, runNumber);
  const run = planned && {
    number: runNumber,
    batch: batchNumber,
    batches: planned.batches,
    upserts: planned.added + planned.changed,
    deletes: planned.removed,
  };
  const send = async (part: RecordToDeliver[], retry: boolean): Promise<RecordOutcome[]> => {
    // A re-sent record is not on its first attempt: destinations without natural idempotency look
    // for an earlier write of it first, in case the rejection came after all.
    const sent = await destination.deliver(part, {
      syncId,
      attempt: retry ? Math.max(attempt, 2) : attempt,
      heartbeat: beat,
      ...(run ? { run } : {}),
    });
    if (sent.length !== part.length || sent.some((o, i) => o.key !== part[i]?.key)) {
      throw new DeliveryContractError(
        `destination of sync '${syncId}' returned ${sent.length} outcomes for ${part.length} records (or out of order); this is a bug in its connector`,
      );
    }
    return sent;
  };
  /** One request's worth of records: sent (with its transient record retries), then its outcomes recorded. */
  const deliverRequest = async (part: StagedToDeliver[]): Promise<void> => {
    const outcomes = await deliverRetryingTransientRecords(part, send, {
      transientErrors: destination.transientRecordErrors,
      policy: ctx.recordRetries ?? defaultRecordRetryPolicy,
      heartbeat: beat,
      // Cancellation-aware: a cancelled run does not sit out the backoff.
      sleep: (ms) => Context.current().sleep(ms),
    });
    const results = outcomes.map((o, i) => toRecordResult(o, part[i] as StagedToDeliver));
    await store.recordBatchOutcomes({ syncId, runNumber, batchNumber: null, attempt, results });
    countDeliveredRecords(syncId, results);
    for (const o of outcomes) tally[o.status === 'succeeded' ? 'succeeded' : 'failed']++;
    beat();
  };

  const limiter = pool.requestLimiter(syncId, destination.limits.maxConcurrency);
  const unsent = records.filter((r) => !recorded.has(r.key));
  // After one request fails (a 429, an outage), the requests not yet started stay unsent: the
  // activity's retry sends them, after Retry-After, instead of hammering a refusing API now.
  let failing = false;
  const settled = await Promise.allSettled(
    chunks(unsent, destination.limits.batchSize).map((part) =>
      // Bound to this activity's async context: the shared limiter may start it from another
      // activity's continuation, and requests are counted (request-counter.ts) per context.
      limiter(
        AsyncResource.bind(async () => {
          if (failing) return;
          try {
            await deliverRequest(part);
          } catch (err) {
            failing = true;
            throw err;
          }
        }),
      ),
    ),
  );
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw toActivityFailure(rejected.reason);
  await store.markBatchDelivered(syncId, runNumber, batchNumber, tally);
  return tally;
}

/** A staged record as the destination receives it (bulk delivery reads staged batches the same way). */
export function toDeliver(r: StagedRecord): StagedToDeliver {
  return {
    key: r.key,
    payload: r.payload,
    operation: r.operation,
    destinationId: r.destinationId,
    hash: r.hash,
    fieldHashes: r.fieldHashes ?? null,
  };
}

export function toRecordResult(
  o: RecordOutcome,
  record: StagedToDeliver,
): RecordResult & { hash: string | null; fieldHashes: string | null } {
  return o.status === 'succeeded'
    ? {
        key: o.key,
        operation: record.operation,
        status: 'succeeded',
        destinationId: o.destinationId,
        errorCode: null,
        errorMessage: null,
        hash: record.hash,
        fieldHashes: record.fieldHashes,
      }
    : {
        key: o.key,
        operation: record.operation,
        status: 'failed',
        destinationId: record.destinationId,
        errorCode: o.errorCode,
        errorMessage: o.fields?.length ? `${o.errorMessage} (fields: ${o.fields.join(', ')})` : o.errorMessage,
        hash: null,
        fieldHashes: null,
      };
}

/**
 * Throws a retryable `ApiBudgetExhausted` failure when the destination's daily API budget is down to
 * its reserve, so the org's other integrations keep the rest. Usage cached from earlier responses
 * only ever grows, so before pausing it is asked for afresh: the retry after the wait then finds
 * the window rolled on (or the limit raised) and delivers, with no worker restart. The message is
 * what `ebb status` and the Temporal UI show as the pending delivery's last failure.
 */
export async function pauseForApiBudget(ctx: EngineContext, destination: Destination, syncId: string): Promise<void> {
  const nearlyUsed = (u: { used: number; limit: number } | null) =>
    u !== null && u.limit - u.used <= budgetReserve(u.limit);
  let usage = destination.apiUsage?.() ?? null;
  if (!nearlyUsed(usage)) return;
  if (destination.refreshApiUsage) {
    try {
      usage = (await destination.refreshApiUsage()) ?? usage;
    } catch (err) {
      // Bad credentials fail the run as anywhere else; a usage check that merely failed (the budget
      // already spent: 403, a 5xx) keeps the cached figure and waits like any other pause.
      if (err instanceof Error && err.name === 'FatalDestinationError') throw toActivityFailure(err);
      if (isApiBudgetExhausted(err)) throw err;
    }
  }
  if (!usage || !nearlyUsed(usage)) return;
  const retryMs = ctx.apiBudgetRetryMs ?? defaultApiBudgetRetryMs;
  const nextCheck = new Date(Date.now() + retryMs).toISOString();
  const reserve = budgetReserve(usage.limit);
  throw ApplicationFailure.create({
    type: 'ApiBudgetExhausted',
    message:
      `waiting for API budget (${usage.used}/${usage.limit}), next check at ${nextCheck}. ` +
      `Sync '${syncId}' paused delivery: the destination's daily API budget is nearly used up (${usage.used} of ${usage.limit}) ` +
      `and ebb leaves the last ${reserve} requests to the org's other integrations; ` +
      "raise the org's limit or lower other usage to resume sooner",
    nextRetryDelay: retryMs,
  });
}

/**
 * Maps the destination's error classes to Temporal failures. Classes are matched by `name`, which
 * survives bundling and module copies where `instanceof` does not.
 */
export function toActivityFailure(err: unknown): unknown {
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
