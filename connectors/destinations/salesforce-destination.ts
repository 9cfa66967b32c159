/**
 * Salesforce destination: writes model rows into an sObject keyed by an external id through sObject
 * Collections (200 records per request, per-record results). The sync's mode decides how:
 *   - upsert (default): creates or updates by external id;
 *   - update: finds the records by external id (SOQL) and updates them by Id; a key without a
 *     record fails with NOT_FOUND, nothing is created;
 *   - insert: creates records; a key that already has one fails with DUPLICATE_VALUE, nothing is
 *     modified;
 *   - mirror: upserts, and deletes by Salesforce Id the records of rows that left the model.
 *
 *   destinations:
 *     salesforce: { type: salesforce, loginUrl: https://acme.my.salesforce.com, auth: { clientId: ..., clientSecret: ... } }
 *   syncs:
 *     accounts-to-sf:
 *       object: Account
 *       externalId: { from: account_id, to: External_Id__c }
 *       mapping: { name: Name, health: Health_Score__c }
 *
 * It reports the org's daily API usage `{ used, limit }`: `apiUsage()` from the last response's
 * Sforce-Limit-Info header (null before the first response), `refreshApiUsage()` from `GET /limits`,
 * so the engine can pause a sync before the daily budget runs out and resume it once it frees up.
 */
import { z } from 'zod';
import {
  FatalDestinationError,
  RecordPreparationError,
  TransientDestinationError,
  type Destination,
  type DestinationConnector,
  type DestinationLimits,
  type DeliveryContext,
  type PreparedRecord,
  type ReadBackResult,
  type RecordOutcome,
  type RecordToDeliver,
  type RecordToReadBack,
  type Row,
} from './destination';
import { isDecimalText, JsonNumberLiteral } from './json-number-literal';
import { closestNames } from './salesforce-name-suggestions';
import { findByExternalId, holdsPayload, payloadDifferences } from './salesforce-record-lookup';
import { SalesforceApiError, SalesforceSession, type ApiUsage } from './salesforce-session';
import { isJwtBearer, jwtKeyProblem, salesforceAuthSchema } from './salesforce-auth';
import type { ConnectionScope } from './connection-scope';
import { apiBudgetSchema, ConnectionApiBudget } from './api-budget';
import { SalesforceDescribes, type SObjectDescribe } from './salesforce-describe';
import { checkMapping, isNumericField, parseTarget, valueFor, type MappingCheck } from './salesforce-mapping-checks';
import { bulkSettings, createSalesforceBulk, salesforceBulkSchema } from './salesforce-bulk';

/** sObject Collections accept at most 200 records or ids per request. */
const collectionLimit = 200;

/**
 * Salesforce has no per-second request limit: an org has a daily allowance (guarded by the API
 * budget pause in deliver-batch.ts) and a cap of 25 concurrent requests running longer than 20 s.
 * So by default nothing paces requests per second; 10 in flight per worker stays well inside the
 * concurrency cap even when requests slow down, and 10 requests per delivery activity keep
 * Temporal's per-activity cost off each request. A `requestsPerSecond` set in config is enforced by
 * the Temporal server across workers, one request per activity unless `requestsPerDelivery` says more.
 */
export function salesforceLimits(
  configured: {
    batchSize?: number;
    maxConcurrency?: number;
    requestsPerSecond?: number;
    requestsPerDelivery?: number;
  } = {},
): DestinationLimits {
  return {
    batchSize: configured.batchSize ?? collectionLimit,
    maxConcurrency: configured.maxConcurrency ?? 10,
    requestsPerSecond: configured.requestsPerSecond,
    requestsPerDelivery: configured.requestsPerDelivery ?? (configured.requestsPerSecond === undefined ? 10 : 1),
  };
}

export const salesforceConnectionSchema = z
  .object({
    type: z.literal('salesforce'),
    loginUrl: z.url({ message: 'loginUrl must be a URL such as https://acme.my.salesforce.com' }).optional(),
    instanceUrl: z.url({ message: 'instanceUrl must be a URL such as https://acme.my.salesforce.com' }).optional(),
    apiVersion: z
      .string()
      .regex(/^\d+\.0$/, { message: 'apiVersion must look like "60.0"' })
      // sObject Collections upsert exists from API 46.0.
      .refine((v) => Number(v) >= 46, { message: 'apiVersion must be 46.0 or later (sObject Collections upsert)' })
      .default('60.0'),
    auth: salesforceAuthSchema,
    apiBudget: apiBudgetSchema.optional(),
    limits: z
      .object({
        batchSize: z
          .number()
          .int()
          .min(1)
          .max(collectionLimit, {
            message: `batchSize can be at most ${collectionLimit} (one sObject Collections request)`,
          })
          .optional(),
        maxConcurrency: z.number().int().min(1).optional(),
        requestsPerSecond: z.number().positive().optional(),
        requestsPerDelivery: z.number().int().min(1).max(50).optional(),
      })
      .strict()
      .optional(),
    bulk: salesforceBulkSchema.optional(),
  })
  // A misspelt key (`limts`, `loginURL`) would otherwise be dropped silently: report it with the closest key.
  .strict()
  .superRefine((config, ctx) => {
    if ('accessToken' in config.auth && !config.instanceUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['instanceUrl'],
        message: 'instanceUrl is required with accessToken auth (your org URL, e.g. https://acme.my.salesforce.com)',
      });
    }
    const keyProblem = jwtKeyProblem(config.auth);
    if (keyProblem) ctx.addIssue({ code: 'custom', ...keyProblem });
    if (isJwtBearer(config.auth) && !config.loginUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['loginUrl'],
        message:
          'loginUrl is required with JWT bearer auth: https://login.salesforce.com, https://test.salesforce.com for a sandbox org, or your My Domain URL',
      });
    } else if ('clientId' in config.auth && !config.loginUrl && !config.instanceUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['loginUrl'],
        message:
          'loginUrl is required with clientId/clientSecret auth: the client credentials flow must use your My Domain URL, e.g. https://acme.my.salesforce.com',
      });
    }
  });

export type SalesforceConnection = z.infer<typeof salesforceConnectionSchema>;

export const salesforceSyncOptionsSchema = z
  .object({
    object: z.string().min(1, { message: 'object must name a Salesforce object, e.g. Account' }),
    externalId: z.strictObject({
      from: z.string().min(1, { message: 'externalId.from must name a model column' }),
      to: z.string().min(1, { message: 'externalId.to must name an External ID field, e.g. External_Id__c' }),
    }),
    mapping: z
      .record(z.string(), z.string().min(1))
      .describe(
        'Model column -> Salesforce field of the object (health: Health_Score__c), or -> a relationship and the ' +
          "parent's External ID field to look the parent up by (account_id: Account.External_Id__c)",
      ),
    bulk: salesforceBulkSchema.optional(),
  })
  .loose();

export type SalesforceSyncOptions = z.infer<typeof salesforceSyncOptionsSchema>;

const salesforceModes = ['upsert', 'update', 'insert', 'mirror'] as const;
export type SalesforceMode = (typeof salesforceModes)[number];

export interface SalesforceDestination extends Destination {
  /** The org's daily API usage from the latest response, or null before the first response. */
  apiUsage(): ApiUsage | null;
}

interface SaveResult {
  id: string | null;
  success: boolean;
  created?: boolean;
  errors: Array<{ statusCode: string; message: string; fields?: string[] }>;
}

/** Errors on a collections request caused by one record's value: isolating the record lets the rest land. */
const recordValueErrors = new Set(['JSON_PARSER_ERROR', 'INVALID_TYPE_ON_FIELD_IN_RECORD']);

/**
 * Per-record codes that mean "try again shortly": another transaction holds the row (or its parent
 * Account, common when many children of one Account are written at once), or the server was busy.
 * The engine re-sends such records within the delivery (API-CONTRACTS.md, transient record-level errors).
 */
const transientRecordErrors: ReadonlySet<string> = new Set([
  'UNABLE_TO_LOCK_ROW',
  'REQUEST_RUNNING_TOO_LONG',
  'SERVER_UNAVAILABLE',
]);

/** A delete of a record that is already gone has reached its goal. */
const alreadyDeletedErrors = new Set(['ENTITY_IS_DELETED', 'NOT_FOUND', 'INVALID_CROSS_REFERENCE_KEY']);

/**
 * The session and describe results a destination uses: the connection scope's when the engine
 * gives one (every sync of the connection in this process shares one login and one describe per
 * object), otherwise the destination's own.
 */
function connectionState(
  connection: SalesforceConnection,
  syncId: string,
  scope: ConnectionScope | undefined,
  baseDir: string | undefined,
): { session: SalesforceSession; describes: SalesforceDescribes } {
  const create = (subject: string) => {
    // The share is counted where every worker sees it; without the engine's counter (validate
    // --online) the few requests made are not taken from it.
    const budget =
      connection.apiBudget && scope?.requestCounter
        ? new ConnectionApiBudget(scope.name, connection.apiBudget, scope.requestCounter)
        : undefined;
    const session = new SalesforceSession({ ...connection, baseDir }, subject, budget);
    return { session, describes: new SalesforceDescribes(session) };
  };
  return scope ? scope.shared('salesforce', () => create(scope.subject)) : create(`sync ${syncId}`);
}

export function createSalesforceDestination(
  connection: SalesforceConnection,
  sync: SalesforceSyncOptions & { id: string; primaryKey: string },
  options: { scope?: ConnectionScope | undefined; baseDir?: string | undefined } = {},
): SalesforceDestination {
  const mode = modeOf(sync);
  const { session, describes } = connectionState(connection, sync.id, options.scope, options.baseDir);
  const targets = Object.entries(sync.mapping).map(([column, target]) => ({ column, target: parseTarget(target) }));
  /** Payload keys that hold a lookup (`Account`), which no query can select and verify cannot compare. */
  const lookupKeys = new Set(
    targets.flatMap(({ target: t }) => (t.kind === 'lookup' ? [t.relationship, t.idField] : [])),
  );
  const comparable = (payload: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(payload).filter(([name]) => !lookupKeys.has(name)));
  const objectPath = encodeURIComponent(sync.object);
  const upsertPath = `/composite/sobjects/${objectPath}/${encodeURIComponent(sync.externalId.to)}`;

  const fatal = (message: string, cause?: unknown) => new FatalDestinationError(message, { cause });

  const interpretRequestError = (err: unknown): unknown => {
    if (!(err instanceof SalesforceApiError)) return err;
    if (err.errorCode === 'INVALID_FIELD') {
      return fatal(
        `Salesforce rejected a mapped field of ${sync.object} (sync ${sync.id}, key mapping): ${err.message}. Fix the mapping (or externalId.to) or create the field in Salesforce`,
        err,
      );
    }
    if (err.errorCode === 'NOT_FOUND') {
      return fatal(
        `Salesforce object '${sync.object}' or its external id field '${sync.externalId.to}' was not found (sync ${sync.id}, keys object and externalId.to): ${err.message}. Check both API names in Salesforce Setup`,
        err,
      );
    }
    return fatal(`Salesforce rejected a request of sync ${sync.id} with ${err.errorCode}: ${err.message}`, err);
  };

  /**
   * Sends one collections request for `chunk` and maps its per-record results. Salesforce parses the
   * whole body before saving anything, so one bad value fails the request; halving the chunk
   * isolates that record at a cost of about log2(n) extra requests.
   */
  const saveChunk = async (
    chunk: RecordToDeliver[],
    ctx: DeliveryContext,
    send: (part: RecordToDeliver[]) => Promise<SaveResult[]>,
  ): Promise<RecordOutcome[]> => {
    ctx.heartbeat();
    let results: SaveResult[];
    try {
      results = await send(chunk);
    } catch (err) {
      if (err instanceof SalesforceApiError && recordValueErrors.has(err.errorCode)) {
        if (chunk.length === 1) {
          const only = chunk[0] as RecordToDeliver;
          return [{ key: only.key, status: 'failed', errorCode: err.errorCode, errorMessage: err.message }];
        }
        const middle = Math.ceil(chunk.length / 2);
        return [
          ...(await saveChunk(chunk.slice(0, middle), ctx, send)),
          ...(await saveChunk(chunk.slice(middle), ctx, send)),
        ];
      }
      throw interpretRequestError(err);
    }
    return toOutcomes(chunk, results, false);
  };

  /** Describe of each directly mapped field (from check()), for value checks in prepare. */
  let describedFields: MappingCheck['fields'] = new Map();
  /** Mapped fields Salesforce stores as numbers (from describe, in check()): exact decimals go as number literals. */
  let numericFields = new Set<string>();

  const sObject = (record: RecordToDeliver, extra: Record<string, unknown> = {}) => {
    const fields: Record<string, unknown> = { ...record.payload };
    for (const name of numericFields) {
      const value = fields[name];
      if (isDecimalText(value)) fields[name] = new JsonNumberLiteral(value);
    }
    return { attributes: { type: sync.object }, ...extra, ...fields };
  };

  const upsertChunk = (chunk: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> =>
    saveChunk(chunk, ctx, (part) =>
      session.request<SaveResult[]>('PATCH', upsertPath, { allOrNone: false, records: part.map((r) => sObject(r)) }),
    );

  const lookUp = async (keys: string[], ctx: DeliveryContext, fields?: string[]) => {
    try {
      return await findByExternalId(session, {
        object: sync.object,
        field: sync.externalId.to,
        keys,
        ...(fields ? { fields } : {}),
        beforeRequest: ctx.heartbeat,
      });
    } catch (err) {
      throw interpretRequestError(err);
    }
  };

  const updateChunk = async (chunk: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> => {
    const found = await lookUp(
      chunk.map((r) => r.key),
      ctx,
    );
    const present = chunk.filter((r) => found.has(r.key));
    const updated =
      present.length === 0
        ? []
        : await saveChunk(present, ctx, (part) =>
            session.request<SaveResult[]>('PATCH', '/composite/sobjects', {
              allOrNone: false,
              records: part.map((r) => sObject(r, { Id: found.get(r.key)?.Id })),
            }),
          );
    const outcomes = new Map(present.map((record, i) => [record, updated[i] as RecordOutcome]));
    return chunk.map(
      (record): RecordOutcome =>
        outcomes.get(record) ?? {
          key: record.key,
          status: 'failed',
          errorCode: 'NOT_FOUND',
          errorMessage: `no ${sync.object} with ${sync.externalId.to} = '${record.key}'; mode update never creates records (use upsert)`,
        },
    );
  };

  const insertChunk = async (chunk: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> => {
    const outcomes = await saveChunk(chunk, ctx, async (part) => {
      const results = await session.request<SaveResult[]>('POST', '/composite/sobjects', {
        allOrNone: false,
        records: part.map((r) => sObject(r)),
      });
      // Collections create results carry no `created` flag: every success is a new record.
      return Array.isArray(results) ? results.map((r) => ({ ...r, created: r.success })) : results;
    });
    // A re-executed delivery (ctx.attempt > 1) may find the records its earlier attempt created
    // before the crash: their external ids now answer DUPLICATE_VALUE. Salesforce cannot say who
    // created a record, so one holding exactly the values this delivery sends counts as that earlier
    // attempt's work and succeeds with its Id; any other existing record (made by someone else, or
    // changed since) stays a failure, because insert never modifies what it did not create.
    const duplicates = chunk.filter((_, i) => {
      const outcome = outcomes[i];
      return ctx.attempt > 1 && outcome?.status === 'failed' && outcome.errorCode === 'DUPLICATE_VALUE';
    });
    if (duplicates.length === 0) return outcomes;
    const existing = await lookUp(
      duplicates.map((r) => r.key),
      ctx,
      Object.keys(comparable(duplicates[0]?.payload ?? {})),
    );
    return chunk.map((record, i): RecordOutcome => {
      const found = existing.get(record.key);
      return duplicates.includes(record) && found && holdsPayload(found, comparable(record.payload))
        ? { key: record.key, status: 'succeeded', destinationId: found.Id, created: true }
        : (outcomes[i] as RecordOutcome);
    });
  };

  const saveChunkOfMode = { upsert: upsertChunk, mirror: upsertChunk, update: updateChunk, insert: insertChunk }[mode];

  const deleteChunk = async (chunk: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> => {
    ctx.heartbeat();
    const ids = chunk.map((record) => encodeURIComponent(record.destinationId as string)).join(',');
    let results: SaveResult[];
    try {
      results = await session.request<SaveResult[]>('DELETE', `/composite/sobjects?ids=${ids}&allOrNone=false`);
    } catch (err) {
      throw interpretRequestError(err);
    }
    return toOutcomes(chunk, results, true);
  };

  const toOutcomes = (chunk: RecordToDeliver[], results: SaveResult[], isDelete: boolean): RecordOutcome[] => {
    if (!Array.isArray(results) || results.length !== chunk.length) {
      throw new TransientDestinationError(
        `Salesforce returned ${Array.isArray(results) ? results.length : 'no'} results for ${chunk.length} records; the batch will be retried`,
      );
    }
    return chunk.map((record, i): RecordOutcome => {
      const result = results[i] as SaveResult;
      const alreadyGone =
        isDelete && result.errors.length > 0 && result.errors.every((e) => alreadyDeletedErrors.has(e.statusCode));
      if (result.success || alreadyGone) {
        return isDelete
          ? { key: record.key, status: 'succeeded', destinationId: record.destinationId }
          : { key: record.key, status: 'succeeded', destinationId: result.id, created: result.created === true };
      }
      const first = result.errors[0];
      const fields = [...new Set(result.errors.flatMap((e) => e.fields ?? []))];
      return {
        key: record.key,
        status: 'failed',
        errorCode: first?.statusCode ?? 'UNKNOWN_EXCEPTION',
        errorMessage:
          result.errors.map((e) => e.message).join('; ') || 'Salesforce rejected the record without a message',
        ...(fields.length > 0 ? { fields } : {}),
      };
    });
  };

  const bulk = createSalesforceBulk({
    session,
    object: sync.object,
    externalIdField: sync.externalId.to,
    settings: bulkSettings(connection.bulk, sync.bulk, mode),
    interpretRequestError,
  });

  return {
    limits: salesforceLimits(connection.limits),
    bulk,

    transientRecordErrors,
    // Upserts and updates match records by the external id; every other field may be left out.
    partialUpdateKeys: [sync.externalId.to],
    apiUsage: () => session.apiUsage(),
    refreshApiUsage: () => session.refreshApiUsage(),
    // update mode looks records up (SOQL) before writing them: two requests per batch.
    estimateRequests: ({ records }) => {
      const requests = Math.ceil(records / (connection.limits?.batchSize ?? collectionLimit));
      return mode === 'update' ? 2 * requests : requests;
    },

    async check() {
      let object: SObjectDescribe;
      try {
        object = await describes.describe(sync.object);
      } catch (err) {
        if (err instanceof SalesforceApiError && err.errorCode === 'NOT_FOUND') {
          // Suggestions are a courtesy: if listing objects fails too, report the missing object without them.
          const { sobjects } = await session
            .request<{ sobjects: Array<{ name: string }> }>('GET', '/sobjects')
            .catch(() => ({ sobjects: [] as Array<{ name: string }> }));
          const candidates = closestNames(
            sync.object,
            sobjects.map((o) => o.name),
          );
          throw fatal(
            `Salesforce object '${sync.object}' does not exist (sync ${sync.id}, key object).${didYouMean(candidates)} ` +
              'Use the API name of the object (custom objects end in __c) and check that the integration user can see it',
            err,
          );
        }
        throw interpretRequestError(err);
      }
      let checked: MappingCheck;
      try {
        checked = await checkMapping({
          object,
          mode,
          externalId: sync.externalId,
          mapping: sync.mapping,
          describe: (name) => describes.describe(name),
        });
      } catch (err) {
        throw interpretRequestError(err);
      }
      describedFields = checked.fields;
      numericFields = new Set([...checked.fields].flatMap(([name, field]) => (isNumericField(field) ? [name] : [])));
      if (checked.problems.length > 0) {
        // The org may be fixed before the next check (a field created, a flag set): describe it afresh then.
        describes.forget(sync.object);
        for (const { target } of targets) if (target.kind === 'lookup') describes.forget(target.relationship);
        const lines = checked.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
        throw new FatalDestinationError(
          `The Salesforce fields of sync ${sync.id} do not match ${sync.object}:\n  - ${lines.join('\n  - ')}`,
          { problems: checked.problems },
        );
      }
    },

    prepare(row: Row): PreparedRecord {
      const rawKey = row[sync.externalId.from];
      if (rawKey === null || rawKey === undefined || rawKey === '') {
        throw new RecordPreparationError(
          `Column '${sync.externalId.from}' is empty, and Salesforce needs it as the external id (${sync.externalId.to}) to upsert the row`,
          'MISSING_EXTERNAL_ID',
        );
      }
      const key = String(rawKey);
      const payload: Record<string, unknown> = { [sync.externalId.to]: key };
      for (const { column, target } of targets) {
        // null is sent as null on purpose: Salesforce clears the field, matching the model.
        const value = toJsonValue(row[column]);
        if (target.kind === 'lookup') {
          // A parent found by its external id, as Salesforce's upsert takes it; no key clears the reference.
          if (value === null || value === '') payload[target.idField] = null;
          else payload[target.relationship] = { [target.field]: String(value) };
          continue;
        }
        const field = describedFields.get(target.field);
        payload[target.field] = field ? valueFor({ column, field, object: sync.object, value, sync: sync.id }) : value;
      }
      return { key, payload };
    },

    async deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
      const outcomes = new Map<RecordToDeliver, RecordOutcome>();
      const upserts = records.filter((r) => r.operation === 'upsert');
      const deletes = records.filter((r) => r.operation === 'delete' && r.destinationId !== null);
      for (const record of records) {
        // Never delivered, so there is nothing in Salesforce to delete.
        if (record.operation === 'delete' && record.destinationId === null)
          outcomes.set(record, { key: record.key, status: 'succeeded', destinationId: null });
      }
      for (let i = 0; i < upserts.length; i += collectionLimit) {
        const chunk = upserts.slice(i, i + collectionLimit);
        (await saveChunkOfMode(chunk, ctx)).forEach((outcome, j) => outcomes.set(chunk[j] as RecordToDeliver, outcome));
      }
      for (let i = 0; i < deletes.length; i += collectionLimit) {
        const chunk = deletes.slice(i, i + collectionLimit);
        (await deleteChunk(chunk, ctx)).forEach((outcome, j) => outcomes.set(chunk[j] as RecordToDeliver, outcome));
      }
      return records.map((record) => outcomes.get(record) as RecordOutcome);
    },

    async readBack(records: RecordToReadBack[]): Promise<ReadBackResult[]> {
      // By external id rather than by the recorded Id: every mode keys records by it, and a record
      // deleted and re-created by hand under the same external id still holds what ebb last sent.
      const fields = [...new Set(records.flatMap((r) => Object.keys(comparable(r.payload))))];
      const found = await lookUp(
        records.map((r) => r.key),
        { syncId: sync.id, attempt: 1, heartbeat: () => undefined },
        fields,
      );
      return records.map((record): ReadBackResult => {
        const stored = found.get(record.key);
        if (!stored) return { key: record.key, status: 'missing' };
        const drift = payloadDifferences(stored, comparable(record.payload));
        return drift.length === 0
          ? { key: record.key, status: 'matches' }
          : { key: record.key, status: 'changed', fields: drift };
      });
    },

    async close() {},
  };
}

export const salesforceConnector: DestinationConnector<SalesforceConnection, SalesforceSyncOptions> = {
  type: 'salesforce',
  modes: salesforceModes,
  connectionSchema: salesforceConnectionSchema,
  syncOptionsSchema: salesforceSyncOptionsSchema,

  staticCheck({ sync, modelColumns }) {
    const problems: Array<{ path: (string | number)[]; message: string; hint?: string }> = [];
    const targets = new Map<string, string>();
    for (const [column, field] of Object.entries(sync.mapping)) {
      const previous = targets.get(field.toLowerCase());
      if (previous !== undefined) {
        problems.push({
          path: ['mapping', column],
          message: `Columns '${previous}' and '${column}' both map to Salesforce field '${field}'`,
          hint: 'Map each field from one column only',
        });
      } else if (field.toLowerCase() === sync.externalId.to.toLowerCase()) {
        problems.push({
          path: ['mapping', column],
          message: `Column '${column}' maps to '${field}', which externalId.to already fills from '${sync.externalId.from}'`,
          hint: 'Remove this mapping entry; the external id field is set from externalId.from',
        });
      }
      targets.set(field.toLowerCase(), column);
    }
    if (modelColumns) {
      const hint = `Columns the model selects: ${modelColumns.join(', ')}`;
      if (!modelColumns.includes(sync.externalId.from)) {
        problems.push({
          path: ['externalId', 'from'],
          message: `Column '${sync.externalId.from}' is not selected by the model`,
          hint,
        });
      }
      for (const column of Object.keys(sync.mapping)) {
        if (!modelColumns.includes(column))
          problems.push({
            path: ['mapping', column],
            message: `Column '${column}' is not selected by the model`,
            hint,
          });
      }
    }
    return problems;
  },

  create: ({ connection, sync, scope, baseDir }) => createSalesforceDestination(connection, sync, { scope, baseDir }),
};

/**
 * `mode` is a base key of every sync, checked against `modes` by `ebb validate`; it is
 * read here rather than declared in the options schema so a wrong mode is reported once.
 */
function modeOf(sync: SalesforceSyncOptions & { id: string }): SalesforceMode {
  const mode = sync.mode ?? 'upsert';
  const known = salesforceModes.find((m) => m === mode);
  if (known === undefined) {
    throw new FatalDestinationError(
      `Sync ${sync.id} has mode '${String(mode)}', which a Salesforce sync does not have; use one of ${salesforceModes.join(', ')}`,
    );
  }
  return known;
}

function didYouMean(candidates: string[]): string {
  return candidates.length > 0 ? ` Did you mean ${candidates.map((c) => `'${c}'`).join(' or ')}?` : '';
}

/**
 * Values sent as JSON: dates as ISO strings, big integers as numbers when exact, otherwise decimal
 * text (written as a number literal for numeric fields, see sObject).
 */
function toJsonValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  // Structs, lists and maps go as JSON text: a Salesforce field holds one value, never an object.
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
