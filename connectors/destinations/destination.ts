/**
 * The narrow interface every destination implements. The engine (plan, deliver, workflows) knows
 * only this file and the registry; adding a destination means adding one connector file and one
 * registry line, never touching engine code.
 *
 * Lifecycle, per sync:
 *   const dest = connector.create({ connection, sync, secrets: process.env });
 *   await dest.check();                       // fatal config problems surface before any row moves
 *   const rec = dest.prepare(row);            // pure: model row -> mapped record (hashed for change detection)
 *   const outcomes = await dest.deliver(batch, ctx); // one outcome per record, same order
 *   await dest.close();
 *
 * Failure levels (DESIGN.md section 3):
 *   - whole-batch transient trouble (429, 5xx, network): throw TransientDestinationError; Temporal retries.
 *   - whole-sync fatal trouble (auth, unknown object/field): throw FatalDestinationError; the run fails.
 *   - one record rejected: return { status: 'failed', errorCode, errorMessage } for that record.
 *   - one record rejected for a passing reason (a locked row): the same, with an errorCode the
 *     destination lists in `transientRecordErrors`; the engine re-sends it a few times first.
 */
import type { z } from 'zod';
import type { BulkIngest } from './bulk-ingest';
import type { ConnectionScope } from './connection-scope';

export type Row = Record<string, unknown>;

/** What a destination needs to know to send one record; derived from a model row by `prepare`. */
export interface PreparedRecord {
  /** Stable primary key of the model row (string form). */
  key: string;
  /** JSON-serialisable payload; its hash decides whether the record changed since the last delivery. */
  payload: Record<string, unknown>;
}

export type Operation = 'upsert' | 'delete';

export interface RecordToDeliver extends PreparedRecord {
  operation: Operation;
  /** The destination id recorded for this key by an earlier accepted delivery (Salesforce Id, Slack ts), if any. */
  destinationId: string | null;
  /** Hash of `payload`; unique per (sync, key, content), usable as an idempotency token. */
  hash: string;
}

export type RecordOutcome =
  | { key: string; status: 'succeeded'; destinationId: string | null; created?: boolean }
  | { key: string; status: 'failed'; errorCode: string; errorMessage: string; fields?: string[] };

/** A record ebb delivered, with the payload the destination should hold for it. */
export interface RecordToReadBack {
  key: string;
  /** The destination id recorded by the accepted delivery (Salesforce Id, Slack `channel:ts`). */
  destinationId: string | null;
  payload: Record<string, unknown>;
}

/** A field whose stored value differs from the sent one; `stored` is undefined when the destination lacks the field. */
export interface FieldDrift {
  field: string;
  sent: unknown;
  stored: unknown;
}

export type ReadBackResult =
  | { key: string; status: 'matches' }
  | { key: string; status: 'missing' }
  | { key: string; status: 'changed'; fields: FieldDrift[] };

export interface DeliveryContext {
  syncId: string;
  /** 1 on the first attempt of a delivery activity; > 1 when Temporal re-executes it (maybe after a crash mid-way). */
  attempt: number;
  /** Called between requests so long deliveries heartbeat. */
  heartbeat: () => void;
  /**
   * Where this delivery sits in its run, for destinations that group a run's requests (Meta's upload
   * sessions number them and flag the last): the run, this batch's number (from 1), the run's
   * batches, and the upserts and deletes it planned.
   */
  run?: { number: number; batch: number; batches: number; upserts: number; deletes: number };
}

export interface DestinationLimits {
  /** Records per deliver() call: one request's worth (200 for an sObject Collections request). */
  batchSize: number;
  /** deliver() calls in flight at once in one worker process. */
  maxConcurrency: number;
  /**
   * deliver() calls per second across every worker of the task queue, enforced by the Temporal
   * server; undefined where the destination has no per-second limit (Salesforce: only a daily
   * allowance), so delivery runs as fast as `maxConcurrency` allows.
   */
  requestsPerSecond?: number;
  /**
   * deliver() calls one delivery activity makes (default 1). More than one spares Temporal a round
   * trip per request: a 1M-row run is 500 activities of 10 requests, not 5,000 of one.
   */
  requestsPerDelivery?: number;
}

/** What `ebb worker` prints for a delivery queue: "200 records a request, 10 in flight, no per-second limit". */
export function describeLimits(limits: DestinationLimits): string {
  const perDelivery = limits.requestsPerDelivery ?? 1;
  return [
    `${limits.batchSize} records a request`,
    `${limits.maxConcurrency} in flight`,
    limits.requestsPerSecond === undefined ? 'no per-second limit' : `at most ${limits.requestsPerSecond} requests/s`,
    `${perDelivery} request${perDelivery === 1 ? '' : 's'} per activity`,
  ].join(', ');
}

/** The delivery plan derived from a destination's limits: batch sizes, worker slots and the run's window. */
export interface DeliveryShape {
  /** Records staged per delivery activity. */
  recordsPerDelivery: number;
  requestsPerDelivery: number;
  /** Delivery activities one worker process runs at once. */
  activitySlots: number;
  /** Activities per second across the task queue (the server's limit); undefined for none. */
  activitiesPerSecond: number | undefined;
  /** Delivery activities a run keeps scheduled at once. */
  window: number;
}

export function deliveryShape(limits: DestinationLimits): DeliveryShape {
  const requestsPerDelivery = Math.max(1, limits.requestsPerDelivery ?? 1);
  // With several requests per activity one extra slot keeps requests flowing while an activity
  // waits for its slowest request; the process-wide limiter still caps requests at maxConcurrency.
  const activitySlots =
    requestsPerDelivery === 1 ? limits.maxConcurrency : Math.ceil(limits.maxConcurrency / requestsPerDelivery) + 1;
  return {
    recordsPerDelivery: limits.batchSize * requestsPerDelivery,
    requestsPerDelivery,
    activitySlots,
    activitiesPerSecond:
      limits.requestsPerSecond === undefined ? undefined : limits.requestsPerSecond / requestsPerDelivery,
    window: Math.max(1, activitySlots * 2),
  };
}

export interface Destination {
  readonly limits: DestinationLimits;
  /** Checks credentials and the sync's mapping against the live destination (e.g. Salesforce describe). Throws FatalDestinationError. */
  check(): Promise<void>;
  /** Pure mapping of one model row. Throws RecordPreparationError for a row that cannot be sent (reason kept per record). */
  prepare(row: Row): PreparedRecord;
  /**
   * Sends one batch; returns exactly one outcome per input record, in input order. Call
   * `countRequest()` (request-counter.ts) once per HTTP request, so runs report their API calls.
   */
  deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]>;
  /**
   * For destinations with a daily request budget (Salesforce's `Sforce-Limit-Info`): usage as of the
   * last response, so the engine pauses delivery before the budget runs out. Null until known.
   */
  apiUsage?(): { used: number; limit: number } | null;
  /**
   * Asks the destination for its usage now (Salesforce `GET /limits`), spending one request, and
   * updates what `apiUsage()` returns. The engine calls it only when the cached usage says "pause",
   * so a paused delivery notices when the daily window frees up without a worker restart.
   *
   *   const usage = await destination.refreshApiUsage?.(); // { used: 1200, limit: 100000 }
   */
  refreshApiUsage?(): Promise<{ used: number; limit: number } | null>;
  /**
   * Record error codes that mean "try again shortly", not "this record is wrong": the row was
   * busy, the server slow. The engine re-sends records that failed with one of these codes, together
   * in a smaller request after a short backoff, a bounded number of times within the same delivery,
   * before it records them as failed (activities/record-retries.ts). Leave validation errors out:
   * re-sending a bad value only spends requests. Omit it (or leave it empty) when no record error of
   * the destination is transient.
   *
   *   transientRecordErrors: new Set(['UNABLE_TO_LOCK_ROW']),
   */
  readonly transientRecordErrors?: ReadonlySet<string>;
  /**
   * For `ebb verify`: reads the given delivered records back and compares each with the payload ebb
   * sent, one result per input record, in input order. Equality is the destination's own (Salesforce
   * answers `12.5` for a sent `"12.50"` and `+0000` date-times for ISO ones), so it happens here,
   * not in the engine. Omit it when the destination cannot be read back; verify then says so.
   *
   *   const [acme] = await destination.readBack?.([{ key: 'acme', destinationId: '001...', payload }]);
   *   // { key: 'acme', status: 'changed', fields: [{ field: 'Health_Score__c', sent: 38, stored: 12 }] }
   */
  readBack?(records: RecordToReadBack[]): Promise<ReadBackResult[]>;
  /**
   * For destinations that write a record field by field (Salesforce): the payload keys every update
   * must carry, the ones the destination matches the record by. With them, a sync's
   * `changedFieldsOnly` (on by default) sends an update of a delivered record with these keys and
   * only the fields whose values changed since the last accepted delivery (activities/changed-fields.ts).
   * Omit it where a record is replaced whole (a Slack message): every field is then sent.
   *
   *   partialUpdateKeys: ['External_Id__c'],
   */
  readonly partialUpdateKeys?: readonly string[];
  /**
   * A bulk path for large runs (Salesforce Bulk API 2.0, bulk-ingest.ts): a run with at least
   * `bulk.threshold` records to send goes through a few asynchronous jobs instead of one request per
   * batch (activities/deliver-bulk.ts). Omit it where the destination has none.
   */
  readonly bulk?: BulkIngest;
  /** For `ebb plan`: the requests delivering this many records would take (default: one per `batchSize` records). */
  estimateRequests?(work: { records: number; batches: number }): number;
  /**
   * The key ebb stores for a row, given the text of its primary key, for destinations whose keys may
   * be personal data: a Meta audience synced from a model keyed by email stores the email's hash.
   * The plan and verify store, compare and show this key instead; a sync whose destination has it
   * never uses the warehouse-side diff, which keeps keys in the warehouse as they are. Omit it to
   * store keys as they are.
   *
   *   destination.recordKey?.('jane@example.com'); // 'sha256:8f1c...'
   */
  recordKey?(primaryKey: string): string;
  close(): Promise<void>;
}

export interface CreateDestinationInput<C, S> {
  /** Validated destination connection config (ebb.yaml `destinations.<name>`), ${ENV} already interpolated. */
  connection: C;
  /** Validated sync config (ebb.yaml `syncs.<id>`), including the connector's own options. */
  sync: S & { id: string; primaryKey: string };
  /**
   * Shared by every destination of this connection in the process (connection-scope.ts): keep
   * sessions and metadata there rather than per sync. Absent, the destination keeps its own.
   */
  scope?: ConnectionScope;
  /** Directory of ebb.yaml: relative file paths in the connection (a key file) are relative to it. */
  baseDir?: string;
}

/** One destination type: its config schemas and its factory. */
export interface DestinationConnector<C = unknown, S = unknown> {
  readonly type: string;
  /**
   * The sync modes it supports, the default first. The engine gives two of them meaning for every
   * destination: `insert` stages only never-delivered rows, `mirror` also stages deletions.
   */
  readonly modes: readonly string[];
  /** zod schema of `destinations.<name>` for this type (must include `type: z.literal(<type>)`). */
  readonly connectionSchema: z.ZodType<C>;
  /** zod schema of the connector-specific keys of `syncs.<id>` (mapping, object, channel, template, ...). */
  readonly syncOptionsSchema: z.ZodType<S>;
  /**
   * Static checks that need no network, e.g. a template that does not parse, or a mapping naming a
   * column the model does not select. Returns problems with a path relative to the sync.
   */
  staticCheck?(input: { sync: S; modelColumns: string[] | null }): StaticProblem[];
  create(input: CreateDestinationInput<C, S>): Destination;
}

/** A problem a connector's static check found, with a path relative to the sync. */
export interface StaticProblem {
  path: (string | number)[];
  message: string;
  hint?: string;
}

/**
 * One problem per column of `columns` the model does not select, at `[...under, column]` (a
 * mapping's keys under `['mapping']`); none when the model's columns are unknown.
 */
export function columnsNotSelected(
  under: (string | number)[],
  columns: readonly string[],
  modelColumns: readonly string[] | null,
): StaticProblem[] {
  if (!modelColumns) return [];
  return columns
    .filter((column) => !modelColumns.includes(column))
    .map((column) => ({
      path: [...under, column],
      message: `column '${column}' is not selected by the model's sql`,
      hint: `the model selects: ${modelColumns.join(', ')}`,
    }));
}

/** Base for all destination errors; `name` survives the activity -> workflow boundary as the failure type. */
export class DestinationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Temporary trouble (429, 5xx, timeouts, dropped connections): the batch is retried by Temporal. */
export class TransientDestinationError extends DestinationError {
  /** Server-advised wait before the next attempt (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Trouble no retry can fix (bad credentials, unknown object or field): the run fails with this message. */
export class FatalDestinationError extends DestinationError {
  /** Each config mistake behind it, at its path relative to the sync (`mapping.name`), for `ebb validate --online`. */
  readonly problems: ReadonlyArray<{ path: string[]; message: string }>;
  constructor(
    message: string,
    options?: { cause?: unknown; problems?: ReadonlyArray<{ path: string[]; message: string }> },
  ) {
    super(message, options);
    this.problems = options?.problems ?? [];
  }
}

/** A single row that cannot be turned into a record (e.g. a template that fails on its values). */
export class RecordPreparationError extends DestinationError {
  constructor(
    message: string,
    readonly errorCode: string = 'PREPARATION_FAILED',
  ) {
    super(message);
  }
}
