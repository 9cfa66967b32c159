/**
 * Bulk API 2.0 ingest jobs for the Salesforce sandbox (`/services/data/vXX.X/jobs/ingest`), after
 * Salesforce's public docs (API-CONTRACTS.md SF-5): create a job, upload its CSV once
 * (`PUT /{id}/batches`, 201), close it (`PATCH {state: UploadComplete}`) or abort it, poll it
 * (Open -> UploadComplete -> InProgress -> JobComplete | Failed | Aborted, after a processing
 * delay), read its three result CSVs, delete it. Records are saved through the same org methods,
 * and so the same validation, as sObject Collections; a value of the wrong type for its field fails
 * only its record (INVALID_TYPE_ON_FIELD_IN_RECORD), as Bulk reports it, where collections would
 * refuse the whole request. Limits: an upload of more than 150 MB once base64-encoded is refused,
 * and so is one that would take the records uploaded in a rolling 24 hours past 150,000,000.
 *
 * CSV as Bulk reads it: the header names fields (`Account.External_Id__c` for a parent by its
 * external id), an empty value leaves a field as it is, `#N/A` clears it. Every job is kept in a
 * log (`jobs()`, `GET /__sandbox/bulk-jobs`) with the times it changed state. Jobs live in memory:
 * a restarted sandbox has none.
 *
 * Error bodies and codes not in the docs we read (INVALIDJOBSTATE, EXCEEDED_QUOTA, the sf__Error
 * text `CODE:message:fields --`) follow what clients in public code expect; treat them as unverified.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { isSafeNumber, LosslessNumber } from 'lossless-json';
import type { SalesforceFieldDefinition } from './salesforce-objects';
import { SalesforceOrg, SalesforceRequestError, type SaveResult } from './salesforce-org';
import { salesforceId } from './salesforce-record-ids';

export type BulkJobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
type BulkOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';

export interface BulkIngestOptions {
  /** Time from UploadComplete to JobComplete (default 1000 ms); a third of it is spent as UploadComplete. */
  processingMs?: number;
  /** Records uploaded per rolling 24 hours (default 150,000,000). */
  dailyRecordLimit?: number;
  /** Largest upload after base64 encoding (default 150 MB). */
  maxUploadBytes?: number;
}

/** One entry of the sandbox's job log. */
export interface BulkJobLogEntry {
  id: string;
  object: string;
  operation: BulkOperation;
  externalIdFieldName: string | null;
  state: BulkJobState;
  /** Every state the job went through, with when. */
  states: Array<{ state: BulkJobState; at: string }>;
  uploadBytes: number;
  uploads: number;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  errorMessage: string | null;
}

export interface BulkReply {
  status: number;
  /** JSON body; absent with `csv` or for an empty answer. */
  json?: unknown;
  csv?: string;
}

const delimiters: Record<string, string> = {
  COMMA: ',',
  BACKQUOTE: '`',
  CARET: '^',
  PIPE: '|',
  SEMICOLON: ';',
  TAB: '\t',
};
const operations = new Set<BulkOperation>(['insert', 'update', 'upsert', 'delete', 'hardDelete']);
const day = 24 * 60 * 60 * 1000;
/** The org's methods take a collections request's worth at a time. */
const chunkSize = 200;

interface Job {
  info: BulkJobLogEntry;
  columnDelimiter: string;
  lineEnding: 'LF' | 'CRLF';
  apiVersion: string;
  createdDate: string;
  systemModstamp: string;
  csv: string | null;
  successful: string[][];
  failed: string[][];
  unprocessed: string[][];
  header: string[];
  timers: NodeJS.Timeout[];
}

const badRequest = (errorCode: string, message: string): BulkReply => ({
  status: 400,
  json: [{ errorCode, message }],
});

export class BulkIngest {
  private readonly jobs = new Map<string, Job>();
  private nextNumber = 1;
  /** Uploaded record counts with their time, for the rolling 24-hour limit. */
  private uploaded: Array<{ at: number; records: number }> = [];

  constructor(
    private readonly org: SalesforceOrg,
    private options: BulkIngestOptions = {},
    /** The sandbox's lockErrors fault: an upserted record whose row is locked fails UNABLE_TO_LOCK_ROW, as in collections. */
    private readonly rowLocks: { isLocked?: (key: string) => boolean } = {},
  ) {}

  configure(options: BulkIngestOptions): void {
    this.options = { ...this.options, ...options };
  }

  log(): BulkJobLogEntry[] {
    return [...this.jobs.values()].map((job) => structuredClone(job.info));
  }

  reset(): void {
    this.close();
    this.jobs.clear();
    this.uploaded = [];
  }

  /** Stops pending processing, so a closed sandbox leaves no timers behind. */
  close(): void {
    for (const job of this.jobs.values()) for (const timer of job.timers.splice(0)) clearTimeout(timer);
  }

  /** `rest` is the path after `/jobs/ingest`; `version` like "60.0". */
  handle(method: string, rest: string, body: string, version: string): BulkReply {
    if (rest === '' || rest === '/') {
      if (method === 'POST') return this.create(body, version);
      if (method === 'GET')
        return {
          status: 200,
          json: { done: true, nextRecordsUrl: null, records: [...this.jobs.values()].map((j) => this.jobInfo(j)) },
        };
    }
    const match = /^\/([^/]+)(\/[^/]*)?\/?$/.exec(rest);
    const job = match?.[1] ? this.jobs.get(match[1]) : undefined;
    if (!match || !job)
      return { status: 404, json: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] };
    const sub = (match[2] ?? '').replace(/\/$/, '');
    if (sub === '') {
      if (method === 'GET') return { status: 200, json: this.jobInfo(job, true) };
      if (method === 'PATCH') return this.changeState(job, body);
      if (method === 'DELETE') return this.delete(job);
    }
    if (sub === '/batches' && method === 'PUT') return this.upload(job, body);
    if (method === 'GET' && ['/successfulResults', '/failedResults', '/unprocessedrecords'].includes(sub)) {
      if (!['JobComplete', 'Failed', 'Aborted'].includes(job.info.state))
        return badRequest('INVALIDJOBSTATE', `Job ${job.info.id} is ${job.info.state}: its results are not ready`);
      return { status: 200, csv: this.results(job, sub) };
    }
    return { status: 404, json: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] };
  }

  private create(body: string, version: string): BulkReply {
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return badRequest('JSON_PARSER_ERROR', 'The request body is not valid JSON');
    }
    const object = typeof spec.object === 'string' ? spec.object : '';
    const definition = this.org.definition(object);
    if (!definition) return badRequest('INVALIDJOB', `InvalidJob : Invalid object: ${object || '(none)'}`);
    const operation = spec.operation as BulkOperation;
    if (!operations.has(operation))
      return badRequest('INVALIDJOB', `InvalidJob : Invalid operation: ${String(spec.operation)}`);
    const externalIdFieldName = typeof spec.externalIdFieldName === 'string' ? spec.externalIdFieldName : null;
    if (operation === 'upsert') {
      const field = definition.fields.find((f) => f.name.toLowerCase() === externalIdFieldName?.toLowerCase());
      if (!externalIdFieldName) return badRequest('INVALIDJOB', 'InvalidJob : External ID was blank for upsert');
      if (!field || !(field.externalId || field.idLookup || field.type === 'id'))
        return badRequest(
          'INVALIDJOB',
          `InvalidJob : Field name provided, ${externalIdFieldName} is not an External ID or indexed field for ${definition.name}`,
        );
    }
    if ((spec.contentType ?? 'CSV') !== 'CSV')
      return badRequest('INVALIDJOB', `InvalidJob : Invalid content type: ${String(spec.contentType)}`);
    const delimiterName = (spec.columnDelimiter as string | undefined) ?? 'COMMA';
    const lineEnding = (spec.lineEnding as string | undefined) ?? 'LF';
    if (!(delimiterName in delimiters))
      return badRequest('INVALIDJOB', `InvalidJob : Invalid column delimiter: ${delimiterName}`);
    if (lineEnding !== 'LF' && lineEnding !== 'CRLF')
      return badRequest('INVALIDJOB', `InvalidJob : Invalid line ending: ${lineEnding}`);
    const now = new Date().toISOString().replace('Z', '+0000');
    const id = salesforceId('750', this.nextNumber++);
    const job: Job = {
      info: {
        id,
        object: definition.name,
        operation,
        externalIdFieldName: operation === 'upsert' ? externalIdFieldName : null,
        state: 'Open',
        states: [{ state: 'Open', at: now }],
        uploadBytes: 0,
        uploads: 0,
        numberRecordsProcessed: 0,
        numberRecordsFailed: 0,
        errorMessage: null,
      },
      columnDelimiter: delimiterName,
      lineEnding,
      apiVersion: version,
      createdDate: now,
      systemModstamp: now,
      csv: null,
      successful: [],
      failed: [],
      unprocessed: [],
      header: [],
      timers: [],
    };
    this.jobs.set(id, job);
    return { status: 200, json: this.jobInfo(job) };
  }

  private upload(job: Job, body: string): BulkReply {
    if (job.info.state !== 'Open')
      return {
        status: 409,
        json: [
          {
            errorCode: 'INVALIDJOBSTATE',
            message: `Job ${job.info.id} is ${job.info.state}, not Open: data can only be uploaded to an open job`,
          },
        ],
      };
    if (job.csv !== null)
      return badRequest('INVALIDJOBSTATE', `Job ${job.info.id} already has its data: a job takes one upload`);
    const bytes = Buffer.byteLength(body);
    const encoded = Math.ceil(bytes / 3) * 4;
    const maxBytes = this.options.maxUploadBytes ?? 150 * 1024 * 1024;
    if (encoded > maxBytes)
      return badRequest(
        'EXCEEDED_MAX_SIZE_REQUEST',
        `The upload is ${encoded} bytes after base64 encoding, more than the ${maxBytes} a job takes; split it into several jobs`,
      );
    let rows: string[][];
    try {
      rows = this.parse(job, body);
    } catch (err) {
      return badRequest('INVALIDBATCH', `InvalidBatch : Failed to parse CSV: ${(err as Error).message}`);
    }
    const records = Math.max(0, rows.length - 1);
    const now = Date.now();
    this.uploaded = this.uploaded.filter((u) => u.at > now - day);
    const used = this.uploaded.reduce((n, u) => n + u.records, 0);
    const limit = this.options.dailyRecordLimit ?? 150_000_000;
    if (used + records > limit)
      return {
        status: 400,
        json: [
          {
            errorCode: 'EXCEEDED_QUOTA',
            message: `Bulk API 2.0 takes ${limit} records per rolling 24 hours; ${used} were uploaded and this upload has ${records}`,
          },
        ],
      };
    this.uploaded.push({ at: now, records });
    job.csv = body;
    job.info.uploadBytes = bytes;
    job.info.uploads++;
    return { status: 201 };
  }

  private changeState(job: Job, body: string): BulkReply {
    let state: unknown;
    try {
      state = (JSON.parse(body) as { state?: unknown }).state;
    } catch {
      return badRequest('JSON_PARSER_ERROR', 'The request body is not valid JSON');
    }
    if (state === 'UploadComplete') {
      if (job.info.state !== 'Open')
        return badRequest('INVALIDJOBSTATE', `Job ${job.info.id} is ${job.info.state}, not Open`);
      this.setState(job, 'UploadComplete');
      const processingMs = this.options.processingMs ?? 1000;
      job.timers.push(
        setTimeout(() => {
          if (job.info.state === 'UploadComplete') this.setState(job, 'InProgress');
        }, processingMs / 3),
        setTimeout(() => this.process(job), processingMs),
      );
      return { status: 200, json: this.jobInfo(job) };
    }
    if (state === 'Aborted') {
      if (!['Open', 'UploadComplete', 'InProgress'].includes(job.info.state))
        return badRequest('INVALIDJOBSTATE', `Job ${job.info.id} is ${job.info.state} and can no longer be aborted`);
      for (const timer of job.timers.splice(0)) clearTimeout(timer);
      job.unprocessed = job.csv === null ? [] : this.parse(job, job.csv).slice(1);
      job.header = job.csv === null ? [] : (this.parse(job, job.csv)[0] ?? []);
      this.setState(job, 'Aborted');
      return { status: 200, json: this.jobInfo(job) };
    }
    return badRequest('INVALIDJOBSTATE', `A job's state can be set to UploadComplete or Aborted, not ${String(state)}`);
  }

  private delete(job: Job): BulkReply {
    if (job.info.state === 'Open' || job.info.state === 'InProgress')
      return badRequest(
        'INVALIDJOBSTATE',
        `Job ${job.info.id} is ${job.info.state}: only a closed, finished, failed or aborted job can be deleted`,
      );
    for (const timer of job.timers.splice(0)) clearTimeout(timer);
    this.jobs.delete(job.info.id);
    return { status: 204 };
  }

  private setState(job: Job, state: BulkJobState): void {
    job.info.state = state;
    job.systemModstamp = new Date().toISOString().replace('Z', '+0000');
    job.info.states.push({ state, at: job.systemModstamp });
  }

  private parse(job: Job, csv: string): string[][] {
    return parseCsv(csv, {
      delimiter: delimiters[job.columnDelimiter],
      relax_column_count: false,
      skip_empty_lines: true,
    }) as string[][];
  }

  /** Applies the job's records to the org, a collections request's worth at a time. */
  private process(job: Job): void {
    if (job.info.state !== 'UploadComplete' && job.info.state !== 'InProgress') return;
    if (job.info.state === 'UploadComplete') this.setState(job, 'InProgress');
    const rows = job.csv === null ? [] : this.parse(job, job.csv);
    const [header = [], ...records] = rows;
    job.header = header;
    const definition = this.org.definition(job.info.object);
    const fields = new Map((definition?.fields ?? []).map((f) => [f.name.toLowerCase(), f]));
    const unknown = header.filter((name) => {
      const [head, tail] = name.split('.');
      return tail === undefined ? !fields.has(name.toLowerCase()) : !head;
    });
    if (job.csv === null || unknown.length > 0) {
      job.unprocessed = records;
      job.info.errorMessage =
        job.csv === null
          ? 'InvalidBatch : No data was uploaded to the job'
          : `InvalidBatch : Field name not found : ${unknown[0]}`;
      this.setState(job, 'Failed');
      return;
    }
    for (let i = 0; i < records.length; i += chunkSize) {
      const chunk = records.slice(i, i + chunkSize);
      const results = this.saveChunk(job, header, chunk, fields);
      results.forEach((result, j) => {
        const row = chunk[j] as string[];
        if (result.success) {
          job.successful.push([result.id ?? '', String(result.created === true), ...row]);
        } else {
          job.failed.push([result.id ?? '', bulkErrorText(result), ...row]);
        }
      });
    }
    job.info.numberRecordsProcessed = records.length;
    job.info.numberRecordsFailed = job.failed.length;
    this.setState(job, 'JobComplete');
  }

  private saveChunk(
    job: Job,
    header: string[],
    rows: string[][],
    fields: Map<string, SalesforceFieldDefinition>,
  ): SaveResult[] {
    const { operation, object } = job.info;
    if (operation === 'delete' || operation === 'hardDelete') {
      const idColumn = header.findIndex((h) => h.toLowerCase() === 'id');
      return this.org.delete(
        rows.map((row) => row[idColumn] ?? ''),
        false,
      );
    }
    const converted = rows.map((row) => toRecord(header, row, fields, object));
    const valid = converted.flatMap((c) => ('record' in c ? [c.record] : []));
    let saved: SaveResult[];
    try {
      saved = valid.length === 0 ? [] : this.saveRecords(job, valid);
    } catch (err) {
      // One record the org refuses outright (a lookup it cannot read) must not sink its neighbours.
      if (!(err instanceof SalesforceRequestError) || valid.length === 1) throw err;
      saved = valid.flatMap((record) => {
        try {
          return this.saveRecords(job, [record]);
        } catch (one) {
          if (!(one instanceof SalesforceRequestError)) throw one;
          return [
            {
              id: null,
              success: false,
              errors: [{ statusCode: one.errorCode, message: one.message, fields: one.fields ?? [] }],
            },
          ];
        }
      });
    }
    let next = 0;
    return converted.map((c) => ('record' in c ? (saved[next++] as SaveResult) : c.failure));
  }

  private saveRecords(job: Job, records: Array<Record<string, unknown>>): SaveResult[] {
    const body = { allOrNone: false, records };
    if (job.info.operation === 'upsert')
      return this.org.upsert(job.info.object, job.info.externalIdFieldName ?? 'Id', body, this.rowLocks);
    if (job.info.operation === 'insert') return this.org.create(body).map((r) => ({ ...r, created: r.success }));
    return this.org.update(body);
  }

  private results(job: Job, which: string): string {
    const head =
      which === '/successfulResults'
        ? ['sf__Id', 'sf__Created', ...job.header]
        : which === '/failedResults'
          ? ['sf__Id', 'sf__Error', ...job.header]
          : job.header;
    const rows =
      which === '/successfulResults' ? job.successful : which === '/failedResults' ? job.failed : job.unprocessed;
    return stringifyCsv([head, ...rows], {
      delimiter: delimiters[job.columnDelimiter],
      record_delimiter: job.lineEnding === 'CRLF' ? '\r\n' : '\n',
    });
  }

  private jobInfo(job: Job, detail = false): Record<string, unknown> {
    const info: Record<string, unknown> = {
      id: job.info.id,
      operation: job.info.operation,
      object: job.info.object,
      createdById: '0055g00000EBBAAAA4',
      createdDate: job.createdDate,
      systemModstamp: job.systemModstamp,
      state: job.info.state,
      ...(job.info.externalIdFieldName ? { externalIdFieldName: job.info.externalIdFieldName } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.info.id}/batches`,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    };
    if (!detail) return info;
    return {
      ...info,
      jobType: 'V2Ingest',
      retries: 0,
      totalProcessingTime: job.info.state === 'JobComplete' ? (this.options.processingMs ?? 1000) : 0,
      apiActiveProcessingTime: 0,
      apexProcessingTime: 0,
      numberRecordsProcessed: job.info.numberRecordsProcessed,
      numberRecordsFailed: job.info.numberRecordsFailed,
      ...(job.info.errorMessage ? { errorMessage: job.info.errorMessage } : {}),
    };
  }
}

/**
 * One CSV row as the record a collections request would carry. Bulk reads every value as text in
 * the field's type: numbers keep all their digits (LosslessNumber, as the JSON path reads number
 * literals), and a value that is not of the field's type fails only this record.
 */
function toRecord(
  header: string[],
  row: string[],
  fields: Map<string, SalesforceFieldDefinition>,
  object: string,
): { record: Record<string, unknown> } | { failure: SaveResult } {
  const record: Record<string, unknown> = { attributes: { type: object } };
  for (let i = 0; i < header.length; i++) {
    const name = header[i] as string;
    const text = row[i] ?? '';
    if (text === '') continue;
    const value = text === '#N/A' ? null : text;
    const [relationship, parentField] = name.split('.');
    if (parentField !== undefined && relationship) {
      record[relationship] = value === null ? null : { [parentField]: value };
      continue;
    }
    const field = fields.get(name.toLowerCase());
    if (!field) continue;
    if (field.type === 'id' && value === null) continue;
    const typed = value === null ? { value: null } : typedValue(field, value);
    if ('error' in typed) {
      return {
        failure: {
          id: null,
          success: false,
          errors: [
            {
              statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
              message: `${field.label ?? field.name}: value not of required type: ${value}`,
              fields: [field.name],
            },
          ],
        },
      };
    }
    record[field.name] = typed.value;
  }
  return { record };
}

function typedValue(field: SalesforceFieldDefinition, text: string): { value: unknown } | { error: true } {
  switch (field.type) {
    case 'int':
      return /^-?\d+$/.test(text) ? { value: numberOf(text) } : { error: true };
    case 'double':
    case 'currency':
    case 'percent':
      return /^-?(\d+\.?\d*|\.\d+)$/.test(text) ? { value: numberOf(text) } : { error: true };
    case 'boolean': {
      const lower = text.toLowerCase();
      if (lower === 'true' || lower === '1') return { value: true };
      if (lower === 'false' || lower === '0') return { value: false };
      return { error: true };
    }
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text)) ? { value: text } : { error: true };
    case 'datetime':
      return Number.isNaN(Date.parse(text)) ? { error: true } : { value: text };
    default:
      return { value: text };
  }
}

/** As the JSON path reads a number literal (salesforce-sandbox.ts parseJson), so both store the same. */
function numberOf(text: string): number | LosslessNumber {
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

/** `STRING_TOO_LONG:Name: data value too large: ... (max length=80):Name --` */
function bulkErrorText(result: SaveResult): string {
  return result.errors.map((e) => `${e.statusCode}:${e.message}:${e.fields.join(',')} --`).join(' ');
}
