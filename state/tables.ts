/** Row types of ebb's state store, shared by the SQLite and PostgreSQL backends. */
import type { Generated } from 'kysely';

export type RunKind = 'incremental' | 'full' | 'replay';
export type RunStatus = 'planning' | 'delivering' | 'succeeded' | 'failed';
export type RecordStatus = 'succeeded' | 'failed';

export interface RunsTable {
  sync_id: string;
  run_number: number;
  kind: RunKind;
  replay_of_run: number | null;
  /** Id of the controller request that made this run, so a re-executed allocation finds it. */
  request_id: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  added: Generated<number>;
  changed: Generated<number>;
  removed: Generated<number>;
  unchanged: Generated<number>;
  invalid: Generated<number>;
  batches: Generated<number>;
  succeeded: Generated<number>;
  failed: Generated<number>;
  /** Set when the run finishes: plan_api_calls plus the batches' api_calls. */
  api_calls: Generated<number>;
  /** Requests the run's plan attempts made (the destination's token and describe requests). */
  plan_api_calls: Generated<number>;
  cursor_from: string | null;
  cursor_to: string | null;
  error_message: string | null;
  error_detail: string | null;
}

export interface BatchesTable {
  sync_id: string;
  run_number: number;
  batch_number: number;
  record_count: number;
  delivered_at: string | null;
  succeeded: Generated<number>;
  failed: Generated<number>;
  attempts: Generated<number>;
  api_calls: Generated<number>;
  maybe_sent: Generated<number>;
}

export interface StagedRecordsTable {
  sync_id: string;
  run_number: number;
  batch_number: number;
  position: number;
  key: string;
  operation: 'upsert' | 'delete';
  hash: string;
  payload: string;
  destination_id: string | null;
  cursor_value: string | null;
  /** Warehouse-side diff: the warehouse's hash of the model row (null without it). */
  row_hash: string | null;
  /** Per-field hashes of the whole payload (changed-fields.ts); null where the destination has no partial updates. */
  field_hashes: Generated<string | null>;
}

export interface SnapshotsTable {
  sync_id: string;
  key: string;
  hash: string;
  destination_id: string | null;
  updated_at: string;
  /** Per-field hashes of the accepted payload (changed-fields.ts); null for snapshots written before them. */
  field_hashes: Generated<string | null>;
}

export interface CursorsTable {
  sync_id: string;
  value: string;
  updated_at: string;
}

export interface RecordResultsTable {
  sync_id: string;
  run_number: number;
  key: string;
  operation: 'upsert' | 'delete';
  status: RecordStatus;
  destination_id: string | null;
  error_code: string | null;
  error_message: string | null;
  attempt: number;
  at: string;
}

/** Keys seen by a mirror-mode plan, so removed keys are found by an anti-join instead of in memory. */
export interface SeenKeysTable {
  sync_id: string;
  run_number: number;
  key: string;
}

export interface StateTables {
  runs: RunsTable;
  batches: BatchesTable;
  staged_records: StagedRecordsTable;
  snapshots: SnapshotsTable;
  cursors: CursorsTable;
  record_results: RecordResultsTable;
  seen_keys: SeenKeysTable;
  store_facts: StoreFactsTable;
  bulk_jobs: BulkJobsTable;
}

/** A Bulk API 2.0 ingest job of a run (activities/deliver-bulk.ts), recorded before its upload. */
export interface BulkJobsTable {
  sync_id: string;
  run_number: number;
  /** The job holds the records of batches first_batch..last_batch of this operation. */
  first_batch: number;
  operation: 'upsert' | 'delete';
  last_batch: number;
  job_id: string;
  /** The destination's last known state of the job (Open when created; JobComplete, Failed or Aborted when done). */
  state: string;
  records: number;
  created_at: string;
  finished_at: string | null;
}

export interface StoreFactsTable {
  name: string;
  value: string;
  recorded_at: string;
}
