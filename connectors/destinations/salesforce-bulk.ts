/**
 * Salesforce's bulk path: a run of many records upserts (and, for mirror, deletes) through Bulk API
 * 2.0 ingest jobs (jsforce's `BulkV2`) instead of one sObject Collections request per 200 records.
 * A job costs a handful of requests whatever its size: create, upload the CSV, close, the polls,
 * and the three result CSVs.
 *
 *   destinations:
 *     salesforce: { type: salesforce, ..., bulk: { above: 5000 } }   # for every sync of the org
 *   syncs:
 *     accounts-to-sf: { ..., bulk: { above: 20000, pollSeconds: 10 } } # this sync's own; `bulk: false` never
 *
 * Values are written as Bulk reads them: text as is, numbers with all their digits (decimal text
 * from the warehouse stays text, a double is written in plain decimal notation, never `1e+21`),
 * booleans `true`/`false`, a null `#N/A` (clears the field, as null does in collections), and a
 * parent found by its external id under the header `Account.External_Id__c`.
 */
import { z } from 'zod';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { Connection, Schema } from 'jsforce';
import type { BulkV2, IngestJobV2, IngestJobV2Results } from 'jsforce/lib/api/bulk2';
import { BulkUploadTooLargeError, type BulkIngest, type BulkJobInput } from './bulk-ingest';
import { TransientDestinationError, type Operation, type RecordOutcome, type RecordToDeliver } from './destination';
import type { SalesforceSession } from './salesforce-session';

export const salesforceBulkSchema = z
  .union([
    z.literal(false),
    z.strictObject({
      above: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('A run with at least this many records to send goes through Bulk API 2.0 (default 5000)'),
      pollSeconds: z
        .number()
        .positive()
        .optional()
        .describe(
          "Seconds between checks of a job's state once it has run a while (default 5; the first checks come 1, 2, 4 s apart)",
        ),
      recordsPerJob: z
        .number()
        .int()
        .min(1)
        .max(10_000_000)
        .optional()
        .describe('Records one job takes at most (default 100000); larger runs use several jobs'),
    }),
  ])
  .describe('Bulk API 2.0 for large runs (upsert and mirror modes); false: always sObject Collections');

export type SalesforceBulkOption = z.infer<typeof salesforceBulkSchema>;

export const defaultBulkThreshold = 5000;
const defaultPollSeconds = 5;
const defaultRecordsPerJob = 100_000;
/** Salesforce takes 150 MB once base64-encoded, so at most about 100 MB of CSV. */
const maxUploadBytes = 100 * 1024 * 1024;

type BulkJobV2 = IngestJobV2<Schema>;
type BulkResultRow = Record<string, string | undefined>;

/*
 * jsforce takes a quarter of a second to load: loaded with the first job, like salesforce-session.ts.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy vendor loading, see above */
const bulkModule = (): typeof import('jsforce/lib/api/bulk2') =>
  require('jsforce/lib/api/bulk2') as typeof import('jsforce/lib/api/bulk2');
/* eslint-enable @typescript-eslint/no-require-imports */

/** The sync's option wins over the connection's; modes other than upsert and mirror never take the bulk path. */
export function bulkSettings(
  connection: SalesforceBulkOption | undefined,
  sync: SalesforceBulkOption | undefined,
  mode: string,
): { threshold: number | null; pollMs: number; recordsPerJob: number } {
  const chosen = sync ?? connection;
  const settings = chosen === false || chosen === undefined ? {} : chosen;
  const off = chosen === false || (mode !== 'upsert' && mode !== 'mirror');
  return {
    threshold: off ? null : (settings.above ?? defaultBulkThreshold),
    pollMs: (settings.pollSeconds ?? defaultPollSeconds) * 1000,
    recordsPerJob: settings.recordsPerJob ?? defaultRecordsPerJob,
  };
}

/**
 * A job of a few thousand records is done in seconds, so the checks after the first start 1 s apart
 * and double up to pollSeconds: a long job costs two or three more checks, a short one is noticed
 * seconds sooner.
 */
const firstPollMs = 1000;

/** How long to wait after the `checks`-th check (from 0) found the job still running. */
export function pollDelayMs(pollMs: number, checks: number): number {
  return Math.min(pollMs, firstPollMs * 2 ** Math.min(checks, 30));
}

/** Checks spent at intervals shorter than pollSeconds. */
function rampChecks(pollMs: number): number {
  let checks = 0;
  while (pollDelayMs(pollMs, checks) < pollMs) checks++;
  return checks;
}

function describePolling(pollMs: number): string {
  const ramp = Array.from({ length: rampChecks(pollMs) }, (_, i) => pollDelayMs(pollMs, i) / 1000);
  return ramp.length
    ? `polled after ${ramp.join(', ')} s, then every ${pollMs / 1000} s`
    : `polled every ${pollMs / 1000} s`;
}

export function createSalesforceBulk(input: {
  session: SalesforceSession;
  object: string;
  externalIdField: string;
  settings: ReturnType<typeof bulkSettings>;
  /** Turns a request-level error into the destination's error (fatal for a bad object or field). */
  interpretRequestError: (err: unknown) => unknown;
}): BulkIngest {
  const { session, object, externalIdField, settings } = input;
  const call = async <T>(step: (bulk: BulkV2<Schema>) => Promise<T>): Promise<T> => {
    try {
      return await session.withConnection((conn) => step(new (bulkModule().BulkV2)(conn as Connection<Schema>)));
    } catch (err) {
      throw input.interpretRequestError(err);
    }
  };
  const jobOf = (bulk: BulkV2<Schema>, id: string): BulkJobV2 => bulk.job('ingest', { id });

  /** Polls until the job is done; every poll heartbeats. */
  const waitFor = async (id: string, job: BulkJobInput) => {
    for (let checks = 0; ; checks++) {
      const info = await call((bulk) => jobOf(bulk, id).check());
      job.heartbeat({ jobId: id, state: info.state });
      if (info.state === 'JobComplete' || info.state === 'Failed' || info.state === 'Aborted') return info;
      await job.sleep(pollDelayMs(settings.pollMs, checks));
    }
  };

  return {
    threshold: settings.threshold,
    recordsPerJob: settings.recordsPerJob,
    // create, upload, close, three result reads, and a poll every pollSeconds of processing
    // (Salesforce takes seconds to minutes; two polls is the least a job takes).
    estimateRequests: ({ upserts, deletes }) =>
      [upserts, deletes]
        .filter((n) => n > 0)
        .reduce(
          (requests, n) => requests + Math.ceil(n / settings.recordsPerJob) * (6 + 2 + rampChecks(settings.pollMs)),
          0,
        ),
    describe: () =>
      `Bulk API 2.0, ${settings.recordsPerJob === defaultRecordsPerJob ? 'one job per 100,000 records' : `one job per ${settings.recordsPerJob} records`}, ${describePolling(settings.pollMs)}`,

    async abort(jobId: string): Promise<void> {
      await call((bulk) => jobOf(bulk, jobId).abort());
    },

    async runJob(job: BulkJobInput): Promise<RecordOutcome[]> {
      let id = job.resumeJobId;
      if (id !== null) {
        const resumed = id;
        const info = await call((bulk) => jobOf(bulk, resumed).check()).catch((err: unknown) => {
          // Deleted since (jobs go 7 days after they finish), or never created: start afresh.
          if (err instanceof Error && /NOT_FOUND/.test(`${err.name} ${err.message}`)) return null;
          throw err;
        });
        if (info === null) id = null;
        else if (info.state === 'Open') {
          // The crash came before the upload was closed: what it holds is unknown, so it is
          // aborted (nothing of it is processed) and the records go in a new job.
          await call((bulk) => jobOf(bulk, resumed).abort());
          id = null;
        }
      }
      if (id === null) {
        const csv = bulkCsv(job.records, job.operation, externalIdField);
        const bytes = Buffer.byteLength(csv);
        if (bytes > maxUploadBytes) {
          throw new BulkUploadTooLargeError(
            `${job.records.length} records make ${bytes} bytes of CSV, more than the ${maxUploadBytes} one Bulk API 2.0 job takes`,
            bytes,
          );
        }
        const created = await call(async (bulk) => {
          const fresh = bulk.createJob({
            object,
            operation: job.operation,
            ...(job.operation === 'upsert' ? { externalIdFieldName: externalIdField } : {}),
            lineEnding: 'LF',
          });
          return fresh.open();
        });
        const newId = created.id;
        if (!newId)
          throw new TransientDestinationError(`Salesforce answered the creation of a ${object} job without its id`);
        await job.jobCreated(newId);
        job.heartbeat({ jobId: newId, state: 'Open' });
        await call((bulk) => jobOf(bulk, newId).uploadData(csv));
        await call((bulk) => jobOf(bulk, newId).close());
        id = newId;
      }
      const finalId: string = id;
      const info = await waitFor(finalId, job);
      job.heartbeat();
      const results = await readResults(finalId);
      return outcomesOf(job, results, {
        externalIdField,
        unprocessedReason:
          info.state === 'JobComplete'
            ? 'Salesforce did not process this record although its job completed'
            : `Salesforce did not process this record: job ${finalId} ${info.state === 'Aborted' ? 'was aborted' : `failed (${info.errorMessage ?? 'no reason given'})`}`,
      });
    },
  };

  async function readResults(id: string): Promise<IngestJobV2Results<Schema>> {
    // One request each; jsforce reads them as CSV into rows of text.
    const successfulResults = await call((bulk) => jobOf(bulk, id).getSuccessfulResults());
    const failedResults = await call((bulk) => jobOf(bulk, id).getFailedResults());
    const unprocessedRecords = await call((bulk) => jobOf(bulk, id).getUnprocessedRecords());
    return { successfulResults, failedResults, unprocessedRecords };
  }
}

/** The job's CSV: one column per payload field (a lookup as `Relationship.Field`), deletes by Id. */
export function bulkCsv(records: RecordToDeliver[], operation: Operation, externalIdField: string): string {
  if (operation === 'delete') return stringifyCsv([['Id'], ...records.map((r) => [r.destinationId ?? ''])]);
  const flat = records.map((r) => flatten(r.payload));
  const columns = [externalIdField];
  const seen = new Set(columns);
  for (const row of flat)
    for (const name of row.keys())
      if (!seen.has(name)) {
        seen.add(name);
        columns.push(name);
      }
  // A field a record does not carry stays empty, which Bulk reads as "leave it as it is".
  const rows = flat.map((row) => columns.map((name) => (row.has(name) ? csvValue(row.get(name)) : '')));
  return stringifyCsv([columns, ...rows]);
}

function flatten(payload: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(payload)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [field, inner] of Object.entries(value as Record<string, unknown>)) out.set(`${name}.${field}`, inner);
    } else out.set(name, value);
  }
  return out;
}

function csvValue(value: unknown): string {
  if (value === null || value === undefined || value === '') return '#N/A';
  if (typeof value === 'number') return plainDecimal(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A double's shortest exact text without an exponent: Salesforce does not read `1e+21` or `5e-7`. */
export function plainDecimal(n: number): string {
  const text = String(n);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, head = '', tail = '', exp = '0'] = match;
  const digits = head + tail;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** `STRING_TOO_LONG:Name: data value too large: ... (max length=80):Name --` -> code, message, fields. */
export function parseBulkError(text: string): { errorCode: string; errorMessage: string; fields: string[] } {
  const match = /^([A-Z_]+):(.*?)(?::([^:]*) --)?$/s.exec(text.trim());
  if (!match) return { errorCode: 'UNKNOWN_EXCEPTION', errorMessage: text || 'Salesforce gave no reason', fields: [] };
  const fields = (match[3] ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  return { errorCode: match[1] as string, errorMessage: (match[2] ?? '').trim(), fields };
}

/**
 * One outcome per record, in input order, from the job's three result sets (whose row order is
 * not the upload's): by the external id for upserts, by Id for deletes. A record in none of them
 * fails, so every record has an outcome.
 */
function outcomesOf(
  job: BulkJobInput,
  results: IngestJobV2Results<Schema>,
  options: { externalIdField: string; unprocessedReason: string },
): RecordOutcome[] {
  const isDelete = job.operation === 'delete';
  const keyColumn = isDelete ? 'Id' : options.externalIdField;
  const keyOf = (row: BulkResultRow) => {
    const direct = row[keyColumn];
    if (direct !== undefined) return direct;
    // Salesforce may answer a header in its own case.
    const name = Object.keys(row).find((k) => k.toLowerCase() === keyColumn.toLowerCase());
    return name === undefined ? undefined : row[name];
  };
  const byKey = new Map<string, RecordOutcome>();
  const recordOf = new Map(job.records.map((r) => [isDelete ? (r.destinationId ?? '') : r.key, r]));
  const rows = (set: unknown): BulkResultRow[] => {
    if (!Array.isArray(set))
      throw new TransientDestinationError('Salesforce answered a job result that is not CSV; it will be read again');
    return set as BulkResultRow[];
  };
  for (const row of rows(results.successfulResults)) {
    const record = recordOf.get(keyOf(row) ?? '');
    if (!record) continue;
    byKey.set(record.key, {
      key: record.key,
      status: 'succeeded',
      destinationId: isDelete ? record.destinationId : (row.sf__Id ?? null),
      ...(isDelete ? {} : { created: row.sf__Created === 'true' }),
    });
  }
  for (const row of rows(results.failedResults)) {
    const record = recordOf.get(keyOf(row) ?? '');
    if (!record) continue;
    const error = parseBulkError(row.sf__Error ?? '');
    // A delete of a record already gone has reached its goal, as in the collections path.
    if (isDelete && ['ENTITY_IS_DELETED', 'NOT_FOUND', 'INVALID_CROSS_REFERENCE_KEY'].includes(error.errorCode)) {
      byKey.set(record.key, { key: record.key, status: 'succeeded', destinationId: record.destinationId });
      continue;
    }
    byKey.set(record.key, {
      key: record.key,
      status: 'failed',
      errorCode: error.errorCode,
      errorMessage: error.errorMessage,
      ...(error.fields.length > 0 ? { fields: error.fields } : {}),
    });
  }
  for (const row of rows(results.unprocessedRecords)) {
    const record = recordOf.get(keyOf(row) ?? '');
    if (!record || byKey.has(record.key)) continue;
    byKey.set(record.key, {
      key: record.key,
      status: 'failed',
      errorCode: 'BULK_UNPROCESSED',
      errorMessage: options.unprocessedReason,
    });
  }
  return job.records.map(
    (record): RecordOutcome =>
      byKey.get(record.key) ?? {
        key: record.key,
        status: 'failed',
        errorCode: 'BULK_RESULT_MISSING',
        errorMessage: 'Salesforce listed this record in none of its job results; the next run sends it again',
      },
  );
}
