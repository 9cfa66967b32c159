/**
 * ebb's state: runs, staged batches, per-key snapshots, cursors and per-record results.
 * One query layer (kysely) over SQLite (default, embedded) and PostgreSQL (shared by many workers).
 *
 *   const store = await openStateStore({ path: '.ebb/state.sqlite' });
 *   await store.createRun({ syncId, runNumber: 1, kind: 'incremental' });
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Insertable, type Selectable } from 'kysely';
import type * as Pg from 'pg';
import type { Pool } from 'pg';
import { chunks } from './chunks';
import { migrationProvider } from './migrations';
import { SqliteBulk } from './sqlite-bulk';
import { cachingStatements } from './sqlite-statements';
import type { RecordStatus, RunKind, RunStatus, RunsTable, StagedRecordsTable, StateTables } from './tables';

export type StateStoreConfig = { path: string } | { url: string };

export interface StagedRecord {
  key: string;
  operation: 'upsert' | 'delete';
  hash: string;
  payload: Record<string, unknown>;
  destinationId: string | null;
  cursorValue: string | null;
  /** Warehouse-side diff: the warehouse's hash of the model row, saved there once the record is accepted. */
  rowHash?: string | null;
  /** Per-field hashes of the whole payload (activities/changed-fields.ts), kept in the snapshot once accepted. */
  fieldHashes?: string | null;
}

/** Where a staged record sits: its batch and its place in the batch. */
export interface StagedPosition {
  batch: number;
  position: number;
}

export interface RecordResult {
  key: string;
  operation: 'upsert' | 'delete';
  status: RecordStatus;
  destinationId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

export interface StoredRecordResult extends RecordResult {
  syncId: string;
  runNumber: number;
  attempt: number;
  at: string;
}

export type Run = Selectable<RunsTable>;

export interface PlanCounts {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  invalid: number;
  batches: number;
  cursorFrom: string | null;
  cursorTo: string | null;
}

export class StateStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateStoreError';
  }
}

const now = (): string => new Date().toISOString();

/** Rows a slice of a long delete removes before the event loop gets a turn. */
const DELETE_SLICE = 10_000;

/** Lets timers and I/O run: awaiting a better-sqlite3 query only yields to microtasks. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/* eslint-disable @typescript-eslint/no-require-imports -- a store loads only its own driver */
const pg = () => require('pg') as typeof Pg;
const betterSqlite3 = () => require('better-sqlite3') as typeof Database;
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * An idle connection the server drops (a restart, an admin's pg_terminate_backend, an idle timeout)
 * is reported on the pool; without a listener that error would crash the worker. The pool discards
 * the connection and the next query opens a new one.
 */

function statePool(url: string): Pool {
  const pool = new (pg().Pool)({ connectionString: url, max: 5 });
  pool.on('error', () => undefined);
  return pool;
}

export async function openStateStore(config: StateStoreConfig): Promise<StateStore> {
  let db: Kysely<StateTables>;
  let sqliteHandle: Database.Database | undefined;
  if ('url' in config) {
    db = new Kysely<StateTables>({
      dialect: new PostgresDialect({ pool: statePool(config.url) }),
    });
  } else {
    fs.mkdirSync(path.dirname(path.resolve(config.path)), { recursive: true });
    const sqlite = new (betterSqlite3())(config.path);
    // Only a new file takes this (before its first table): free pages can then go back to the file
    // system after a prune (state/retention.ts); an older store needs `ebb prune --vacuum` once.
    sqlite.pragma('auto_vacuum = INCREMENTAL');
    // WAL lets the CLI read while a worker writes; busy_timeout rides out short write locks between processes.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('synchronous = NORMAL');
    db = new Kysely<StateTables>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
    sqliteHandle = sqlite;
  }
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    const where = 'url' in config ? 'the PostgreSQL state store' : `the state store at ${config.path}`;
    throw new StateStoreError(
      `Could not migrate ${where}${failed ? ` (migration ${failed.migrationName})` : ''}: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
  return new StateStore(db, 'url' in config ? 'postgres' : 'sqlite', sqliteHandle);
}

export class StateStore {
  /** Upkeep (pruning, giving space back) queued after runs, one task at a time. */
  private upkeep: Promise<void> = Promise.resolve();

  constructor(
    readonly db: Kysely<StateTables>,
    /** SQLite-only upkeep (WAL checkpoints, vacuum) checks this. */
    readonly backend: 'sqlite' | 'postgres',
    sqlite?: Database.Database,
  ) {
    this.bulk = sqlite ? new SqliteBulk(sqlite) : null;
  }

  /** SQLite: per-record writes through prepared statements (sqlite-bulk.ts); null on PostgreSQL. */
  private readonly bulk: SqliteBulk | null;

  /** Runs synchronous better-sqlite3 work while holding kysely's connection, so no kysely transaction interleaves. */
  private async withSqlite(work: (bulk: SqliteBulk) => void): Promise<boolean> {
    const bulk = this.bulk;
    if (!bulk) return false;
    await this.db.connection().execute(async () => work(bulk));
    return true;
  }

  /** SQLite: gives up to `pages` free pages back; the free pages left (0 on PostgreSQL). */
  async incrementalVacuum(pages: number): Promise<number> {
    let left = 0;
    await this.withSqlite((bulk) => {
      left = bulk.incrementalVacuum(pages);
    });
    return left;
  }

  /**
   * Runs `task` after the upkeep queued before it, without the caller waiting: a run's finish does
   * not wait for seconds of pruning and vacuuming that change nothing it reports. A failed or lost
   * task (the worker stopped) is redone by the next run's upkeep or `ebb prune`, as every task is
   * idempotent.
   */
  queueUpkeep(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.upkeep = this.upkeep.then(task).catch(onError);
  }

  /** Resolves once the upkeep queued so far is done (tests, and `close`). */
  upkeepSettled(): Promise<void> {
    return this.upkeep;
  }

  async close(): Promise<void> {
    await this.upkeep;
    await this.db.destroy();
  }

  // ---- runs -------------------------------------------------------------------------------

  /** Allocates the next run number for a sync and records the run; the controller calls it once per run. */
  async allocateRun(input: {
    syncId: string;
    kind: RunKind;
    replayOfRun?: number | null;
    requestId: string;
  }): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      // A re-executed allocation (same request) finds its run instead of making a second one.
      const existing = await trx
        .selectFrom('runs')
        .select('run_number')
        .where('sync_id', '=', input.syncId)
        .where('request_id', '=', input.requestId)
        .executeTakeFirst();
      if (existing) return existing.run_number;
      const last = await trx
        .selectFrom('runs')
        .select((eb) => eb.fn.max('run_number').as('max'))
        .where('sync_id', '=', input.syncId)
        .executeTakeFirst();
      const runNumber = Number(last?.max ?? 0) + 1;
      await trx
        .insertInto('runs')
        .values({
          sync_id: input.syncId,
          run_number: runNumber,
          kind: input.kind,
          replay_of_run: input.replayOfRun ?? null,
          status: 'planning',
          started_at: now(),
          finished_at: null,
          cursor_from: null,
          cursor_to: null,
          request_id: input.requestId,
          error_message: null,
          error_detail: null,
        })
        .execute();
      return runNumber;
    });
  }

  async getRun(syncId: string, runNumber: number): Promise<Run | undefined> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .executeTakeFirst();
  }

  async latestRun(syncId: string, filter?: { withFailures?: boolean }): Promise<Run | undefined> {
    let q = this.db.selectFrom('runs').selectAll().where('sync_id', '=', syncId);
    if (filter?.withFailures) q = q.where('failed', '>', 0);
    return q.orderBy('run_number', 'desc').limit(1).executeTakeFirst();
  }

  async listRuns(syncId: string, limit = 20): Promise<Run[]> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('sync_id', '=', syncId)
      .orderBy('run_number', 'desc')
      .limit(limit)
      .execute();
  }

  async setRunPlanned(syncId: string, runNumber: number, counts: PlanCounts): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({
        status: 'delivering',
        added: counts.added,
        changed: counts.changed,
        removed: counts.removed,
        unchanged: counts.unchanged,
        invalid: counts.invalid,
        batches: counts.batches,
        cursor_from: counts.cursorFrom,
        cursor_to: counts.cursorTo,
      })
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .execute();
  }

  /** Closes a run: counts come from the stored per-record results, so a re-executed finish writes the same. */
  async finishRun(syncId: string, runNumber: number, status: RunStatus, errorMessage: string | null): Promise<Run> {
    await this.db.transaction().execute(async (trx) => {
      const counts = await trx
        .selectFrom('record_results')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .groupBy('status')
        .execute();
      const calls = await trx
        .selectFrom('batches')
        .select((eb) => eb.fn.sum<number>('api_calls').as('n'))
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .executeTakeFirst();
      const planned = await trx
        .selectFrom('runs')
        .select('plan_api_calls')
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .executeTakeFirst();
      const count = (s: RecordStatus) => Number(counts.find((c) => c.status === s)?.n ?? 0);
      await trx
        .updateTable('runs')
        .set({
          status,
          finished_at: now(),
          succeeded: count('succeeded'),
          failed: count('failed'),
          api_calls: Number(planned?.plan_api_calls ?? 0) + Number(calls?.n ?? 0),
          error_message: errorMessage,
        })
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .execute();
    });
    // Staged payloads are copies of warehouse rows: dropped once the run is over, a slice at a time.
    await this.deleteRunRows('staged_records', syncId, runNumber);
    await this.deleteRunRows('seen_keys', syncId, runNumber);
    const run = await this.getRun(syncId, runNumber);
    if (!run) throw new StateStoreError(`Run ${runNumber} of sync '${syncId}' does not exist`);
    return run;
  }

  /**
   * Deletes a run's rows of a per-key table in slices, letting the event loop run between them:
   * better-sqlite3 works synchronously, and one statement deleting a million staged rows would stall
   * the worker's Temporal heartbeats and workflow tasks for seconds. Idempotent.
   */
  async deleteRunRows(
    table: 'staged_records' | 'seen_keys' | 'record_results',
    syncId: string,
    runNumber: number,
    options: { onlyStatus?: RecordStatus; onProgress?: () => void } = {},
  ): Promise<number> {
    let deleted = 0;
    if (table === 'staged_records') {
      // Staged rows are keyed by batch and position (no key index): sliced by batch ranges.
      for (;;) {
        const first = await this.db
          .selectFrom('staged_records')
          .select('batch_number')
          .where('sync_id', '=', syncId)
          .where('run_number', '=', runNumber)
          .orderBy('batch_number')
          .limit(1)
          .executeTakeFirst();
        if (!first) return deleted;
        const result = await this.db
          .deleteFrom('staged_records')
          .where('sync_id', '=', syncId)
          .where('run_number', '=', runNumber)
          .where('batch_number', '<', first.batch_number + Math.max(1, Math.floor(DELETE_SLICE / 2000)))
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
        options.onProgress?.();
        await yieldToEventLoop();
      }
    }
    for (;;) {
      let slice = this.db
        .selectFrom(table)
        .select('key')
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber);
      if (options.onlyStatus !== undefined && table === 'record_results')
        slice = slice.where('status' as never, '=', options.onlyStatus as never);
      const keys = (await slice.limit(DELETE_SLICE).execute()).map((r) => r.key);
      if (!keys.length) return deleted;
      for (const part of chunks(keys, 500)) {
        const result = await this.db
          .deleteFrom(table)
          .where('sync_id', '=', syncId)
          .where('run_number', '=', runNumber)
          .where('key', 'in', part)
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      options.onProgress?.();
      await yieldToEventLoop();
    }
  }

  /** Keeps an error's full text (which may quote row values) with the run, out of workflow history. */
  async setRunErrorDetail(syncId: string, runNumber: number, detail: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ error_detail: detail })
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .execute();
  }

  // ---- staging ----------------------------------------------------------------------------

  /** Forgets what an earlier attempt of this run's plan staged, so a re-executed plan starts clean. */
  async clearPlan(syncId: string, runNumber: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const table of ['staged_records', 'batches', 'seen_keys', 'record_results', 'bulk_jobs'] as const) {
        await trx.deleteFrom(table).where('sync_id', '=', syncId).where('run_number', '=', runNumber).execute();
      }
    });
  }

  async stageBatch(
    syncId: string,
    runNumber: number,
    batchNumber: number,
    records: StagedRecord[],
    maybeSent = false,
  ): Promise<void> {
    const staged = await this.withSqlite((bulk) =>
      bulk.stageBatch(
        { syncId, runNumber, batchNumber, maybeSent },
        records.map((r) => ({
          key: r.key,
          operation: r.operation,
          hash: r.hash,
          payload: JSON.stringify(r.payload),
          destinationId: r.destinationId,
          cursorValue: r.cursorValue,
          rowHash: r.rowHash ?? null,
          fieldHashes: r.fieldHashes ?? null,
        })),
      ),
    );
    if (staged) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('batches')
        .values({
          sync_id: syncId,
          run_number: runNumber,
          batch_number: batchNumber,
          record_count: records.length,
          delivered_at: null,
          maybe_sent: maybeSent ? 1 : 0,
        })
        .execute();
      const rows: Insertable<StagedRecordsTable>[] = records.map((r, position) => ({
        sync_id: syncId,
        run_number: runNumber,
        batch_number: batchNumber,
        position,
        key: r.key,
        operation: r.operation,
        hash: r.hash,
        payload: JSON.stringify(r.payload),
        destination_id: r.destinationId,
        cursor_value: r.cursorValue,
        row_hash: r.rowHash ?? null,
        field_hashes: r.fieldHashes ?? null,
      }));
      for (let i = 0; i < rows.length; i += 100)
        await trx
          .insertInto('staged_records')
          .values(rows.slice(i, i + 100))
          .execute();
    });
  }

  async readBatch(syncId: string, runNumber: number, batchNumber: number): Promise<StagedRecord[]> {
    const rows = await this.db
      .selectFrom('staged_records')
      .selectAll()
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .orderBy('position')
      .execute();
    return rows.map((r) => ({
      key: r.key,
      operation: r.operation,
      hash: r.hash,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
      destinationId: r.destination_id,
      cursorValue: r.cursor_value,
      fieldHashes: r.field_hashes,
    }));
  }

  /** Counts of a batch whose outcomes are recorded; undefined while it is not delivered. */
  async batchOutcome(
    syncId: string,
    runNumber: number,
    batchNumber: number,
  ): Promise<{ succeeded: number; failed: number } | undefined> {
    const row = await this.db
      .selectFrom('batches')
      .select(['delivered_at', 'succeeded', 'failed'])
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .executeTakeFirst();
    return row?.delivered_at ? { succeeded: row.succeeded, failed: row.failed } : undefined;
  }

  /**
   * Counts one more delivery attempt of a batch and says whether its records may already have been
   * sent: by an earlier attempt of this batch, or by an earlier run whose outcome was never recorded.
   */
  async countBatchAttempt(
    syncId: string,
    runNumber: number,
    batchNumber: number,
  ): Promise<{ attempts: number; maybeSent: boolean }> {
    await this.db
      .updateTable('batches')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .execute();
    const row = await this.db
      .selectFrom('batches')
      .select(['attempts', 'maybe_sent'])
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .executeTakeFirstOrThrow();
    return { attempts: row.attempts, maybeSent: row.attempts > 1 || row.maybe_sent === 1 };
  }

  /** Adds the API requests one attempt of a run's plan made (a re-executed plan adds, never overwrites). */
  async countPlanApiCalls(syncId: string, runNumber: number, calls: number): Promise<void> {
    if (calls <= 0) return;
    await this.db
      .updateTable('runs')
      .set((eb) => ({ plan_api_calls: eb('plan_api_calls', '+', calls) }))
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .execute();
  }

  /** Adds the API requests one delivery attempt of a batch made (failed attempts spend budget too). */
  async countBatchApiCalls(syncId: string, runNumber: number, batchNumber: number, calls: number): Promise<void> {
    if (calls <= 0) return;
    await this.db
      .updateTable('batches')
      .set((eb) => ({ api_calls: eb('api_calls', '+', calls) }))
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .execute();
  }

  /** Whether an earlier run of the sync attempted a batch whose outcome was never recorded. */
  async hasUnrecordedDeliveries(syncId: string, beforeRun: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('batches')
      .select('batch_number')
      .where('sync_id', '=', syncId)
      .where('run_number', '<', beforeRun)
      .where('attempts', '>', 0)
      .where('delivered_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async markSeen(syncId: string, runNumber: number, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 200) {
      const values = keys.slice(i, i + 200).map((key) => ({ sync_id: syncId, run_number: runNumber, key }));
      if (values.length)
        await this.db
          .insertInto('seen_keys')
          .values(values)
          .onConflict((oc) => oc.doNothing())
          .execute();
    }
  }

  /** Snapshots whose key this run has not seen in the model (mirror mode: the records to delete). */
  private unseen(syncId: string, runNumber: number) {
    return this.db
      .selectFrom('snapshots as s')
      .where('s.sync_id', '=', syncId)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('seen_keys as k')
              .select('k.key')
              .whereRef('k.key', '=', 's.key')
              .where('k.sync_id', '=', syncId)
              .where('k.run_number', '=', runNumber),
          ),
        ),
      );
  }

  /** Snapshot keys the model no longer has (mirror mode), in key order, a page at a time. */
  async unseenSnapshots(syncId: string, runNumber: number, afterKey: string | null, limit: number) {
    let q = this.unseen(syncId, runNumber).select(['s.key', 's.hash', 's.destination_id']);
    if (afterKey !== null) q = q.where('s.key', '>', afterKey);
    return q.orderBy('s.key').limit(limit).execute();
  }

  /** How many snapshot keys the model no longer has: counted before any of them is staged (deletion guard). */
  async countUnseenSnapshots(syncId: string, runNumber: number): Promise<number> {
    const row = await this.unseen(syncId, runNumber)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  // ---- snapshots and results --------------------------------------------------------------

  async snapshotsFor(
    syncId: string,
    keys: string[],
  ): Promise<Map<string, { hash: string; destinationId: string | null; fieldHashes: string | null }>> {
    const out = new Map<string, { hash: string; destinationId: string | null; fieldHashes: string | null }>();
    for (let i = 0; i < keys.length; i += 500) {
      const slice = keys.slice(i, i + 500);
      if (!slice.length) continue;
      const rows = await this.db
        .selectFrom('snapshots')
        .select(['key', 'hash', 'destination_id', 'field_hashes'])
        .where('sync_id', '=', syncId)
        .where('key', 'in', slice)
        .execute();
      for (const r of rows)
        out.set(r.key, { hash: r.hash, destinationId: r.destination_id, fieldHashes: r.field_hashes });
    }
    return out;
  }

  /** How many records the sync holds as delivered (the base of a percentage `maxDeletes`). */
  async countSnapshots(syncId: string): Promise<number> {
    const row = await this.db
      .selectFrom('snapshots')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sync_id', '=', syncId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Whether any record of the sync was ever accepted. */
  async hasSnapshots(syncId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('snapshots')
      .select('key')
      .where('sync_id', '=', syncId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Warehouse-side diff: the staged records of a run that the destination accepted, with the
   * warehouse's row hash, in staging order after `after` (keyset pages on the primary key's order,
   * so each page is an index range however large the run).
   */
  async acceptedRowHashes(
    syncId: string,
    runNumber: number,
    after: StagedPosition | null,
    limit: number,
  ): Promise<Array<{ key: string; operation: 'upsert' | 'delete'; rowHash: string; position: StagedPosition }>> {
    let query = this.db
      .selectFrom('staged_records as s')
      .innerJoin('record_results as r', (join) =>
        join
          .onRef('r.sync_id', '=', 's.sync_id')
          .onRef('r.run_number', '=', 's.run_number')
          .onRef('r.key', '=', 's.key'),
      )
      .select(['s.key', 's.operation', 's.row_hash', 's.batch_number', 's.position'])
      .where('s.sync_id', '=', syncId)
      .where('s.run_number', '=', runNumber)
      .where('s.row_hash', 'is not', null)
      .where('r.status', '=', 'succeeded');
    if (after !== null) {
      query = query.where((eb) =>
        eb.or([
          eb('s.batch_number', '>', after.batch),
          eb.and([eb('s.batch_number', '=', after.batch), eb('s.position', '>', after.position)]),
        ]),
      );
    }
    const rows = await query.orderBy('s.batch_number').orderBy('s.position').limit(limit).execute();
    return rows.map((r) => ({
      key: r.key,
      operation: r.operation,
      rowHash: r.row_hash as string,
      position: { batch: r.batch_number, position: r.position },
    }));
  }

  async forgetSnapshots(syncId: string): Promise<void> {
    await this.db.deleteFrom('snapshots').where('sync_id', '=', syncId).execute();
  }

  /**
   * Records outcomes in one transaction: the per-record results, the snapshot of every accepted
   * record (so only accepted records count as delivered) and, given a batch number, the batch as
   * delivered. Multi-row statements: a request's 200 outcomes are a handful of statements, not 400.
   */
  async recordBatchOutcomes(input: {
    syncId: string;
    runNumber: number;
    batchNumber: number | null;
    attempt: number;
    /** `fieldHashes`: the accepted payload's per-field hashes for its snapshot (changed-fields.ts). */
    results: Array<RecordResult & { hash: string | null; fieldHashes?: string | null }>;
  }): Promise<void> {
    const at = now();
    const { syncId, runNumber } = input;
    // One row per key: a statement's ON CONFLICT may touch a row once (PostgreSQL enforces it).
    const results = [...new Map(input.results.map((r) => [r.key, r])).values()];
    const accepted = results.filter((r) => r.status === 'succeeded');
    const deleted = accepted.filter((r) => r.operation === 'delete').map((r) => r.key);
    const upserted = accepted.filter((r) => r.operation !== 'delete' && r.hash !== null);
    const recorded = await this.withSqlite((bulk) =>
      bulk.recordOutcomes({ syncId, runNumber, batchNumber: input.batchNumber, attempt: input.attempt, at }, results, {
        succeeded: accepted.length,
        failed: results.length - accepted.length,
      }),
    );
    // After a refused write ebb cannot tell what the destination holds (the record may have been
    // deleted there, so a changed-fields-only upsert would try to create it with too few fields):
    // the record's next delivery sends every field. Idempotent, so a re-run activity may repeat it.
    const refused = results.filter((r) => r.status === 'failed' && r.operation !== 'delete').map((r) => r.key);
    for (const keys of chunks(refused, 500)) {
      await this.db
        .updateTable('snapshots')
        .set({ field_hashes: null })
        .where('sync_id', '=', syncId)
        .where('key', 'in', keys)
        .execute();
    }
    if (recorded) return;
    await this.db.transaction().execute(async (trx) => {
      for (const part of chunks(results, 100)) {
        await trx
          .insertInto('record_results')
          .values(
            part.map((r) => ({
              sync_id: syncId,
              run_number: runNumber,
              key: r.key,
              operation: r.operation,
              status: r.status,
              destination_id: r.destinationId,
              error_code: r.errorCode,
              error_message: r.errorMessage,
              attempt: input.attempt,
              at,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['sync_id', 'run_number', 'key']).doUpdateSet((eb) => ({
              operation: eb.ref('excluded.operation'),
              status: eb.ref('excluded.status'),
              destination_id: eb.ref('excluded.destination_id'),
              error_code: eb.ref('excluded.error_code'),
              error_message: eb.ref('excluded.error_message'),
              attempt: eb.ref('excluded.attempt'),
              at: eb.ref('excluded.at'),
            })),
          )
          .execute();
      }
      for (const keys of chunks(deleted, 500)) {
        await trx.deleteFrom('snapshots').where('sync_id', '=', syncId).where('key', 'in', keys).execute();
      }
      for (const part of chunks(upserted, 150)) {
        await trx
          .insertInto('snapshots')
          .values(
            part.map((r) => ({
              sync_id: syncId,
              key: r.key,
              hash: r.hash as string,
              destination_id: r.destinationId,
              updated_at: at,
              field_hashes: r.fieldHashes ?? null,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['sync_id', 'key']).doUpdateSet((eb) => ({
              hash: eb.ref('excluded.hash'),
              destination_id: eb.ref('excluded.destination_id'),
              updated_at: eb.ref('excluded.updated_at'),
              field_hashes: eb.ref('excluded.field_hashes'),
            })),
          )
          .execute();
      }
      if (input.batchNumber !== null) {
        await trx
          .updateTable('batches')
          .set({ delivered_at: at, succeeded: accepted.length, failed: results.length - accepted.length })
          .where('sync_id', '=', syncId)
          .where('run_number', '=', runNumber)
          .where('batch_number', '=', input.batchNumber)
          .execute();
      }
    });
  }

  /** Marks a batch delivered with its counts, once all its records' outcomes are recorded. */
  async markBatchDelivered(
    syncId: string,
    runNumber: number,
    batchNumber: number,
    counts: { succeeded: number; failed: number },
  ): Promise<void> {
    await this.db
      .updateTable('batches')
      .set({ delivered_at: now(), succeeded: counts.succeeded, failed: counts.failed })
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('batch_number', '=', batchNumber)
      .execute();
  }

  /** The outcomes this run already recorded for some of `keys` (a delivery re-executed mid-way skips them). */
  async recordedStatuses(syncId: string, runNumber: number, keys: string[]): Promise<Map<string, RecordStatus>> {
    const out = new Map<string, RecordStatus>();
    for (const slice of chunks(keys, 500)) {
      const rows = await this.db
        .selectFrom('record_results')
        .select(['key', 'status'])
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .where('key', 'in', slice)
        .execute();
      for (const r of rows) out.set(r.key, r.status);
    }
    return out;
  }

  async listRecordResults(
    syncId: string,
    filter: { runNumber?: number; failedOnly?: boolean; limit?: number } = {},
  ): Promise<StoredRecordResult[]> {
    let q = this.db.selectFrom('record_results').selectAll().where('sync_id', '=', syncId);
    if (filter.runNumber !== undefined) q = q.where('run_number', '=', filter.runNumber);
    if (filter.failedOnly) q = q.where('status', '=', 'failed');
    const rows = await q
      .orderBy('run_number', 'desc')
      .orderBy('key')
      .limit(filter.limit ?? 1000)
      .execute();
    return rows.map((r) => ({
      syncId: r.sync_id,
      runNumber: r.run_number,
      key: r.key,
      operation: r.operation,
      status: r.status,
      destinationId: r.destination_id,
      errorCode: r.error_code,
      errorMessage: r.error_message,
      attempt: r.attempt,
      at: r.at,
    }));
  }

  /** Records of a run the destination accepted, by operation: a delete is reported as deleted, not upserted. */
  async acceptedByOperation(syncId: string, runNumber: number): Promise<{ upserted: number; deleted: number }> {
    const rows = await this.db
      .selectFrom('record_results')
      .select(['operation', (eb) => eb.fn.countAll<number>().as('n')])
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('status', '=', 'succeeded')
      .groupBy('operation')
      .execute();
    const count = (op: string) => Number(rows.find((r) => r.operation === op)?.n ?? 0);
    return { upserted: count('upsert'), deleted: count('delete') };
  }

  /** Which of `keys` failed in run `runNumber` (replay sends only those). */
  async failedKeysAmong(syncId: string, runNumber: number, keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < keys.length; i += 500) {
      const slice = keys.slice(i, i + 500);
      if (!slice.length) continue;
      const rows = await this.db
        .selectFrom('record_results')
        .select('key')
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .where('status', '=', 'failed')
        .where('key', 'in', slice)
        .execute();
      for (const r of rows) out.add(r.key);
    }
    return out;
  }

  // ---- cursors ----------------------------------------------------------------------------

  /** A fact about the store itself (store_facts), or undefined when none was recorded. */
  async storeFact(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('store_facts').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value;
  }

  /** Records a fact unless one is recorded already; returns the recorded value (the first writer's). */
  async recordStoreFact(name: string, value: string): Promise<string> {
    await this.db
      .insertInto('store_facts')
      .values({ name, value, recorded_at: now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return (await this.storeFact(name)) ?? value;
  }

  async getCursor(syncId: string): Promise<string | null> {
    const row = await this.db.selectFrom('cursors').select('value').where('sync_id', '=', syncId).executeTakeFirst();
    return row?.value ?? null;
  }

  async setCursor(syncId: string, value: string): Promise<void> {
    const at = now();
    await this.db
      .insertInto('cursors')
      .values({ sync_id: syncId, value, updated_at: at })
      .onConflict((oc) => oc.column('sync_id').doUpdateSet({ value, updated_at: at }))
      .execute();
  }

  /** The latest cursor value among a run's accepted records, and whether any record of the run failed. */
  async runCursorOutcome(syncId: string, runNumber: number): Promise<{ maxCursor: string | null; anyFailed: boolean }> {
    const run = await this.getRun(syncId, runNumber);
    const failed = await this.db
      .selectFrom('record_results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('status', '=', 'failed')
      .executeTakeFirst();
    return { maxCursor: run?.cursor_to ?? null, anyFailed: Number(failed?.n ?? 0) > 0 };
  }

  /** Raw SQL escape hatch for tests and diagnostics. */
  get sql() {
    return sql;
  }

  /**
   * A run's failed records grouped by error code, largest group first, with the first few keys of
   * each: what the Temporal UI shows of a run's failures (codes, counts and keys; never messages,
   * which may quote row values).
   */
  async failureReasons(
    syncId: string,
    runNumber: number,
    keysPerCode = 3,
  ): Promise<Array<{ code: string; count: number; keys: string[] }>> {
    const groups = await this.db
      .selectFrom('record_results')
      .select(['error_code', (eb) => eb.fn.countAll<number>().as('n')])
      .where('sync_id', '=', syncId)
      .where('run_number', '=', runNumber)
      .where('status', '=', 'failed')
      .groupBy('error_code')
      .execute();
    const out = [];
    for (const g of groups) {
      let q = this.db
        .selectFrom('record_results')
        .select('key')
        .where('sync_id', '=', syncId)
        .where('run_number', '=', runNumber)
        .where('status', '=', 'failed');
      q = g.error_code === null ? q.where('error_code', 'is', null) : q.where('error_code', '=', g.error_code);
      // Keys never reach workflow history (test/secrets-and-values.test.ts); the CLI may ask for some.
      const keys = keysPerCode > 0 ? await q.orderBy('key').limit(keysPerCode).execute() : [];
      out.push({ code: g.error_code ?? 'UNKNOWN', count: Number(g.n), keys: keys.map((k) => k.key) });
    }
    return out.sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  }
}
