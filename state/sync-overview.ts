/**
 * What the state store knows about every sync at once, for `ebb status`: a handful of queries
 * whatever the number of syncs, instead of one controller query per sync (which needs a worker).
 */
import type { Run, StateStore } from './state-store';

export interface StoredSyncOverview {
  /** The sync's latest run, finished or not. */
  latest: Run | null;
  /** When its last run that delivered (not stopped, not every record failed) finished. */
  lastSuccessAt: string | null;
  cursor: string | null;
}

export interface StoredBatchProgress {
  batchesTotal: number;
  batchesDone: number;
  succeeded: number;
  failed: number;
}

export async function storedSyncOverview(
  store: StateStore,
  syncIds: readonly string[],
): Promise<Map<string, StoredSyncOverview>> {
  const out = new Map<string, StoredSyncOverview>(
    syncIds.map((id) => [id, { latest: null, lastSuccessAt: null, cursor: null }]),
  );
  const latest = await store.db
    .selectFrom('runs as r')
    .selectAll('r')
    .where((eb) =>
      eb(
        'r.run_number',
        '=',
        eb
          .selectFrom('runs as r2')
          .select((e) => e.fn.max('r2.run_number').as('m'))
          .whereRef('r2.sync_id', '=', 'r.sync_id'),
      ),
    )
    .execute();
  for (const run of latest) {
    const entry = out.get(run.sync_id);
    if (entry) entry.latest = run;
  }
  const successes = await store.db
    .selectFrom('runs')
    .select(['sync_id', (e) => e.fn.max('finished_at').as('at')])
    .where('status', '=', 'succeeded')
    .where((eb) => eb.or([eb('succeeded', '>', 0), eb('failed', '=', 0)]))
    .groupBy('sync_id')
    .execute();
  for (const row of successes) {
    const entry = out.get(row.sync_id);
    if (entry) entry.lastSuccessAt = row.at;
  }
  const cursors = await store.db.selectFrom('cursors').select(['sync_id', 'value']).execute();
  for (const row of cursors) {
    const entry = out.get(row.sync_id);
    if (entry) entry.cursor = row.value;
  }
  return out;
}

/** A running run's batches delivered so far, as the deliveries recorded them. */
export async function storedBatchProgress(
  store: StateStore,
  syncId: string,
  runNumber: number,
): Promise<StoredBatchProgress> {
  const row = await store.db
    .selectFrom('batches')
    .select((e) => [
      e.fn.countAll<number>().as('total'),
      e.fn.count<number>('delivered_at').as('done'),
      e.fn.coalesce(e.fn.sum<number>('succeeded'), e.lit(0)).as('succeeded'),
      e.fn.coalesce(e.fn.sum<number>('failed'), e.lit(0)).as('failed'),
    ])
    .where('sync_id', '=', syncId)
    .where('run_number', '=', runNumber)
    .executeTakeFirstOrThrow();
  return {
    batchesTotal: Number(row.total),
    batchesDone: Number(row.done),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
  };
}
