/**
 * Versioned schema migrations, applied in order by kysely's Migrator on open. Never edit a
 * published migration: add the next one. Column types are portable across SQLite and PostgreSQL.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { apiBudgetWindowsMigration } from './api-budget-windows';
import { failedAttemptsMigration } from './failed-attempts';

const migrations: Record<string, Migration> = {
  '0001-initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('runs')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('replay_of_run', 'integer')
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('added', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('changed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('removed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('unchanged', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('invalid', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('batches', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('succeeded', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('api_calls', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cursor_from', 'text')
        .addColumn('cursor_to', 'text')
        .addColumn('error_message', 'text')
        // Errors that may quote row values (a warehouse's conversion error): kept here, never in history.
        .addColumn('error_detail', 'text')
        .addPrimaryKeyConstraint('runs_pk', ['sync_id', 'run_number'])
        .execute();
      await db.schema
        .createTable('batches')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('batch_number', 'integer', (c) => c.notNull())
        .addColumn('record_count', 'integer', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .addColumn('succeeded', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('api_calls', 'integer', (c) => c.notNull().defaultTo(0))
        // 1 when an earlier run of the sync may have sent these records without recording the outcome.
        .addColumn('maybe_sent', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('batches_pk', ['sync_id', 'run_number', 'batch_number'])
        .execute();
      await db.schema
        .createTable('staged_records')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('batch_number', 'integer', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('destination_id', 'text')
        .addColumn('cursor_value', 'text')
        .addPrimaryKeyConstraint('staged_records_pk', ['sync_id', 'run_number', 'batch_number', 'position'])
        .execute();
      await db.schema
        .createTable('snapshots')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('destination_id', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('snapshots_pk', ['sync_id', 'key'])
        .execute();
      await db.schema
        .createTable('cursors')
        .addColumn('sync_id', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('record_results')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('destination_id', 'text')
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        // One result per record per run: a re-executed batch overwrites, never adds.
        .addPrimaryKeyConstraint('record_results_pk', ['sync_id', 'run_number', 'key'])
        .execute();
      await db.schema
        .createTable('seen_keys')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('seen_keys_pk', ['sync_id', 'run_number', 'key'])
        .execute();
    },
  },
  '0002-warehouse-row-hash': {
    // Warehouse-side diff: the row hash the warehouse computed for a staged record, written to the
    // warehouse's snapshot table once the destination accepted the record.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('staged_records').addColumn('row_hash', 'text').execute();
    },
  },
  '0003-plan-api-calls': {
    // Requests the plan made (the session's token, describe): they belong to the run, and batch
    // rows cannot carry them because a re-executed plan clears its batches.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('runs')
        .addColumn('plan_api_calls', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0004-store-facts': {
    // Facts about the store itself, such as the deployment it belongs to (state/deployment-claim.ts).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('store_facts')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0005-snapshot-field-hashes': {
    // Changed fields only (activities/changed-fields.ts): one hash per payload field, staged with the
    // record and kept in the snapshot once the destination accepted it. Null in snapshots written
    // before: such a record's next update sends every field.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('staged_records').addColumn('field_hashes', 'text').execute();
      await db.schema.alterTable('snapshots').addColumn('field_hashes', 'text').execute();
    },
  },
  '0006-bulk-jobs': {
    // Bulk API 2.0 delivery (activities/deliver-bulk.ts): each ingest job's id, recorded before its
    // CSV is uploaded, so an attempt after a worker crash polls the same job instead of sending the
    // records again in a new one. A job holds one operation of the run's batches first..last.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bulk_jobs')
        .addColumn('sync_id', 'text', (c) => c.notNull())
        .addColumn('run_number', 'integer', (c) => c.notNull())
        .addColumn('first_batch', 'integer', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('last_batch', 'integer', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('records', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addPrimaryKeyConstraint('bulk_jobs_pk', ['sync_id', 'run_number', 'first_batch', 'operation'])
        .execute();
    },
  },
  // One API budget per destination connection (state/api-budget-windows.ts).
  '0007-api-budget-windows': apiBudgetWindowsMigration,
  // Runs worth a describe in `ebb status` (state/failed-attempts.ts).
  '0008-failed-attempts': failedAttemptsMigration,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
