/**
 * deliverBulk: sends a whole run's staged batches through the destination's bulk jobs (Salesforce
 * Bulk API 2.0) instead of one request per batch, and records every record's outcome exactly as
 * deliverBatch does: the same result rows, the same snapshots, each batch marked delivered with its
 * counts, so `finish` and the run summary do not know which path was taken.
 *
 * The batches go in jobs of at most `bulk.recordsPerJob` records (consecutive batches; upserts and
 * deletes in a job each). Each job's id is recorded in the state store (bulk_jobs) before its CSV is
 * uploaded: an attempt after a worker crash finds it and polls that same job, then reads its results,
 * instead of sending the records again in a new one. A job that was still Open (the crash came
 * during the upload) is aborted by the connector and replaced. Batches already marked delivered are
 * not recorded again, so the activity is idempotent at every step.
 *
 * Heartbeats carry the current job `{ jobId, operation, firstBatch, lastBatch, state }` (the
 * Temporal UI shows them on the pending activity), and keep coming during a long upload.
 */
import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Destination, RecordOutcome, RecordToDeliver } from '../connectors/destinations/destination';
import type { BulkIngest } from '../connectors/destinations/bulk-ingest';
import { countingRequests } from '../connectors/destinations/request-counter';
import { countDeliveredRecords } from '../observability/record-metrics';
import { bulkJobFor, finishBulkJob, recordBulkJob, type BulkJobSlot } from '../state/bulk-jobs';
import { chunks } from '../state/chunks';
import {
  pauseForApiBudget,
  toActivityFailure,
  toDeliver,
  toRecordResult,
  type DeliverResult,
  type StagedToDeliver,
} from './deliver-batch';
import { apiBudgetPause, isApiBudgetExhausted } from './api-budget-pause';
import type { DestinationPool, EngineContext } from './engine-context';
import { defaultRecordRetryPolicy, deliverRetryingTransientRecords } from './record-retries';

export interface DeliverBulkInput {
  syncId: string;
  runNumber: number;
}

/** While an upload or a results download runs, a heartbeat still goes out this often. */
const keepAliveMs = 5000;

interface BatchRow {
  batch_number: number;
  record_count: number;
  delivered_at: string | null;
  succeeded: number;
  failed: number;
}

/** Consecutive batches that go in one job (one per operation). */
interface JobGroup {
  first: number;
  last: number;
  records: number;
  batches: BatchRow[];
}

export async function deliverBulk(
  ctx: EngineContext,
  pool: DestinationPool,
  input: DeliverBulkInput,
): Promise<DeliverResult> {
  // Requests outside the job groups (a new worker's token and describe, usage checks) are the run's
  // too: counted on its first batch, as each group's are on the group's first batch.
  const setup = { requests: 0 };
  try {
    return await countingRequests(setup, () => deliverJobs(ctx, pool, input));
  } finally {
    await ctx.store.countBatchApiCalls(input.syncId, input.runNumber, 1, setup.requests);
  }
}

async function deliverJobs(ctx: EngineContext, pool: DestinationPool, input: DeliverBulkInput): Promise<DeliverResult> {
  const { store } = ctx;
  const { syncId, runNumber } = input;
  let destination: Destination;
  try {
    destination = await pool.get(syncId, { checked: true });
  } catch (err) {
    throw toActivityFailure(err);
  }
  const bulk = destination.bulk;
  if (!bulk) {
    throw ApplicationFailure.create({
      type: 'DeliveryContractError',
      nonRetryable: true,
      message: `run ${runNumber} of sync '${syncId}' was planned for bulk delivery, but its destination has no bulk path; this is a bug in its connector`,
    });
  }
  await pauseForApiBudget(ctx, destination, syncId);

  const batches = await store.db
    .selectFrom('batches')
    .select(['batch_number', 'record_count', 'delivered_at', 'succeeded', 'failed'])
    .where('sync_id', '=', syncId)
    .where('run_number', '=', runNumber)
    .orderBy('batch_number')
    .execute();

  const context = Context.current();
  let details: Record<string, unknown> = { phase: 'reading staged records' };
  const beat = () => context.heartbeat(details);
  const keepAlive = setInterval(beat, keepAliveMs);
  const tally = { succeeded: 0, failed: 0 };
  try {
    for (const group of jobGroups(batches, bulk.recordsPerJob)) {
      const pending = group.batches.filter((b) => b.delivered_at === null);
      for (const done of group.batches.filter((b) => b.delivered_at !== null)) {
        tally.succeeded += done.succeeded;
        tally.failed += done.failed;
      }
      if (pending.length === 0) continue;
      // Requests are counted per job group, on its first batch, so the run's API calls include them.
      const counter = { requests: 0 };
      try {
        const counts = await countingRequests(counter, () =>
          deliverGroup(group, pending, {
            ctx,
            destination,
            bulk,
            syncId,
            runNumber,
            heartbeat: (next) => {
              details = next;
              beat();
            },
            sleep: (ms) => context.sleep(ms),
          }),
        );
        tally.succeeded += counts.succeeded;
        tally.failed += counts.failed;
      } finally {
        await store.countBatchApiCalls(syncId, runNumber, group.first, counter.requests);
      }
    }
  } catch (err) {
    // The connection's apiBudget share is spent: wait for the next window; a resumed job is polled then.
    if (isApiBudgetExhausted(err)) throw await apiBudgetPause(ctx, pool, syncId, err);
    if (err instanceof Error && err.name === 'BulkUploadTooLargeError') {
      throw ApplicationFailure.create({
        type: err.name,
        nonRetryable: true,
        message: `sync '${syncId}': ${err.message}; lower bulk.recordsPerJob for this sync`,
      });
    }
    throw toActivityFailure(err);
  } finally {
    clearInterval(keepAlive);
  }
  return tally;
}

/** Consecutive batches, as many as fit `recordsPerJob` (a batch larger than that goes alone). */
function jobGroups(batches: BatchRow[], recordsPerJob: number): JobGroup[] {
  const groups: JobGroup[] = [];
  for (const batch of batches) {
    const current = groups[groups.length - 1];
    if (current && current.records + batch.record_count <= recordsPerJob) {
      current.last = batch.batch_number;
      current.records += batch.record_count;
      current.batches.push(batch);
    } else {
      groups.push({
        first: batch.batch_number,
        last: batch.batch_number,
        records: batch.record_count,
        batches: [batch],
      });
    }
  }
  return groups;
}

interface GroupDelivery {
  ctx: EngineContext;
  destination: Destination;
  bulk: BulkIngest;
  syncId: string;
  runNumber: number;
  heartbeat: (details: Record<string, unknown>) => void;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Sends one group's records through a job per operation (resuming the jobs recorded for it) and
 * records the outcomes of its batches not yet delivered. A resumed job holds every record of the
 * group, so every one of them is handed to the connector to map its results.
 */
async function deliverGroup(group: JobGroup, pending: BatchRow[], d: GroupDelivery): Promise<DeliverResult> {
  const { store } = d.ctx;
  const { syncId, runNumber } = d;
  let attempt = activityInfo().attempt;
  for (const batch of pending) {
    const counted = await store.countBatchAttempt(syncId, runNumber, batch.batch_number);
    attempt = Math.max(attempt, counted.attempts, counted.maybeSent ? 2 : 1);
  }
  const staged = new Map<number, StagedToDeliver[]>();
  for (const batch of group.batches) {
    staged.set(batch.batch_number, (await store.readBatch(syncId, runNumber, batch.batch_number)).map(toDeliver));
  }
  const all = [...staged.values()].flat();
  const outcomes = new Map<string, RecordOutcome>();
  for (const record of all) {
    // Never delivered, so there is nothing to delete.
    if (record.operation === 'delete' && record.destinationId === null)
      outcomes.set(record.key, { key: record.key, status: 'succeeded', destinationId: null });
  }
  for (const operation of ['upsert', 'delete'] as const) {
    const records = all.filter((r) => r.operation === operation && !outcomes.has(r.key));
    if (records.length === 0) continue;
    const slot: BulkJobSlot = { syncId, runNumber, firstBatch: group.first, lastBatch: group.last, operation };
    const known = await bulkJobFor(store, slot);
    let progress = { jobId: known?.job_id ?? null, state: known?.state ?? 'not created' };
    const show = () =>
      d.heartbeat({ operation, firstBatch: group.first, lastBatch: group.last, records: records.length, ...progress });
    show();
    let sent: RecordOutcome[];
    try {
      sent = await d.bulk.runJob({
        operation,
        records,
        resumeJobId: known?.job_id ?? null,
        jobCreated: (jobId) => recordBulkJob(store, { ...slot, jobId, records: records.length }),
        heartbeat: (next) => {
          if (next) progress = next;
          show();
        },
        sleep: d.sleep,
      });
    } catch (err) {
      // A cancelled run (its sync removed from the config, a cancel in the UI) stops its job too, so
      // Salesforce does not go on writing records whose outcomes nobody will record.
      if (err instanceof CancelledFailure && progress.jobId !== null) await abortJob(d.bulk, store, slot, progress);
      throw err;
    }
    if (sent.length !== records.length || sent.some((o, i) => o.key !== records[i]?.key)) {
      throw ApplicationFailure.create({
        type: 'DeliveryContractError',
        nonRetryable: true,
        message: `the bulk path of sync '${syncId}' returned ${sent.length} outcomes for ${records.length} records (or out of order); this is a bug in its connector`,
      });
    }
    await finishBulkJob(store, slot, progress.state);
    for (const outcome of await retryTransient(records, sent, d, attempt)) outcomes.set(outcome.key, outcome);
  }

  const counts = { succeeded: 0, failed: 0 };
  for (const batch of pending) {
    const part = staged.get(batch.batch_number) ?? [];
    const results = part.map((record) => toRecordResult(outcomes.get(record.key) as RecordOutcome, record));
    // Records the batch's counts and marks it delivered in one transaction.
    await store.recordBatchOutcomes({ syncId, runNumber, batchNumber: batch.batch_number, attempt, results });
    countDeliveredRecords(syncId, results);
    for (const r of results) counts[r.status === 'succeeded' ? 'succeeded' : 'failed']++;
  }
  return counts;
}

/**
 * Records the job failed with a passing reason (UNABLE_TO_LOCK_ROW) go again through the
 * destination's ordinary requests, with the in-run record retries deliverBatch uses; the rest keep
 * the job's outcome.
 */
async function retryTransient(
  records: StagedToDeliver[],
  sent: RecordOutcome[],
  d: GroupDelivery,
  attempt: number,
): Promise<RecordOutcome[]> {
  const transient = d.destination.transientRecordErrors;
  const again = records.filter((_, i) => {
    const o = sent[i];
    return o?.status === 'failed' && transient?.has(o.errorCode) === true;
  });
  if (again.length === 0) return sent;
  const retried = new Map<string, RecordOutcome>();
  const beat = () => d.heartbeat({ phase: `re-sending ${again.length} records the job found locked` });
  for (const part of chunks(again, d.destination.limits.batchSize)) {
    const outcomes = await deliverRetryingTransientRecords(
      part,
      (chunk: RecordToDeliver[]) =>
        d.destination.deliver(chunk, { syncId: d.syncId, attempt: Math.max(attempt, 2), heartbeat: beat }),
      {
        transientErrors: transient,
        policy: d.ctx.recordRetries ?? defaultRecordRetryPolicy,
        heartbeat: beat,
        sleep: d.sleep,
      },
    );
    for (const o of outcomes) retried.set(o.key, o);
  }
  return sent.map((o) => retried.get(o.key) ?? o);
}

const finishedStates = new Set(['JobComplete', 'Failed', 'Aborted']);

async function abortJob(
  bulk: BulkIngest,
  store: EngineContext['store'],
  slot: BulkJobSlot,
  job: { jobId: string | null; state: string },
): Promise<void> {
  if (job.jobId === null || finishedStates.has(job.state)) return;
  try {
    await bulk.abort(job.jobId);
    await finishBulkJob(store, slot, 'Aborted');
  } catch {
    // Finished meanwhile, or unreachable: the cancellation goes on either way, and the next run
    // sends the records whose outcomes were not recorded.
  }
}
