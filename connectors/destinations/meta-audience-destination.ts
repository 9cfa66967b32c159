/**
 * Meta Custom Audiences destination: a model's rows become the members of a customer-list custom
 * audience. Each row's identifiers are normalised and SHA-256 hashed here (meta-audience-identifiers.ts);
 * only the hashes are staged, stored and sent, so no raw email or phone reaches Meta, ebb's state
 * store, its logs or its alerts.
 *
 *   destinations:
 *     meta: { type: meta-audiences, accessToken: ${META_ACCESS_TOKEN} }
 *   syncs:
 *     customers-to-meta:
 *       model: customers                # primary key: a customer id, never an identifier column
 *       destination: meta
 *       audienceId: "23851234567890123"
 *       mode: mirror                     # add (default) | mirror (also removes rows that left)
 *       identifiers: { email: EMAIL, phone: PHONE, first_name: FN, last_name: LN, country: COUNTRY }
 *
 * A record's destination id is its hashed identifiers (`EMAIL:<sha256> PHONE:<sha256>`): mirror mode
 * removes a row that left the model with exactly the hashes it was added with, and a row whose
 * identifiers changed has its old hashes removed before the new ones are added. Adding and removing
 * are idempotent at Meta, so a re-executed delivery changes nothing twice.
 *
 * A run's requests form Meta upload sessions: one for its additions and one for its removals, with
 * `batch_seq` the batch's number in the run and `last_batch_flag` on the run's last batch.
 */
import {
  FatalDestinationError,
  RecordPreparationError,
  TransientDestinationError,
  type DeliveryContext,
  type Destination,
  type DestinationConnector,
  type DestinationLimits,
  type PreparedRecord,
  type RecordOutcome,
  type RecordToDeliver,
  type Row,
  columnsNotSelected,
  type StaticProblem,
} from './destination';
import {
  META_MAX_BATCH,
  META_MODES,
  identifierSchema,
  metaConnectionSchema,
  metaSyncOptionsSchema,
  type MetaConnection,
  type MetaSyncOptions,
} from './meta-audience-config';
import { MetaApi, MetaApiError, MetaNetworkError, type UploadSession, type UsersPayload } from './meta-audience-api';
import {
  IDENTIFIER_RULES,
  IDENTIFIER_TYPES,
  hashIdentifier,
  sha256Hex,
  splitDateOfBirth,
  type IdentifierType,
} from './meta-audience-identifiers';

export { metaConnectionSchema, metaSyncOptionsSchema, type MetaConnection, type MetaSyncOptions };

/**
 * One request at a time per worker keeps a run's batches arriving at Meta in session order; each
 * request carries up to 10,000 people, so throughput is bounded by Meta's processing, not by this.
 */
export const META_DEFAULT_LIMITS: DestinationLimits = { batchSize: META_MAX_BATCH, maxConcurrency: 1 };

/**
 * Meta's throttling codes (Graph API error codes): 4 app, 17 user, 32 page, 341 application limit,
 * 613 calls per hour, 80003 custom audience, 80004 ads management; 1 and 2 are Meta's own passing
 * trouble. All are worth a retry with backoff.
 */
export const META_TRANSIENT_CODES: ReadonlySet<number> = new Set([1, 2, 4, 17, 32, 341, 613, 80003, 80004]);

/** Hashes by Meta key: what a record stores as payload and (encoded) as destination id. */
type HashedIdentifiers = Partial<Record<IdentifierType, string>>;

export function encodeDestinationId(hashes: HashedIdentifiers): string {
  return IDENTIFIER_TYPES.filter((t) => hashes[t])
    .map((t) => `${t}:${hashes[t]}`)
    .join(' ');
}

export function decodeDestinationId(id: string | null): HashedIdentifiers | null {
  if (!id) return null;
  const out: HashedIdentifiers = {};
  for (const part of id.split(' ')) {
    const at = part.indexOf(':');
    const type = part.slice(0, at) as IdentifierType;
    if (at <= 0 || !IDENTIFIER_TYPES.includes(type)) return null;
    out[type] = part.slice(at + 1);
  }
  return Object.keys(out).length ? out : null;
}

/** A stable int64-safe session id for (sync, run, additions or removals), the same on every attempt. */
function sessionId(syncId: string, run: number, kind: 'add' | 'remove'): number {
  return Number.parseInt(sha256Hex(`${syncId}\u0000${run}\u0000${kind}`).slice(0, 13), 16) + 1;
}

class MetaAudienceDestination implements Destination {
  readonly limits: DestinationLimits;
  private readonly api: MetaApi;
  private readonly schema: ReturnType<typeof identifierSchema>;
  private readonly tokenPath: string;
  private readonly hashKeys: boolean;

  constructor(
    connection: MetaConnection,
    private readonly sync: MetaSyncOptions & { id: string; primaryKey: string },
  ) {
    this.limits = { ...META_DEFAULT_LIMITS, ...connection.limits };
    this.api = new MetaApi({
      accessToken: connection.accessToken,
      apiUrl: connection.apiUrl,
      apiVersion: connection.apiVersion,
    });
    this.schema = identifierSchema(sync.identifiers);
    this.tokenPath = `destinations.${sync.destination ?? '<name>'}.accessToken`;
    const keyType = sync.identifiers[sync.primaryKey];
    this.hashKeys = keyType !== undefined && keyType !== 'EXTERN_ID';
  }

  async check(): Promise<void> {
    const where = `syncs.${this.sync.id}`;
    let audience;
    try {
      audience = await this.api.audience(this.sync.audienceId);
    } catch (error) {
      throw this.classify(error);
    }
    if (audience.subtype && audience.subtype !== 'CUSTOM') {
      throw new FatalDestinationError(
        `${where}.audienceId: audience ${this.sync.audienceId} is a ${audience.subtype} audience; users can be added only to a customer list (CUSTOM) audience`,
      );
    }
    if (audience.operation_status?.code === 471) {
      throw new FatalDestinationError(
        `${where}.audienceId: Meta has flagged audience ${this.sync.audienceId} (operation status 471): resolve its restrictions in Audience Manager before ebb can change its members`,
      );
    }
  }

  /**
   * Record keys live in ebb's state store, `ebb records` and alerts. A key that is personal data (the
   * primary key column is mapped to a personal identifier, or the key holds an '@') is stored as its
   * SHA-256 instead; a customer id (mapped as EXTERN_ID or not mapped) stays readable.
   */
  recordKey(primaryKey: string): string {
    return this.hashKeys || primaryKey.includes('@') ? `sha256:${sha256Hex(primaryKey)}` : primaryKey;
  }

  prepare(row: Row): PreparedRecord {
    const hashes: HashedIdentifiers = {};
    for (const { type, column, fromDate } of this.schema) {
      let value = row[column];
      if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) continue;
      if (fromDate) {
        const parts = splitDateOfBirth(value);
        if (!parts) {
          throw new RecordPreparationError(
            `column ${column} (DOB) does not hold a date of birth (YYYY-MM-DD); the value is not repeated here, to keep it out of ebb's records`,
            'INVALID_IDENTIFIER',
          );
        }
        value = parts[type as 'DOBY' | 'DOBM' | 'DOBD'];
      }
      const hashed = hashIdentifier(type, value);
      if (!hashed.ok) {
        throw new RecordPreparationError(
          `column ${column} (${type}) does not hold ${IDENTIFIER_RULES[type]}; the value is not repeated here, to keep it out of ebb's records`,
          'INVALID_IDENTIFIER',
        );
      }
      hashes[type] = hashed.hash;
    }
    if (Object.keys(hashes).length === 0) {
      const columns = [...new Set(this.schema.map((s) => s.column))].join(', ');
      throw new RecordPreparationError(
        `the row has no identifier: ${columns} ${columns.includes(',') ? 'are all' : 'is'} empty`,
        'NO_IDENTIFIERS',
      );
    }
    return { key: this.recordKey(String(row[this.sync.primaryKey])), payload: hashes };
  }

  /**
   * Removals first (rows that left, and in mirror mode the old hashes of rows whose identifiers
   * changed), then additions: a person whose email changed is removed by the old row and added
   * back by the new one, never the other way round.
   */
  async deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
    const outcomes = new Map<number, RecordOutcome>();
    const removals: Array<{ index: number; hashes: HashedIdentifiers }> = [];
    const additions: Array<{ index: number; hashes: HashedIdentifiers }> = [];
    records.forEach((record, index) => {
      const previous = decodeDestinationId(record.destinationId);
      if (record.operation === 'delete') {
        if (previous) removals.push({ index, hashes: previous });
        else outcomes.set(index, { key: record.key, status: 'succeeded', destinationId: null });
        return;
      }
      const hashes = record.payload as HashedIdentifiers;
      if (this.sync.mode === 'mirror' && previous && record.destinationId !== encodeDestinationId(hashes)) {
        removals.push({ index: -1, hashes: previous });
      }
      additions.push({ index, hashes });
    });

    for (const group of groupBySchema(removals)) {
      ctx.heartbeat();
      const invalid = await this.send('DELETE', group, records, ctx);
      for (const { index } of group.rows) {
        const record = records[index];
        if (!record) continue;
        outcomes.set(index, invalid.get(index) ?? { key: record.key, status: 'succeeded', destinationId: null });
      }
    }
    if (additions.length) {
      ctx.heartbeat();
      const schema = this.schema.map((s) => s.type);
      const invalid = await this.send('POST', { schema, rows: additions }, records, ctx);
      for (const { index, hashes } of additions) {
        const record = records[index] as RecordToDeliver;
        outcomes.set(
          index,
          invalid.get(index) ?? {
            key: record.key,
            status: 'succeeded',
            destinationId: encodeDestinationId(hashes),
          },
        );
      }
    }
    return records.map(
      (record, index) => outcomes.get(index) ?? { key: record.key, status: 'succeeded', destinationId: null },
    );
  }

  /** One users request; returns failed outcomes for the rows Meta named as invalid entries. */
  private async send(
    method: 'POST' | 'DELETE',
    group: { schema: IdentifierType[]; rows: Array<{ index: number; hashes: HashedIdentifiers }> },
    records: RecordToDeliver[],
    ctx: DeliveryContext,
  ): Promise<Map<number, RecordOutcome>> {
    const payload: UsersPayload = {
      schema: group.schema,
      data: group.rows.map(({ hashes }) => group.schema.map((t) => hashes[t] ?? '')),
    };
    let response;
    try {
      response = await this.api.users(
        method,
        this.sync.audienceId,
        payload,
        this.session(method, group.rows.length, ctx),
      );
    } catch (error) {
      throw this.classify(error);
    }
    const failed = new Map<number, RecordOutcome>();
    if (!response.num_invalid_entries || !response.invalid_entry_samples) return failed;
    // Meta names a sample of the invalid values: the rows holding them failed; the rest were taken.
    const samples = new Map(Object.entries(response.invalid_entry_samples).map(([value, why]) => [value, String(why)]));
    for (const { index, hashes } of group.rows) {
      if (index < 0) continue;
      for (const type of group.schema) {
        const why = hashes[type] !== undefined ? samples.get(hashes[type] as string) : undefined;
        if (why === undefined) continue;
        failed.set(index, {
          key: (records[index] as RecordToDeliver).key,
          status: 'failed',
          errorCode: 'INVALID_ENTRY',
          errorMessage: `Meta counted this row's ${type} as an invalid entry (${why}) and did not ${method === 'POST' ? 'add' : 'remove'} it`,
          fields: [type],
        });
        break;
      }
    }
    return failed;
  }

  private session(method: 'POST' | 'DELETE', rows: number, ctx: DeliveryContext): UploadSession | null {
    const run = ctx.run;
    if (!run) return null;
    const kind = method === 'POST' ? 'add' : 'remove';
    return {
      session_id: sessionId(ctx.syncId, run.number, kind),
      batch_seq: run.batch,
      last_batch_flag: run.batch >= run.batches,
      estimated_num_total: Math.max(rows, kind === 'add' ? run.upserts : run.deletes),
    };
  }

  /**
   * Meta's error codes as ebb's levels: throttling and Meta's passing trouble are transient; a
   * refused token (190, 102, 104), missing permissions (10, 200-299, e.g. 294 without
   * ads_management), a missing audience (100/33) and anything else Meta refuses (2650, 368, other
   * 100s) are fatal, with Meta's message and code. Per-record trouble comes back as invalid entries.
   */
  private classify(error: unknown): Error {
    const where = `syncs.${this.sync.id}`;
    if (error instanceof MetaNetworkError) return new TransientDestinationError(error.message, { cause: error });
    if (!(error instanceof MetaApiError)) return error as Error;
    const said = `Meta said: ${error.message}${error.code !== null ? ` (code ${error.code}${error.subcode ? `, subcode ${error.subcode}` : ''})` : ''}`;
    if (
      (error.code !== null && META_TRANSIENT_CODES.has(error.code)) ||
      error.details.isTransient ||
      error.status >= 500 ||
      error.status === 429
    ) {
      return new TransientDestinationError(`Meta is throttling or briefly unavailable; ${said}`, {
        cause: error,
        retryAfterMs: error.details.retryAfterMs,
      });
    }
    if (error.code === 190 || error.code === 102 || error.code === 104 || error.status === 401) {
      return new FatalDestinationError(
        `the access token in ${this.tokenPath} was refused (expired, revoked or invalid): generate a new system user token with the ads_management permission and set it there. ${said}`,
        { cause: error },
      );
    }
    if (error.code === 10 || (error.code !== null && error.code >= 200 && error.code <= 299)) {
      return new FatalDestinationError(
        `the access token in ${this.tokenPath} may not change audience ${this.sync.audienceId}: give its system user the ads_management permission and access to the ad account. ${said}`,
        { cause: error },
      );
    }
    if (error.code === 100 && error.subcode === 33) {
      return new FatalDestinationError(
        `${where}.audienceId: audience ${this.sync.audienceId} does not exist or this token cannot see it (deleted?): check the id in Audience Manager. ${said}`,
        { cause: error },
      );
    }
    if (error.details.userMessage) {
      return new FatalDestinationError(
        `${where}: ${error.details.userTitle ? `${error.details.userTitle}: ` : ''}${error.details.userMessage}. ${said}`,
        { cause: error },
      );
    }
    return new FatalDestinationError(`${where}: audience ${this.sync.audienceId} refused the request. ${said}`, {
      cause: error,
    });
  }

  async close(): Promise<void> {}
}

/** Removal rows grouped by the keys they hold, so each DELETE names one schema. */
function groupBySchema(
  rows: Array<{ index: number; hashes: HashedIdentifiers }>,
): Array<{ schema: IdentifierType[]; rows: Array<{ index: number; hashes: HashedIdentifiers }> }> {
  const groups = new Map<
    string,
    { schema: IdentifierType[]; rows: Array<{ index: number; hashes: HashedIdentifiers }> }
  >();
  for (const row of rows) {
    const schema = IDENTIFIER_TYPES.filter((t) => row.hashes[t]);
    const id = schema.join(',');
    const group = groups.get(id) ?? { schema, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  return [...groups.values()];
}

function staticCheck(input: { sync: MetaSyncOptions; modelColumns: string[] | null }): StaticProblem[] {
  return columnsNotSelected(['identifiers'], Object.keys(input.sync.identifiers), input.modelColumns);
}

export const metaAudienceConnector: DestinationConnector<MetaConnection, MetaSyncOptions> = {
  type: 'meta-audiences',
  modes: META_MODES,
  connectionSchema: metaConnectionSchema,
  syncOptionsSchema: metaSyncOptionsSchema,
  staticCheck,
  create: ({ connection, sync }) => new MetaAudienceDestination(connection, sync),
};
