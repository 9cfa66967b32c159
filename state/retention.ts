/**
 * A bounded state store: how long per-record results are kept, and giving back the space of what
 * was deleted. Runs' summary rows (`ebb runs`) stay forever; they are a few hundred bytes each.
 *
 * A run keeps every per-record result while all of these hold:
 *   - it is among its sync's latest `state.retention.runs` runs, and started at most `days` ago;
 *   - counting from the latest run back, the results kept so far number no more than
 *     `resultsPerRecord` (default 1) times the records the sync holds as delivered (its snapshots).
 *     A full resync therefore pushes the one before it out, while a long tail of small incremental
 *     runs stays: the store is bounded by the model's size, not by the number of runs.
 * A run inside the runs/days window but past that size bound keeps its failed results only
 * (`ebb records --failed --run N`, `ebb replay --run N`). The latest run, the latest finished run
 * and the latest run with failures (what `ebb replay` re-sends) keep everything, whatever the setting.
 *
 *   const report = await pruneSync(store, 'accounts-to-sf', config.state.retention);
 *   await reclaimSpace(store);
 */
import fs from 'node:fs';
import { sql } from 'kysely';
import { yieldToEventLoop, type StateStore } from './state-store';

export interface RetentionPolicy {
  /** Per-record results of at most each sync's latest N runs. */
  runs: number;
  /** No per-record results of a run started more than D days ago. */
  days: number;
  /** Accepted results kept, from the latest run back, per record the sync holds as delivered. */
  resultsPerRecord: number;
}

/** What a run keeps of its per-record results, and why. */
export type Keep = 'all' | 'failed' | 'none';
export type KeepReason =
  | 'in-flight'
  | 'latest'
  | 'latest-finished'
  | 'latest-with-failures'
  | 'within-retention'
  | 'records'
  | 'runs'
  | 'days';

export interface RunRetention {
  runNumber: number;
  keep: Keep;
  reason: KeepReason;
}

interface RunRow {
  run_number: number;
  status: string;
  started_at: string;
  succeeded: number;
  failed: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const IN_FLIGHT = new Set(['planning', 'delivering']);

/**
 * Decides what each run keeps (pure: the same runs, snapshot count and time give the same answer,
 * so a re-executed prune deletes nothing more). `runs` in any order; the answer is newest first.
 */
export function decideRetention(
  runs: readonly RunRow[],
  delivered: number,
  policy: RetentionPolicy,
  now: Date,
): RunRetention[] {
  const newestFirst = [...runs].sort((a, b) => b.run_number - a.run_number);
  const latestFinished = newestFirst.find((r) => !IN_FLIGHT.has(r.status))?.run_number;
  const latestWithFailures = newestFirst.find((r) => !IN_FLIGHT.has(r.status) && r.failed > 0)?.run_number;
  const oldestStart = new Date(now.getTime() - policy.days * DAY_MS).toISOString();
  let kept = 0;
  let overBudget = false;
  return newestFirst.map((run, index): RunRetention => {
    const results = run.succeeded + run.failed;
    const protectedBy: KeepReason | null = IN_FLIGHT.has(run.status)
      ? 'in-flight'
      : index === 0
        ? 'latest'
        : run.run_number === latestFinished
          ? 'latest-finished'
          : run.run_number === latestWithFailures
            ? 'latest-with-failures'
            : null;
    const decide = (keep: Keep, reason: KeepReason): RunRetention => ({ runNumber: run.run_number, keep, reason });
    if (protectedBy) {
      if (protectedBy !== 'in-flight') kept += results;
      return decide('all', protectedBy);
    }
    if (index >= policy.runs) return decide('none', 'runs');
    // ISO-8601 UTC strings order as the instants they name.
    if (run.started_at < oldestStart) return decide('none', 'days');
    // Once one run does not fit, older ones do not either: what is kept is always the latest runs.
    if (overBudget || kept + results > delivered * policy.resultsPerRecord) {
      overBudget = true;
      return decide('failed', 'records');
    }
    kept += results;
    return decide('all', 'within-retention');
  });
}

export interface PruneReport {
  syncId: string;
  /** Runs whose results this prune removed (or would remove, in a dry run), wholly or all but the failed. */
  runsPruned: number;
  resultsDeleted: number;
  dryRun: boolean;
}

/** Bounded statement parameters, and a heartbeat between statements in long prunes. */
const RUNS_PER_STATEMENT = 500;

/**
 * Deletes the per-record results the policy no longer keeps for one sync (idempotent: a second call
 * finds nothing to delete). With `dryRun` it counts them instead.
 */
export async function pruneSync(
  store: StateStore,
  syncId: string,
  policy: RetentionPolicy,
  options: { dryRun?: boolean; now?: Date; onProgress?: () => void } = {},
): Promise<PruneReport> {
  const { db } = store;
  const runs = await db
    .selectFrom('runs')
    .select(['run_number', 'status', 'started_at', 'succeeded', 'failed'])
    .where('sync_id', '=', syncId)
    .execute();
  const decisions = decideRetention(runs, await store.countSnapshots(syncId), policy, options.now ?? new Date());
  let resultsDeleted = 0;
  const pruned = new Set<number>();
  for (const keep of ['none', 'failed'] as const) {
    const runNumbers = decisions.filter((d) => d.keep === keep).map((d) => d.runNumber);
    for (let i = 0; i < runNumbers.length; i += RUNS_PER_STATEMENT) {
      const slice = runNumbers.slice(i, i + RUNS_PER_STATEMENT);
      let counted = db
        .selectFrom('record_results')
        .select(['run_number', (eb) => eb.fn.countAll<number>().as('n')])
        .where('sync_id', '=', syncId)
        .where('run_number', 'in', slice);
      if (keep === 'failed') counted = counted.where('status', '=', 'succeeded');
      const counts = await counted.groupBy('run_number').execute();
      for (const row of counts) {
        resultsDeleted += Number(row.n);
        pruned.add(row.run_number);
      }
      if (!options.dryRun) {
        // In slices with the event loop running between them: a full run's million results at once
        // would stall the worker's heartbeats and workflow tasks.
        for (const c of counts) {
          await store.deleteRunRows('record_results', syncId, c.run_number, {
            onlyStatus: keep === 'failed' ? 'succeeded' : undefined,
            onProgress: options.onProgress,
          });
        }
      }
      if (!options.dryRun) {
        // A pruned run's batch rows (one per request, 5,000 for a million records) go too, except a
        // batch attempted without a recorded outcome: later runs read those (hasUnrecordedDeliveries).
        await db
          .deleteFrom('batches')
          .where('sync_id', '=', syncId)
          .where('run_number', 'in', slice)
          .where((eb) => eb.or([eb('attempts', '=', 0), eb('delivered_at', 'is not', null)]))
          .execute();
        await db
          .deleteFrom('bulk_jobs')
          .where('sync_id', '=', syncId)
          .where('run_number', 'in', slice)
          .where('finished_at', 'is not', null)
          .execute();
      }
      options.onProgress?.();
    }
  }
  return { syncId, runsPruned: pruned.size, resultsDeleted, dryRun: options.dryRun ?? false };
}

/**
 * Why a run's per-record results are (partly) gone, for `ebb records --run N`; null while it has
 * them all. A finished run counted its results when it ended, so fewer stored ones mean a prune.
 */
export async function prunedResultsNote(
  store: StateStore,
  syncId: string,
  runNumber: number,
  policy: RetentionPolicy,
): Promise<string | null> {
  const run = await store.getRun(syncId, runNumber);
  if (!run || IN_FLIGHT.has(run.status)) return null;
  const stored = await store.db
    .selectFrom('record_results')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('sync_id', '=', syncId)
    .where('run_number', '=', runNumber)
    .executeTakeFirst();
  const missing = run.succeeded + run.failed - Number(stored?.n ?? 0);
  if (missing <= 0) return null;
  const runs = await store.db
    .selectFrom('runs')
    .select(['run_number', 'status', 'started_at', 'succeeded', 'failed'])
    .where('sync_id', '=', syncId)
    .execute();
  const delivered = await store.countSnapshots(syncId);
  const reason = decideRetention(runs, delivered, policy, new Date()).find((d) => d.runNumber === runNumber)?.reason;
  const why =
    reason === 'runs'
      ? `state.retention.runs: ${policy.runs} keeps the results of each sync's latest ${policy.runs} runs`
      : reason === 'days'
        ? `state.retention.days: ${policy.days} keeps no results of runs started more than ${policy.days} days ago`
        : `state.retention.resultsPerRecord: ${policy.resultsPerRecord} keeps older runs' accepted results only while the results kept number at most ${policy.resultsPerRecord} per record the sync holds (${delivered}); failed records' results stay within state.retention.runs and days`;
  const kept = run.failed > 0 && reason === 'records' ? ` Its ${run.failed} failed records are kept (--failed).` : '';
  return `The per-record results of run ${runNumber} of ${syncId} were pruned by retention (${why}): ${missing} of ${run.succeeded + run.failed} are gone; \`ebb runs ${syncId}\` keeps its counts.${kept}`;
}

export interface StoreSize {
  backend: 'sqlite' | 'postgres';
  /** Database file (SQLite) or database (PostgreSQL) size. */
  bytes: number;
  /** SQLite: the write-ahead log beside the file. */
  walBytes: number;
  /** SQLite: pages inside the file that hold nothing (reused before the file grows). */
  freeBytes: number;
  /** SQLite: whether free pages can be given back without a full VACUUM (auto_vacuum = INCREMENTAL). */
  incrementalVacuum: boolean;
}

async function pragmaNumber(store: StateStore, name: string): Promise<number> {
  const { rows } = await sql<Record<string, number>>`pragma ${sql.raw(name)}`.execute(store.db);
  return Number(Object.values(rows[0] ?? {})[0] ?? 0);
}

async function sqliteFile(store: StateStore): Promise<string> {
  const { rows } = await sql<{ name: string; file: string }>`pragma database_list`.execute(store.db);
  return rows.find((r) => r.name === 'main')?.file ?? '';
}

export async function storeSize(store: StateStore): Promise<StoreSize> {
  if (store.backend === 'postgres') {
    const { rows } = await sql<{ bytes: string }>`select pg_database_size(current_database()) as bytes`.execute(
      store.db,
    );
    return {
      backend: 'postgres',
      bytes: Number(rows[0]?.bytes ?? 0),
      walBytes: 0,
      freeBytes: 0,
      incrementalVacuum: false,
    };
  }
  const file = await sqliteFile(store);
  const size = (f: string) => (f && fs.existsSync(f) ? fs.statSync(f).size : 0);
  const pageSize = await pragmaNumber(store, 'page_size');
  return {
    backend: 'sqlite',
    bytes: size(file),
    walBytes: size(`${file}-wal`),
    freeBytes: (await pragmaNumber(store, 'freelist_count')) * pageSize,
    incrementalVacuum: (await pragmaNumber(store, 'auto_vacuum')) === 2,
  };
}

/**
 * Pages given back per incremental_vacuum step (4 MB at SQLite's default page size): tens of
 * milliseconds, after which the event loop runs, so heartbeats and workflow tasks are not starved.
 */
const VACUUM_PAGES_PER_STEP = 1_000;

/**
 * SQLite: gives free pages back to the file system (stores made with auto_vacuum = INCREMENTAL) and
 * checkpoints the WAL. TRUNCATE empties the WAL file but waits for every reader and writer, so it is
 * used only when no run of any sync is in flight (started in the last day); otherwise PASSIVE
 * copies what it can without waiting, and the next idle finish truncates. PostgreSQL: nothing to do, autovacuum reclaims space.
 */
export async function reclaimSpace(store: StateStore, options: { onProgress?: () => void } = {}): Promise<void> {
  if (store.backend !== 'sqlite') return;
  if ((await pragmaNumber(store, 'auto_vacuum')) === 2) {
    let free = await pragmaNumber(store, 'freelist_count');
    while (free > 0) {
      free = await store.incrementalVacuum(VACUUM_PAGES_PER_STEP);
      options.onProgress?.();
      await yieldToEventLoop();
    }
  }
  // A run whose workflow was terminated stays 'delivering' for ever; past a day it no longer counts.
  const inFlight = await store.db
    .selectFrom('runs')
    .select('run_number')
    .where('status', 'in', [...IN_FLIGHT] as Array<'planning' | 'delivering'>)
    .where('started_at', '>', new Date(Date.now() - DAY_MS).toISOString())
    .limit(1)
    .executeTakeFirst();
  await sql`pragma wal_checkpoint(${sql.raw(inFlight ? 'PASSIVE' : 'TRUNCATE')})`.execute(store.db);
}

/**
 * SQLite: rewrites the whole file (VACUUM) with auto_vacuum = INCREMENTAL, so a store made before
 * ebb set it gives free pages back from then on. Takes about as long as copying the file, and needs
 * as much free disk again; writers wait meanwhile. PostgreSQL: not needed (autovacuum).
 */
export async function vacuumStore(store: StateStore): Promise<void> {
  if (store.backend !== 'sqlite') return;
  await sql`pragma auto_vacuum = INCREMENTAL`.execute(store.db);
  await sql`vacuum`.execute(store.db);
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db);
}

/** After a run finishes: prune its sync's old results, then give the space back. */
export async function pruneAfterRun(
  store: StateStore,
  syncId: string,
  policy: RetentionPolicy,
  onProgress?: () => void,
): Promise<void> {
  await pruneSync(store, syncId, policy, { onProgress });
  await reclaimSpace(store, { onProgress });
}
