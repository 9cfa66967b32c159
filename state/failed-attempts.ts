/**
 * Which workflows have had an activity attempt fail, as the workers saw it (an activity interceptor,
 * workers/start-workers.ts). `ebb status` asks Temporal why a run waits or retries (a describe of
 * the run: its pending activities' last failures) only for the running runs listed here, so that
 * 500 syncs with 150 runs in flight cost one list call and a few describes, not 150 describes.
 * A row is a hint, never a verdict: the describe says whether the activity still fails.
 *
 *   await recordFailedAttempt(store, { workflowId: 'prod/sync/s1/run/4', syncId: 's1' });
 *   const worthAsking = await workflowsWithFailedAttempts(store, runningRunIds);
 */
import type { Kysely, Migration } from 'kysely';
import { chunks } from './chunks';
import type { StateStore } from './state-store';

export interface FailedAttemptsTable {
  workflow_id: string;
  sync_id: string;
  /** ISO time of the latest failed attempt of any of the workflow's activities. */
  failed_at: string;
}

/** Rows older than this are of runs long over; each record drops them. */
const KEEP_MS = 7 * 24 * 3_600_000;

type FailedAttemptsDb = Kysely<{ failed_attempts: FailedAttemptsTable }>;

export const failedAttemptsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('failed_attempts')
      .addColumn('workflow_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('sync_id', 'text', (c) => c.notNull())
      .addColumn('failed_at', 'text', (c) => c.notNull())
      .execute();
  },
};

const attemptsDb = (store: StateStore): FailedAttemptsDb => store.db as unknown as FailedAttemptsDb;

/** Notes that an activity of `workflowId` failed an attempt now; idempotent (the latest time wins). */
export async function recordFailedAttempt(
  store: StateStore,
  failure: { workflowId: string; syncId: string },
  now: Date = new Date(),
): Promise<void> {
  const db = attemptsDb(store);
  const at = now.toISOString();
  await db
    .insertInto('failed_attempts')
    .values({ workflow_id: failure.workflowId, sync_id: failure.syncId, failed_at: at })
    .onConflict((oc) => oc.column('workflow_id').doUpdateSet({ failed_at: at }))
    .execute();
  await db
    .deleteFrom('failed_attempts')
    .where('failed_at', '<', new Date(now.getTime() - KEEP_MS).toISOString())
    .execute();
}

/** The ones of `workflowIds` with a failed attempt on record. */
export async function workflowsWithFailedAttempts(
  store: StateStore,
  workflowIds: readonly string[],
): Promise<Set<string>> {
  if (workflowIds.length === 0) return new Set();
  const db = attemptsDb(store);
  const found = new Set<string>();
  // Bounded IN lists: SQLite allows 32,766 parameters, but a few hundred per query stay cheap everywhere.
  for (const part of chunks(workflowIds, 500)) {
    const rows = await db
      .selectFrom('failed_attempts')
      .select('workflow_id')
      .where('workflow_id', 'in', part)
      .execute();
    for (const row of rows) found.add(row.workflow_id);
  }
  return found;
}
