/**
 * HubSpot destination: model rows become CRM records of one object type (contacts, companies, or
 * any object), upserted in batches of up to 100 by a unique-value property (`idProperty`) through
 * the official @hubspot/api-client (hubspot-api.ts). Config: hubspot-config.ts.
 *
 *   syncs:
 *     accounts-to-hubspot:
 *       object: companies
 *       mode: mirror                       # upsert (default) | mirror: also archives rows that left
 *       idProperty: { from: account_id, to: external_account_id }
 *       mapping: { name: name, health: health_score, segment: segment }
 *
 * Before a run, check() reads the object's property definitions and refuses, naming sync, column
 * and property: an unknown property (with the nearest names), a read-only or calculated one, and
 * an idProperty HubSpot cannot upsert by (not unique-value). prepare() then checks each row's
 * values against the definitions (enumeration options, numbers, booleans), so a bad value fails
 * its record before any request.
 *
 * Outcomes: a 207 answer fails only the inputs HubSpot names, with its category and message;
 * results arrive in any order and are matched by objectWriteTraceId, or else by the idProperty
 * value. The HubSpot record id is kept as the destination id, and mirror mode archives by it.
 * 429s wait as HubSpot's rate-limit headers say (the ten-second window, or the daily limit until
 * its reset at midnight in the account's time zone), 5xx and lost replies are retried by Temporal
 * (upserts by idProperty are idempotent), and a refused token or missing scope fails the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConnectionScope } from './connection-scope';
import {
  FatalDestinationError,
  RecordPreparationError,
  TransientDestinationError,
  type DeliveryContext,
  type Destination,
  type DestinationConnector,
  type DestinationLimits,
  type PreparedRecord,
  type ReadBackResult,
  type RecordOutcome,
  type RecordToDeliver,
  type RecordToReadBack,
  type Row,
  columnsNotSelected,
} from './destination';
import {
  HubSpotApi,
  HubSpotApiError,
  HubSpotNetworkError,
  type BatchError,
  type HubSpotProperty,
  type UpsertInput,
  type UpsertResult,
} from './hubspot-api';
import {
  DEFAULT_TOKEN_ENV,
  HUBSPOT_MAX_BATCH,
  HUBSPOT_MODES,
  hubspotConnectionSchema,
  hubspotSyncOptionsSchema,
  type HubSpotConnection,
  type HubSpotSyncOptions,
} from './hubspot-config';
import { closestNames } from './salesforce-name-suggestions';

export { hubspotConnectionSchema, hubspotSyncOptionsSchema, type HubSpotConnection, type HubSpotSyncOptions };

/**
 * 9 requests a second stays under the 100 per 10 s HubSpot gives a private app on every tier, with
 * room for the property read; 4 in flight per worker keeps a slow answer from stalling the rest.
 */
export function hubspotLimits(configured: HubSpotConnection['limits'] = {}): DestinationLimits {
  return {
    batchSize: configured.batchSize ?? HUBSPOT_MAX_BATCH,
    maxConcurrency: configured.maxConcurrency ?? 4,
    requestsPerSecond: configured.requestsPerSecond ?? 9,
  };
}

/** Where the token comes from, as error messages name it. */
interface TokenSource {
  token: string;
  /** "environment variable HUBSPOT_ACCESS_TOKEN" or "file /etc/ebb/hubspot-token". */
  where: string;
  /** The config key naming that source: destinations.hubspot.accessTokenEnv. */
  setting: string;
}

export function resolveAccessToken(
  connection: HubSpotConnection,
  destinationName: string,
  baseDir: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TokenSource {
  const at = `destinations.${destinationName}`;
  if (connection.accessTokenFile !== undefined) {
    const file = path.resolve(baseDir ?? process.cwd(), connection.accessTokenFile);
    const setting = `${at}.accessTokenFile`;
    let token: string;
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new FatalDestinationError(
        `the HubSpot access token file ${file} (${setting}) cannot be read: ${(error as Error).message}. Put the private app's token in it, or point ${setting} at the right file`,
      );
    }
    if (token === '')
      throw new FatalDestinationError(
        `the HubSpot access token file ${file} (${setting}) is empty: put the private app's token in it`,
      );
    return { token, where: `file ${file}`, setting };
  }
  const name = connection.accessTokenEnv ?? DEFAULT_TOKEN_ENV;
  const setting = `${at}.accessTokenEnv`;
  const token = env[name]?.trim() ?? '';
  if (token === '') {
    throw new FatalDestinationError(
      `environment variable ${name} (${connection.accessTokenEnv ? setting : `the default of ${setting}`}) is not set: export ${name} with the HubSpot private app's access token, or name another variable with accessTokenEnv, or a file with accessTokenFile`,
    );
  }
  return { token, where: `environment variable ${name}`, setting };
}

/** The instant HubSpot's daily limit resets after `now`: the next midnight in `timeZone`. */
export function nextDailyReset(now: Date, timeZone: string): Date {
  const local = (at: Date) => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    }).formatToParts(at);
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    return {
      utc: Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')),
      midnightAfter: Date.UTC(get('year'), get('month') - 1, get('day') + 1),
    };
  };
  const offset = (at: Date) => local(at).utc - Math.floor(at.getTime() / 1000) * 1000;
  const midnight = local(now).midnightAfter;
  // Twice, so a day whose offset changes (daylight saving) lands on the offset in force at midnight.
  let guess = midnight - offset(now);
  guess = midnight - offset(new Date(guess));
  return new Date(guess);
}

const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const ISO_MIDNIGHT = /^(\d{4}-\d{2}-\d{2})T00:00:00(\.0+)?(Z|[+-]00:?00)?$/;

/** Enumeration field types that hold several options, written `a;b;c` (a multiple checkbox). */
const MULTI_VALUE_FIELD_TYPES = new Set(['checkbox']);

/** Errors of a 400 answer that are about the config, not a value: no retry or split can help. */
const CONFIG_ERRORS =
  /PROPERTY_DOESNT_EXIST|READ_ONLY_VALUE|not a unique value property|does not exist on|Unable to infer object type|Too many inputs/;

interface Problem {
  path: string[];
  message: string;
}

class HubSpotDestination implements Destination {
  readonly limits: DestinationLimits;
  readonly partialUpdateKeys: readonly string[];
  private readonly name: string;
  private readonly where: string;
  private definitions: Map<string, HubSpotProperty> | null = null;
  private tokenSource: TokenSource | null = null;

  constructor(
    private readonly connection: HubSpotConnection,
    private readonly sync: HubSpotSyncOptions & { id: string; primaryKey: string; mode?: string },
    private readonly scope: ConnectionScope | undefined,
    private readonly baseDir: string | undefined,
  ) {
    this.limits = hubspotLimits(connection.limits);
    this.name = scope?.name ?? sync.destination ?? 'hubspot';
    this.where = `sync ${sync.id}`;
    this.partialUpdateKeys = [sync.idProperty.to];
  }

  /** One client per destination connection in the process (its syncs share the rate-limit figures). */
  private api(): HubSpotApi {
    const create = () => {
      const source = resolveAccessToken(this.connection, this.name, this.baseDir);
      return { source, api: new HubSpotApi({ accessToken: source.token, basePath: this.connection.basePath }) };
    };
    const shared = this.scope ? this.scope.shared('hubspot-api', create) : (this.own ??= create());
    this.tokenSource = shared.source;
    this.client = shared.api;
    return shared.api;
  }
  private own: { source: TokenSource; api: HubSpotApi } | undefined;
  private client: HubSpotApi | null = null;

  /** The private app's daily usage from the latest response's headers, so the engine pauses before it runs out. */
  apiUsage(): { used: number; limit: number } | null {
    const latest = this.client?.lastRateLimit() ?? null;
    if (!latest) return null;
    const { dailyLimit, dailyRemaining } = latest.info;
    if (dailyLimit === undefined || dailyRemaining === undefined) return null;
    // Figures from before the last reset say nothing about today.
    if (nextDailyReset(latest.at, this.connection.timeZone).getTime() <= Date.now()) return null;
    return { used: dailyLimit - dailyRemaining, limit: dailyLimit };
  }

  async check(): Promise<void> {
    const api = this.api();
    let properties: HubSpotProperty[];
    try {
      properties = await api.properties(this.sync.object);
    } catch (error) {
      throw this.classify(error, 'check');
    }
    const byName = new Map(properties.map((p) => [p.name, p]));
    const problems = this.propertyProblems(byName);
    if (problems.length > 0) {
      this.definitions = null;
      throw new FatalDestinationError(
        `The HubSpot properties of ${this.where} do not match ${this.sync.object}:\n  - ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n  - ')}`,
        { problems },
      );
    }
    this.definitions = byName;
  }

  private propertyProblems(byName: Map<string, HubSpotProperty>): Problem[] {
    const { object, idProperty } = this.sync;
    const problems: Problem[] = [];
    const names = [...byName.keys()];
    const unknown = (property: string) => {
      const near = closestNames(property, names);
      return `${object} has no property '${property}'${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ''} Use the property's internal name (Settings > Properties), or create it in HubSpot`;
    };
    const id = byName.get(idProperty.to);
    if (!id) {
      problems.push({
        path: ['idProperty', 'to'],
        message: `${this.where}, column ${idProperty.from}: ${unknown(idProperty.to)}`,
      });
    } else if (!id.hasUniqueValue && !(object === 'contacts' && id.name === 'email')) {
      const unique = [...byName.values()]
        .filter((p) => p.hasUniqueValue && !p.readOnlyValue && !p.calculated)
        .map((p) => p.name);
      problems.push({
        path: ['idProperty', 'to'],
        message: `${this.where}, column ${idProperty.from}: property '${id.name}' of ${object} is not a unique-value property (hasUniqueValue is false), so HubSpot cannot upsert by it. ${unique.length ? `Unique-value properties of ${object}: ${unique.join(', ')}` : `Create a property with "Require unique values" on ${object}`}`,
      });
    } else if (id.readOnlyValue || id.calculated) {
      problems.push({
        path: ['idProperty', 'to'],
        message: `${this.where}, column ${idProperty.from}: property '${id.name}' of ${object} is read-only, so no record can be created with it; use a unique-value property ebb may write`,
      });
    }
    for (const [column, property] of Object.entries(this.sync.mapping)) {
      const path = ['mapping', column];
      const definition = byName.get(property);
      if (!definition) {
        problems.push({ path, message: `${this.where}, column ${column}: ${unknown(property)}` });
      } else if (definition.readOnlyValue || definition.calculated) {
        problems.push({
          path,
          message: `${this.where}, column ${column}: property '${property}' of ${object} is read-only${definition.calculated ? ' (calculated by HubSpot)' : ''}; its value cannot be set. Remove it from the mapping or map the column to a property ebb may write`,
        });
      }
    }
    return problems;
  }

  prepare(row: Row): PreparedRecord {
    const { idProperty, mapping, primaryKey } = this.sync;
    const rawId = row[idProperty.from];
    if (rawId === null || rawId === undefined || String(rawId).trim() === '') {
      throw new RecordPreparationError(
        `column ${idProperty.from} is empty, and HubSpot needs it as ${idProperty.to} (the idProperty) to upsert the row`,
        'MISSING_ID_PROPERTY',
      );
    }
    const payload: Record<string, string> = { [idProperty.to]: this.text(idProperty.from, idProperty.to, rawId) };
    for (const [column, property] of Object.entries(mapping)) {
      payload[property] = this.text(column, property, row[column]);
    }
    return { key: String(row[primaryKey]), payload };
  }

  /**
   * A warehouse value as the string HubSpot stores: '' clears the property, numbers keep their
   * digits, booleans are 'true'/'false', dates YYYY-MM-DD. With the definitions (after check()),
   * values a property cannot hold fail the record here, before any request.
   */
  private text(column: string, property: string, value: unknown): string {
    const definition = this.definitions?.get(property);
    if (value === null || value === undefined) return '';
    let text: string;
    if (value instanceof Date) text = value.toISOString();
    else if (typeof value === 'object') text = JSON.stringify(value);
    else text = String(value);
    if (!definition || text === '') return text;
    const refuse = (code: string, why: string) =>
      new RecordPreparationError(
        `${this.where}, column ${column} -> property ${property} of ${this.sync.object}: ${why}; the record was not sent`,
        code,
      );
    switch (definition.type) {
      case 'number':
        if (!NUMBER.test(text.trim())) throw refuse('INVALID_NUMBER', `holds ${JSON.stringify(text)}, not a number`);
        return text.trim();
      case 'bool':
        if (/^(true|false)$/i.test(text)) return text.toLowerCase();
        throw refuse('INVALID_BOOLEAN', `holds ${JSON.stringify(text)}, and the property takes true or false`);
      case 'date': {
        const day = ISO_MIDNIGHT.exec(text)?.[1] ?? (/^\d{4}-\d{2}-\d{2}$/.test(text) ? text : null);
        if (!day) throw refuse('INVALID_DATE', 'does not hold a date (YYYY-MM-DD, or midnight UTC)');
        return day;
      }
      case 'enumeration':
        return this.option(definition, text, refuse);
      default:
        return text;
    }
  }

  /** An enumeration value as HubSpot's internal value; a label (any case) is taken for its value. */
  private option(
    definition: HubSpotProperty,
    text: string,
    refuse: (code: string, why: string) => RecordPreparationError,
  ): string {
    const chosen = MULTI_VALUE_FIELD_TYPES.has(definition.fieldType) ? text.split(';') : [text];
    const values = chosen.map((v) => {
      const exact = definition.options.find((o) => o.value === v);
      if (exact) return exact.value;
      return definition.options.find((o) => o.label.toLowerCase() === v.toLowerCase())?.value ?? null;
    });
    const bad = chosen.filter((_, i) => values[i] === null);
    if (bad.length > 0) {
      throw refuse(
        'INVALID_OPTION',
        `holds ${bad.map((v) => `'${v}'`).join(', ')}, which is not among the property's options (${definition.options.map((o) => o.value).join(', ')})`,
      );
    }
    return values.join(';');
  }

  async deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
    const api = this.api();
    const outcomes = new Map<RecordToDeliver, RecordOutcome>();
    const upserts: RecordToDeliver[] = [];
    const archives: RecordToDeliver[] = [];
    const seen = new Map<string, RecordToDeliver>();
    for (const record of records) {
      if (record.operation === 'delete') {
        // Never delivered (or its upsert failed): HubSpot holds nothing of it to archive.
        if (record.destinationId) archives.push(record);
        else outcomes.set(record, { key: record.key, status: 'succeeded', destinationId: null });
        continue;
      }
      const id = this.idValue(record);
      const other = seen.get(this.matchKey(id));
      if (other) {
        outcomes.set(record, {
          key: record.key,
          status: 'failed',
          errorCode: 'DUPLICATE_ID_PROPERTY',
          errorMessage: `row ${other.key} of the same batch has the same ${this.sync.idProperty.to}; HubSpot refuses a batch naming one record twice, so this row was not sent. Make ${this.sync.idProperty.from} unique in the model`,
          fields: [this.sync.idProperty.to],
        });
        continue;
      }
      seen.set(this.matchKey(id), record);
      upserts.push(record);
    }
    for (let i = 0; i < upserts.length; i += HUBSPOT_MAX_BATCH) {
      const chunk = upserts.slice(i, i + HUBSPOT_MAX_BATCH);
      const answered = await this.upsertChunk(api, chunk, ctx);
      chunk.forEach((record, j) => outcomes.set(record, answered[j] as RecordOutcome));
    }
    for (let i = 0; i < archives.length; i += HUBSPOT_MAX_BATCH) {
      const chunk = archives.slice(i, i + HUBSPOT_MAX_BATCH);
      ctx.heartbeat();
      try {
        await api.archive(
          this.sync.object,
          chunk.map((r) => r.destinationId as string),
        );
      } catch (error) {
        throw this.classify(error, 'deliver');
      }
      for (const record of chunk) outcomes.set(record, { key: record.key, status: 'succeeded', destinationId: null });
    }
    return records.map((record) => outcomes.get(record) as RecordOutcome);
  }

  private idValue(record: RecordToDeliver): string {
    return String(record.payload[this.sync.idProperty.to] ?? '');
  }

  /** HubSpot matches emails without regard to case; other unique values as they are. */
  private matchKey(id: string): string {
    return this.sync.idProperty.to === 'email' ? id.trim().toLowerCase() : id;
  }

  /**
   * One batch upsert. A 400 about a value (HubSpot refuses some batches whole) is split in halves
   * until the record at fault stands alone and fails by itself, about log2(n) extra requests.
   */
  private async upsertChunk(api: HubSpotApi, chunk: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
    ctx.heartbeat();
    const idProperty = this.sync.idProperty.to;
    const inputs: UpsertInput[] = chunk.map((record, i) => {
      const properties: Record<string, string> = {};
      for (const [name, value] of Object.entries(record.payload)) {
        if (name !== idProperty && value !== undefined) properties[name] = String(value ?? '');
      }
      return { idProperty, id: this.idValue(record), objectWriteTraceId: String(i), properties };
    });
    let answer: { results: UpsertResult[]; errors: BatchError[] };
    try {
      answer = await api.upsert(this.sync.object, inputs);
    } catch (error) {
      if (
        error instanceof HubSpotApiError &&
        error.status === 400 &&
        error.category === 'VALIDATION_ERROR' &&
        !CONFIG_ERRORS.test(error.message)
      ) {
        if (chunk.length === 1) {
          const only = chunk[0] as RecordToDeliver;
          return [{ key: only.key, status: 'failed', errorCode: error.category, errorMessage: error.message }];
        }
        const middle = Math.ceil(chunk.length / 2);
        return [
          ...(await this.upsertChunk(api, chunk.slice(0, middle), ctx)),
          ...(await this.upsertChunk(api, chunk.slice(middle), ctx)),
        ];
      }
      throw this.classify(error, 'deliver');
    }
    return this.match(chunk, inputs, answer);
  }

  /** One outcome per input, in input order, from an answer whose results and errors come in any order. */
  private match(
    chunk: RecordToDeliver[],
    inputs: UpsertInput[],
    answer: { results: UpsertResult[]; errors: BatchError[] },
  ): RecordOutcome[] {
    const byTrace = new Map(inputs.map((input, i) => [input.objectWriteTraceId, i]));
    const byId = new Map(inputs.map((input, i) => [this.matchKey(input.id), i]));
    const idProperty = this.sync.idProperty.to;
    const outcomes: Array<RecordOutcome | undefined> = new Array(chunk.length);
    for (const result of answer.results) {
      const stored = result.properties[idProperty];
      const index =
        (result.objectWriteTraceId !== undefined ? byTrace.get(result.objectWriteTraceId) : undefined) ??
        (stored != null ? byId.get(this.matchKey(stored)) : undefined);
      if (index === undefined) continue;
      const record = chunk[index] as RecordToDeliver;
      outcomes[index] = { key: record.key, status: 'succeeded', destinationId: result.id, created: result.isNew };
    }
    const unplaced: BatchError[] = [];
    for (const error of answer.errors) {
      const indexes = [
        ...(error.context.objectWriteTraceId ?? []).map((t) => byTrace.get(t)),
        ...(error.context.ids ?? []).map((id) => byId.get(this.matchKey(id))),
      ].filter((i): i is number => i !== undefined && outcomes[i] === undefined);
      if (indexes.length === 0) unplaced.push(error);
      for (const index of new Set(indexes)) outcomes[index] = this.failed(chunk[index] as RecordToDeliver, [error]);
    }
    const missing = outcomes.flatMap((o, i) => (o === undefined ? [i] : []));
    if (missing.length > 0 && unplaced.length === 0) {
      // Nothing says what became of them; upserts by idProperty are idempotent, so sending again is safe.
      throw new TransientDestinationError(
        `HubSpot's answer to a batch upsert of ${this.where} named no result for ${missing.length} of ${chunk.length} inputs; the batch is sent again`,
      );
    }
    for (const index of missing) outcomes[index] = this.failed(chunk[index] as RecordToDeliver, unplaced);
    return outcomes as RecordOutcome[];
  }

  private failed(record: RecordToDeliver, errors: BatchError[]): RecordOutcome {
    const first = errors[0];
    const details = errors.flatMap((e) => e.errors);
    const fields = [...new Set(details.flatMap((d) => (d.in ? [d.in] : [])))];
    const message = details.length
      ? details.map((d) => `${d.in ? `${d.in}: ` : ''}${d.message}${d.code ? ` (${d.code})` : ''}`).join('; ')
      : errors.map((e) => e.message).join('; ');
    return {
      key: record.key,
      status: 'failed',
      errorCode: first?.category ?? 'UNKNOWN',
      errorMessage: message || 'HubSpot refused the record without a message',
      ...(fields.length ? { fields } : {}),
    };
  }

  async readBack(records: RecordToReadBack[]): Promise<ReadBackResult[]> {
    const api = this.api();
    const idProperty = this.sync.idProperty.to;
    const properties = [...new Set(records.flatMap((r) => Object.keys(r.payload)))];
    const found = new Map<string, Record<string, string | null>>();
    for (let i = 0; i < records.length; i += HUBSPOT_MAX_BATCH) {
      const chunk = records.slice(i, i + HUBSPOT_MAX_BATCH);
      let read;
      try {
        read = await api.read(
          this.sync.object,
          idProperty,
          chunk.map((r) => String(r.payload[idProperty] ?? '')),
          properties,
        );
      } catch (error) {
        throw this.classify(error, 'deliver');
      }
      for (const r of read) {
        const id = r.properties[idProperty];
        if (id != null) found.set(this.matchKey(id), r.properties);
      }
    }
    return records.map((record): ReadBackResult => {
      const stored = found.get(this.matchKey(String(record.payload[idProperty] ?? '')));
      if (!stored) return { key: record.key, status: 'missing' };
      const fields = Object.entries(record.payload)
        .filter(([name, sent]) => name !== idProperty && !this.sameValue(name, sent, stored[name]))
        .map(([field, sent]) => ({ field, sent, stored: stored[field] ?? undefined }));
      return fields.length ? { key: record.key, status: 'changed', fields } : { key: record.key, status: 'matches' };
    });
  }

  /** HubSpot's own equality: an empty property reads back as null or absent, numbers lose trailing zeros. */
  private sameValue(name: string, sent: unknown, stored: string | null | undefined): boolean {
    const text = sent === null || sent === undefined ? '' : String(sent);
    const held = stored ?? '';
    if (text === held) return true;
    const type = this.definitions?.get(name)?.type;
    return (type === 'number' || (NUMBER.test(text) && NUMBER.test(held))) && Number(text) === Number(held);
  }

  /**
   * HubSpot's answers as ebb's failure levels. `during` says whether a run's check or a delivery
   * asked: the object type is unknown only at the check (a delivery's 400s are about its inputs).
   */
  private classify(error: unknown, during: 'check' | 'deliver'): Error {
    if (error instanceof FatalDestinationError) return error;
    if (error instanceof HubSpotNetworkError) return new TransientDestinationError(error.message, { cause: error });
    if (!(error instanceof HubSpotApiError)) return error as Error;
    const said = `HubSpot said: ${error.category ? `${error.category}: ` : ''}${error.message}${error.correlationId ? ` (correlationId ${error.correlationId})` : ''}`;
    const { object } = this.sync;
    if (error.status === 429) return this.rateLimited(error, said);
    if (error.status >= 500) {
      return new TransientDestinationError(`HubSpot answered ${error.status} to ${this.where}; ${said}`, {
        cause: error,
        retryAfterMs: error.rateLimit.retryAfterMs,
      });
    }
    const source = this.tokenSource;
    if (error.status === 401) {
      return new FatalDestinationError(
        `HubSpot refused the access token from ${source?.where ?? 'the configured source'} (${source?.setting ?? `destinations.${this.name}`}): it is expired, revoked or not a private app token. ` +
          `Create or rotate the private app's token in HubSpot (Settings > Integrations > Private apps) with the crm.objects.${object}.read and .write scopes, put it in ${source?.where ?? 'that place'}, and run again. ${said}`,
        { cause: error },
      );
    }
    if (error.status === 403) {
      return new FatalDestinationError(
        `the HubSpot private app whose token is in ${source?.where ?? 'the configured source'} may not do this for ${object} (${this.where}): give the app the crm.objects.${object}.read and .write scopes (custom objects: crm.objects.custom.read and .write; properties: crm.schemas.${object}.read). ${said}`,
        { cause: error },
      );
    }
    if (during === 'check' && (error.status === 404 || (error.status === 400 && /object type/i.test(error.message)))) {
      return new FatalDestinationError(
        `${this.where}, key object: HubSpot has no object type '${object}': use contacts, companies, deals, tickets, a custom object's name or its objectTypeId (2-1234567). ${said}`,
        { cause: error },
      );
    }
    // The portal changed since the check (a property deleted or made read-only): check again next time.
    this.definitions = null;
    this.scope?.forget('hubspot-api');
    return new FatalDestinationError(`HubSpot refused a request of ${this.where} (${error.status}). ${said}`, {
      cause: error,
    });
  }

  /**
   * A 429: the ten-second window (wait the interval HubSpot's headers give, or its Retry-After)
   * or the daily limit (wait until it resets at midnight in the account's time zone, and say so).
   */
  private rateLimited(error: HubSpotApiError, said: string): TransientDestinationError {
    const info = error.rateLimit;
    const daily = /daily/i.test(error.message) || info.dailyRemaining === 0;
    if (daily) {
      const now = new Date();
      const reset = nextDailyReset(now, this.connection.timeZone);
      // A minute past midnight, so HubSpot's own clock has rolled over too.
      const waitMs = reset.getTime() - now.getTime() + 60_000;
      return new TransientDestinationError(
        `HubSpot's daily request limit${info.dailyLimit ? ` (${info.dailyLimit} requests)` : ''} is used up for the private app of destinations.${this.name}: ${this.where} pauses delivery until ${reset.toISOString()} (midnight ${this.connection.timeZone}, when HubSpot resets it) and resumes then by itself. ` +
          `To resume sooner, raise the limit (HubSpot's API limit increase) or lower other use of the app. ${said}`,
        { cause: error, retryAfterMs: waitMs },
      );
    }
    const waitMs = info.retryAfterMs ?? info.intervalMs ?? 10_000;
    return new TransientDestinationError(
      `HubSpot's ten-second rate limit${info.intervalMax ? ` (${info.intervalMax} requests per ${(info.intervalMs ?? 10_000) / 1000} s)` : ''} was reached; ${this.where} sends again in ${waitMs / 1000} s. ` +
        `If this repeats, lower limits.requestsPerSecond of destinations.${this.name}. ${said}`,
      { cause: error, retryAfterMs: waitMs },
    );
  }

  async close(): Promise<void> {}
}

function staticCheck(input: {
  sync: HubSpotSyncOptions;
  modelColumns: string[] | null;
}): Array<{ path: (string | number)[]; message: string; hint?: string }> {
  const { sync, modelColumns } = input;
  const problems: Array<{ path: (string | number)[]; message: string; hint?: string }> = [];
  const columnOf = new Map<string, string>();
  for (const [column, property] of Object.entries(sync.mapping)) {
    const previous = columnOf.get(property);
    if (previous !== undefined) {
      problems.push({
        path: ['mapping', column],
        message: `columns ${previous} and ${column} both map to HubSpot property '${property}'`,
        hint: 'map each property from one column only',
      });
    } else if (property === sync.idProperty.to) {
      problems.push({
        path: ['mapping', column],
        message: `column ${column} maps to '${property}', which idProperty.to already fills from ${sync.idProperty.from}`,
        hint: 'remove this mapping entry',
      });
    }
    columnOf.set(property, column);
  }
  // idProperty.from's path is the key itself, not a column under it.
  for (const problem of columnsNotSelected(['idProperty'], [sync.idProperty.from], modelColumns))
    problems.push({ ...problem, path: ['idProperty', 'from'] });
  problems.push(...columnsNotSelected(['mapping'], Object.keys(sync.mapping), modelColumns));
  return problems;
}

export const hubspotConnector: DestinationConnector<HubSpotConnection, HubSpotSyncOptions> = {
  type: 'hubspot',
  modes: HUBSPOT_MODES,
  connectionSchema: hubspotConnectionSchema,
  syncOptionsSchema: hubspotSyncOptionsSchema,
  staticCheck,
  create: ({ connection, sync, scope, baseDir }) => new HubSpotDestination(connection, sync, scope, baseDir),
};
