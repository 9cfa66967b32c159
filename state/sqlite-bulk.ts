/**
 * The state store's per-record writes on SQLite, as single-row prepared statements in one
 * better-sqlite3 transaction. Building kysely's multi-row inserts cost more than SQLite's own work:
 * staging a million records took 28 s through kysely and takes a few here. PostgreSQL keeps the
 * kysely path, where multi-row statements save round trips.
 *
 * Callers hold kysely's connection while these run (StateStore.withSqlite), so no kysely
 * transaction is open on the connection at the same time.
 */
import type Database from 'better-sqlite3';

export interface StagedRow {
  key: string;
  operation: 'upsert' | 'delete';
  hash: string;
  payload: string;
  destinationId: string | null;
  cursorValue: string | null;
  rowHash: string | null;
  fieldHashes: string | null;
}

export interface OutcomeRow {
  key: string;
  operation: 'upsert' | 'delete';
  status: 'succeeded' | 'failed';
  destinationId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  hash: string | null;
  fieldHashes?: string | null;
}

export class SqliteBulk {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly sqlite: Database.Database) {}

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.sqlite.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  stageBatch(
    batch: { syncId: string; runNumber: number; batchNumber: number; maybeSent: boolean },
    rows: StagedRow[],
  ): void {
    const insertBatch = this.statement(
      'insert into batches (sync_id, run_number, batch_number, record_count, delivered_at, maybe_sent) values (?, ?, ?, ?, null, ?)',
    );
    const insertRow = this.statement(
      'insert into staged_records (sync_id, run_number, batch_number, position, key, operation, hash, payload, destination_id, cursor_value, row_hash, field_hashes) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const { syncId, runNumber, batchNumber } = batch;
    this.sqlite.transaction(() => {
      insertBatch.run(syncId, runNumber, batchNumber, rows.length, batch.maybeSent ? 1 : 0);
      rows.forEach((r, position) =>
        insertRow.run(
          syncId,
          runNumber,
          batchNumber,
          position,
          r.key,
          r.operation,
          r.hash,
          r.payload,
          r.destinationId,
          r.cursorValue,
          r.rowHash,
          r.fieldHashes,
        ),
      );
    })();
  }

  recordOutcomes(
    run: { syncId: string; runNumber: number; batchNumber: number | null; attempt: number; at: string },
    rows: OutcomeRow[],
    counts: { succeeded: number; failed: number },
  ): void {
    const upsertResult = this.statement(
      'insert into record_results (sync_id, run_number, key, operation, status, destination_id, error_code, error_message, attempt, at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
        'on conflict (sync_id, run_number, key) do update set operation = excluded.operation, status = excluded.status, destination_id = excluded.destination_id, ' +
        'error_code = excluded.error_code, error_message = excluded.error_message, attempt = excluded.attempt, at = excluded.at',
    );
    const deleteSnapshot = this.statement('delete from snapshots where sync_id = ? and key = ?');
    const upsertSnapshot = this.statement(
      'insert into snapshots (sync_id, key, hash, destination_id, updated_at, field_hashes) values (?, ?, ?, ?, ?, ?) ' +
        'on conflict (sync_id, key) do update set hash = excluded.hash, destination_id = excluded.destination_id, updated_at = excluded.updated_at, ' +
        'field_hashes = excluded.field_hashes',
    );
    const markBatch = this.statement(
      'update batches set delivered_at = ?, succeeded = ?, failed = ? where sync_id = ? and run_number = ? and batch_number = ?',
    );
    const { syncId, runNumber, at } = run;
    this.sqlite.transaction(() => {
      for (const r of rows) {
        upsertResult.run(
          syncId,
          runNumber,
          r.key,
          r.operation,
          r.status,
          r.destinationId,
          r.errorCode,
          r.errorMessage,
          run.attempt,
          at,
        );
        if (r.status !== 'succeeded') continue;
        if (r.operation === 'delete') deleteSnapshot.run(syncId, r.key);
        else if (r.hash !== null) upsertSnapshot.run(syncId, r.key, r.hash, r.destinationId, at, r.fieldHashes ?? null);
      }
      if (run.batchNumber !== null)
        markBatch.run(at, counts.succeeded, counts.failed, syncId, runNumber, run.batchNumber);
    })();
  }

  /**
   * Gives up to `pages` free pages back to the file system and returns the free pages left. Run
   * through `exec`, which steps the pragma to its end: the pragma yields a row per page, so a
   * statement stepped once (kysely's way with a statement that has no columns) frees one page.
   */
  incrementalVacuum(pages: number): number {
    this.sqlite.exec(`pragma incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
    return this.sqlite.pragma('freelist_count', { simple: true }) as number;
  }
}
