/**
 * The Bulk API 2.0 jobs of a run (table bulk_jobs, migration 0006): a job's id is recorded before
 * its records are uploaded, so a delivery attempt after a worker crash finds it and polls the same
 * job rather than creating another. Keyed by run, first batch and operation; `last_batch` says which
 * batches the job holds, so a job recorded for another grouping of batches is never resumed.
 *
 *   const job = await bulkJobFor(store, { syncId, runNumber, firstBatch: 1, lastBatch: 25, operation: 'upsert' });
 *   // null: no job yet, create one and recordBulkJob(...) before uploading
 */
import type { Selectable } from 'kysely';
import type { StateStore } from './state-store';
import type { BulkJobsTable } from './tables';

export type BulkJob = Selectable<BulkJobsTable>;

export interface BulkJobSlot {
  syncId: string;
  runNumber: number;
  firstBatch: number;
  lastBatch: number;
  operation: 'upsert' | 'delete';
}

/** The job recorded for exactly these batches and operation, if any. */
export async function bulkJobFor(store: StateStore, slot: BulkJobSlot): Promise<BulkJob | null> {
  const row = await store.db
    .selectFrom('bulk_jobs')
    .selectAll()
    .where('sync_id', '=', slot.syncId)
    .where('run_number', '=', slot.runNumber)
    .where('first_batch', '=', slot.firstBatch)
    .where('operation', '=', slot.operation)
    .executeTakeFirst();
  return row && row.last_batch === slot.lastBatch ? row : null;
}

/** Records a newly created job (replacing a job recorded earlier for the same slot, now abandoned). */
export async function recordBulkJob(
  store: StateStore,
  slot: BulkJobSlot & { jobId: string; records: number },
): Promise<void> {
  const row = {
    sync_id: slot.syncId,
    run_number: slot.runNumber,
    first_batch: slot.firstBatch,
    operation: slot.operation,
    last_batch: slot.lastBatch,
    job_id: slot.jobId,
    state: 'Open',
    records: slot.records,
    created_at: new Date().toISOString(),
    finished_at: null,
  };
  await store.db
    .insertInto('bulk_jobs')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['sync_id', 'run_number', 'first_batch', 'operation']).doUpdateSet({
        last_batch: row.last_batch,
        job_id: row.job_id,
        state: row.state,
        records: row.records,
        created_at: row.created_at,
        finished_at: null,
      }),
    )
    .execute();
}

/** The job's final state, once its results are read. */
export async function finishBulkJob(store: StateStore, slot: BulkJobSlot, state: string): Promise<void> {
  await store.db
    .updateTable('bulk_jobs')
    .set({ state, finished_at: new Date().toISOString() })
    .where('sync_id', '=', slot.syncId)
    .where('run_number', '=', slot.runNumber)
    .where('first_batch', '=', slot.firstBatch)
    .where('operation', '=', slot.operation)
    .execute();
}

/** Every job of a run, in batch order (`ebb runs` and tests). */
export async function bulkJobsOfRun(store: StateStore, syncId: string, runNumber: number): Promise<BulkJob[]> {
  return store.db
    .selectFrom('bulk_jobs')
    .selectAll()
    .where('sync_id', '=', syncId)
    .where('run_number', '=', runNumber)
    .orderBy('first_batch')
    .orderBy('operation')
    .execute();
}
