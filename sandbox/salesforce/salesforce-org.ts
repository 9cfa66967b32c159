/**
 * The data of a Salesforce sandbox org: records per object, external-id indexes, and the
 * sObject Collections upsert/delete semantics (per-record results, allOrNone, request-level 400s).
 * Holds no HTTP; the server in salesforce-sandbox.ts turns these results into responses.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isLosslessNumber } from 'lossless-json';
import {
  isTextType,
  relationshipNameOf,
  type SalesforceFieldDefinition,
  type SalesforceObjectDefinition,
} from './salesforce-objects';
import { caseSafeSuffix, isWellFormedId, salesforceId } from './salesforce-record-ids';

export type SalesforceRecord = Record<string, unknown> & { Id: string };

export interface SaveError {
  statusCode: string;
  message: string;
  fields: string[];
}

export interface SaveResult {
  id: string | null;
  success: boolean;
  errors: SaveError[];
  created?: boolean;
}

/** An error about the whole request, answered as `[{message, errorCode}]` with an HTTP status. */
export class SalesforceRequestError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
    this.name = 'SalesforceRequestError';
  }

  body(): Array<Record<string, unknown>> {
    return [{ message: this.message, errorCode: this.errorCode, ...(this.fields ? { fields: this.fields } : {}) }];
  }
}

/**
 * A parent named by external id that cannot be found: the record fails with this error (a lookup
 * problem is the record's, not the request's), and nothing of it is written.
 */
class UnresolvedReference {
  constructor(readonly error: SaveError) {}
}

/** sObject Collections accept at most this many records (or ids) per request. */
export const collectionLimit = 200;

const ownerId = '0055g00000EBBAAAA4';

interface ObjectData {
  definition: SalesforceObjectDefinition;
  fields: Map<string, SalesforceFieldDefinition>;
  records: Map<string, SalesforceRecord>;
  /** externalId field -> value -> record Id */
  indexes: Map<string, Map<string, string>>;
  deleted: Set<string>;
}

interface PersistedOrg {
  nextNumber: number;
  objects: Record<string, { records: SalesforceRecord[]; deleted: string[] }>;
}

export class SalesforceOrg {
  private readonly objects = new Map<string, ObjectData>();
  private nextNumber = 1;

  constructor(
    definitions: SalesforceObjectDefinition[],
    private readonly file?: string,
  ) {
    for (const definition of definitions) {
      const fields = new Map(definition.fields.map((f) => [f.name.toLowerCase(), f]));
      const indexes = new Map(
        definition.fields.filter((f) => f.externalId).map((f) => [f.name, new Map<string, string>()]),
      );
      this.objects.set(definition.name.toLowerCase(), {
        definition,
        fields,
        records: new Map(),
        indexes,
        deleted: new Set(),
      });
    }
    if (file && existsSync(file)) this.load(file);
  }

  definition(type: string): SalesforceObjectDefinition | undefined {
    return this.objects.get(type.toLowerCase())?.definition;
  }

  definitions(): SalesforceObjectDefinition[] {
    return [...this.objects.values()].map((d) => d.definition);
  }

  records(type: string): SalesforceRecord[] {
    return [...(this.objects.get(type.toLowerCase())?.records.values() ?? [])];
  }

  reset(): void {
    for (const data of this.objects.values()) {
      data.records.clear();
      data.deleted.clear();
      for (const index of data.indexes.values()) index.clear();
    }
    this.save();
  }

  /**
   * PATCH /composite/sobjects/{type}/{extIdField}: upsert by external id, results in request order.
   * `rowLocks.attempted` sees the key of every record that reaches the save; a key for which
   * `rowLocks.isLocked` answers true fails UNABLE_TO_LOCK_ROW and is not written, as when another
   * transaction holds the row.
   */
  upsert(
    type: string,
    extIdField: string,
    body: unknown,
    rowLocks: { attempted?: (key: string) => void; isLocked?: (key: string) => boolean } = {},
  ): SaveResult[] {
    const data = this.objects.get(type.toLowerCase());
    if (!data) throw new SalesforceRequestError(404, 'NOT_FOUND', 'The requested resource does not exist');
    const extField = data.fields.get(extIdField.toLowerCase());
    if (!extField || !(extField.externalId || extField.idLookup || extField.type === 'id')) {
      throw new SalesforceRequestError(
        404,
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${extIdField}`,
      );
    }
    const { allOrNone, records } = parseCollectionBody(body, data.definition.name);
    const inputs = records.map((record) => this.normalizeRecord(data, record));

    const keyCounts = new Map<string, number>();
    for (const input of inputs) {
      const key = input[extField.name];
      if (key != null) keyCounts.set(String(key), (keyCounts.get(String(key)) ?? 0) + 1);
    }

    const planned = inputs.map((input) => {
      const rawKey = input[extField.name];
      if (rawKey == null || rawKey === '') {
        return { errors: [saveError('MISSING_ARGUMENT', `${extField.name} not specified`, [extField.name])] };
      }
      const key = String(rawKey);
      if ((keyCounts.get(key) ?? 0) > 1) {
        return { errors: [saveError('DUPLICATE_VALUE', `Duplicate external id specified: ${key}`, [extField.name])] };
      }
      const existingId =
        extField.type === 'id' ? (data.records.has(key) ? key : undefined) : this.findIds(data, extField, key)[0];
      const errors = validateValues(data, input, existingId === undefined);
      rowLocks.attempted?.(key);
      // Salesforce locks a row when it saves it, after the values passed validation.
      if (errors.length === 0 && rowLocks.isLocked?.(key)) {
        errors.push(
          saveError(
            'UNABLE_TO_LOCK_ROW',
            `unable to obtain exclusive access to this record or 1 records: ${existingId ?? key}`,
            [],
          ),
        );
      }
      return { errors, existingId, input };
    });

    if (allOrNone && planned.some((p) => p.errors.length > 0)) {
      return rolledBack(planned.map((p) => ({ id: null, errors: p.errors })));
    }

    const results = planned.map((p): SaveResult => {
      if (p.errors.length > 0 || !p.input) return { id: null, success: false, errors: p.errors, created: false };
      const now = new Date().toISOString();
      if (p.existingId) {
        const existing = data.records.get(p.existingId) as SalesforceRecord;
        const updated = { ...existing, ...p.input, Id: existing.Id, LastModifiedDate: now, SystemModstamp: now };
        this.write(data, updated, existing);
        return { id: existing.Id, success: true, errors: [], created: false };
      }
      return { id: this.insert(data, p.input), success: true, errors: [], created: true };
    });
    if (results.some((r) => r.success)) this.save();
    return results;
  }

  /** POST /composite/sobjects: creates records of any objects (attributes.type each), results in request order. */
  create(body: unknown): SaveResult[] {
    const { allOrNone, records } = this.parseTypedCollection(body);
    const claimed = new Map<ObjectData, Map<string, Set<string>>>();
    const planned = records.map(({ data, record }) => {
      const input = this.normalizeRecord(data, record);
      const errors =
        'Id' in input
          ? [saveError('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id'])]
          : validateValues(data, input, true);
      if (errors.length === 0) errors.push(...uniquenessErrors(data, input, undefined, claimed));
      return { id: null, errors, data, input };
    });
    if (allOrNone && planned.some((p) => p.errors.length > 0)) return rolledBack(planned);
    const results = planned.map((p): SaveResult =>
      p.errors.length > 0
        ? { id: null, success: false, errors: p.errors }
        : { id: this.insert(p.data, p.input), success: true, errors: [] },
    );
    if (results.some((r) => r.success)) this.save();
    return results;
  }

  /** PATCH /composite/sobjects: updates records of any objects by Id, results in request order. */
  update(body: unknown): SaveResult[] {
    const { allOrNone, records } = this.parseTypedCollection(body);
    const claimed = new Map<ObjectData, Map<string, Set<string>>>();
    const planned = records.map(({ data, record }) => {
      const changes = this.normalizeRecord(data, record);
      const rawId = changes.Id;
      delete changes.Id;
      if (rawId == null || rawId === '') {
        return { id: null, errors: [saveError('MISSING_ARGUMENT', 'Id not specified in an update call', [])] };
      }
      const givenId = String(rawId);
      if (!isWellFormedId(givenId) || givenId.slice(0, 3) !== data.definition.keyPrefix) {
        return {
          id: null,
          errors: [
            saveError('MALFORMED_ID', `${data.definition.name} ID: id value of incorrect type: ${givenId}`, ['Id']),
          ],
        };
      }
      const id = givenId.length === 15 ? givenId + caseSafeSuffix(givenId) : givenId;
      if (!data.records.has(id)) {
        // Salesforce tells a deleted record from an id it never issued.
        const error = data.deleted.has(id)
          ? saveError('ENTITY_IS_DELETED', 'entity is deleted', [])
          : saveError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', []);
        return { id, errors: [error] };
      }
      const errors = validateValues(data, changes, false);
      if (errors.length === 0) errors.push(...uniquenessErrors(data, changes, id, claimed));
      return { id, errors, data, changes };
    });
    if (allOrNone && planned.some((p) => p.errors.length > 0)) return rolledBack(planned);
    const results = planned.map((p): SaveResult => {
      if (p.errors.length > 0 || !p.data || !p.changes || !p.id) return { id: p.id, success: false, errors: p.errors };
      const existing = p.data.records.get(p.id) as SalesforceRecord;
      const now = new Date().toISOString();
      this.write(
        p.data,
        { ...existing, ...p.changes, Id: existing.Id, LastModifiedDate: now, SystemModstamp: now },
        existing,
      );
      return { id: existing.Id, success: true, errors: [] };
    });
    if (results.some((r) => r.success)) this.save();
    return results;
  }

  /** DELETE /composite/sobjects?ids=...: ids of any object, results in request order. */
  delete(ids: string[], allOrNone: boolean): SaveResult[] {
    if (ids.length === 0) throw new SalesforceRequestError(400, 'MISSING_ARGUMENT', 'Missing required parameter: ids');
    if (ids.length > collectionLimit) {
      throw new SalesforceRequestError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${collectionLimit} records into this call`,
      );
    }
    const planned = ids.map((id) => {
      if (!isWellFormedId(id)) return { id: null, errors: [saveError('MALFORMED_ID', `malformed id ${id}`, [])] };
      const data = [...this.objects.values()].find((d) => d.definition.keyPrefix === id.slice(0, 3));
      const record = data?.records.get(id.length === 15 ? id + caseSafeSuffix(id) : id);
      // Salesforce never reuses ids, so an id it does not hold is reported as deleted.
      if (!data || !record) return { id, errors: [saveError('ENTITY_IS_DELETED', 'entity is deleted', [])] };
      return { id: record.Id, errors: [], data, record };
    });
    if (allOrNone && planned.some((p) => p.errors.length > 0)) return rolledBack(planned);
    const results = planned.map((p): SaveResult => {
      if (!p.data || !p.record) return { id: p.id, success: false, errors: p.errors };
      this.write(p.data, undefined, p.record);
      p.data.deleted.add(p.record.Id);
      return { id: p.record.Id, success: true, errors: [] };
    });
    if (results.some((r) => r.success)) this.save();
    return results;
  }

  private insert(data: ObjectData, input: Record<string, unknown>): string {
    const now = new Date().toISOString();
    const id = salesforceId(data.definition.keyPrefix, this.nextNumber++);
    const created: SalesforceRecord = {
      ...blankRecord(data),
      ...input,
      Id: id,
      IsDeleted: false,
      OwnerId: ownerId,
      CreatedDate: now,
      LastModifiedDate: now,
      SystemModstamp: now,
    };
    this.write(data, created, undefined);
    return id;
  }

  /** Collections create and update carry each record's object in attributes.type, so one request may mix objects. */
  private parseTypedCollection(body: unknown): {
    allOrNone: boolean;
    records: Array<{ data: ObjectData; record: Record<string, unknown> }>;
  } {
    const { allOrNone, records } = parseCollectionBody(body, null);
    return {
      allOrNone,
      records: records.map((record) => {
        const type = (record.attributes as { type: string }).type;
        const data = this.objects.get(type.toLowerCase());
        if (!data) throw new SalesforceRequestError(400, 'INVALID_TYPE', `sObject type '${type}' is not supported.`);
        return { data, record };
      }),
    };
  }

  /** Ids of the records of `data` whose `field` holds `key`: by index for External IDs, by scan for idLookup fields. */
  private findIds(data: ObjectData, field: SalesforceFieldDefinition, key: string): string[] {
    const index = data.indexes.get(field.name);
    if (index) {
      const id = index.get(key);
      return id === undefined ? [] : [id];
    }
    return [...data.records.values()]
      .filter((r) => r[field.name] != null && String(r[field.name]) === key)
      .map((r) => r.Id);
  }

  /**
   * `"Account": {"External_Id__c": "acme"}` on a Contact: the parent's Id for the relationship's
   * reference field, found by the parent's External ID (or idLookup) field, as Salesforce resolves it on save.
   */
  private resolveReference(reference: SalesforceFieldDefinition, nested: Record<string, unknown>): unknown {
    const declared = (nested.attributes as { type?: unknown } | undefined)?.type;
    const parentType = typeof declared === 'string' ? declared : (reference.referenceTo ?? [])[0];
    const parent = parentType === undefined ? undefined : this.objects.get(parentType.toLowerCase());
    const keys = Object.keys(nested).filter((k) => k !== 'attributes');
    if (!parent) {
      throw new SalesforceRequestError(400, 'INVALID_TYPE', `sObject type '${String(parentType)}' is not supported.`);
    }
    if (keys.length !== 1) {
      throw new SalesforceRequestError(
        400,
        'INVALID_FIELD',
        `More than 1 field provided in an external foreign key reference in entity: ${parent.definition.name}`,
      );
    }
    const keyName = keys[0] as string;
    const keyField = parent.fields.get(keyName.toLowerCase());
    if (!keyField || !(keyField.externalId || keyField.idLookup || keyField.type === 'id')) {
      throw new SalesforceRequestError(
        400,
        'INVALID_FIELD',
        `Field name provided, ${keyName} does not match an External ID, Salesforce Id, or indexed field for ${parent.definition.name}`,
      );
    }
    const raw = nested[keyName];
    const value = isLosslessNumber(raw) ? raw.value : String(raw);
    const ids =
      keyField.type === 'id' ? (parent.records.has(value) ? [value] : []) : this.findIds(parent, keyField, value);
    if (ids.length === 1) return ids[0];
    return new UnresolvedReference(
      ids.length === 0
        ? saveError(
            'INVALID_FIELD',
            `Foreign key external ID: ${value} not found for field ${keyField.name} in entity ${parent.definition.name}`,
            [],
          )
        : saveError(
            'DUPLICATE_EXTERNAL_ID',
            `${keyField.label ?? keyField.name}: more than one record found for external id field: [${ids.join(', ')}]`,
            [],
          ),
    );
  }

  private normalizeRecord(data: ObjectData, record: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(record)) {
      if (name === 'attributes') continue;
      const field = data.fields.get(name.toLowerCase());
      const reference = field
        ? undefined
        : data.definition.fields.find(
            (f) => f.type === 'reference' && relationshipNameOf(f).toLowerCase() === name.toLowerCase(),
          );
      if (
        reference &&
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        !isLosslessNumber(value)
      ) {
        out[reference.name] = this.resolveReference(reference, value as Record<string, unknown>);
        continue;
      }
      if (!field) {
        throw new SalesforceRequestError(
          400,
          'INVALID_FIELD',
          `No such column '${name}' on sobject of type ${data.definition.name}`,
        );
      }
      out[field.name] = coerce(field, value);
    }
    return out;
  }

  private write(data: ObjectData, next: SalesforceRecord | undefined, previous: SalesforceRecord | undefined): void {
    for (const [fieldName, index] of data.indexes) {
      const before = previous?.[fieldName];
      if (before != null) index.delete(String(before));
      const after = next?.[fieldName];
      if (next && after != null) index.set(String(after), next.Id);
    }
    if (next) data.records.set(next.Id, next);
    else if (previous) data.records.delete(previous.Id);
  }

  private load(file: string): void {
    const persisted = JSON.parse(readFileSync(file, 'utf8')) as PersistedOrg;
    this.nextNumber = persisted.nextNumber;
    for (const [name, saved] of Object.entries(persisted.objects)) {
      const data = this.objects.get(name.toLowerCase());
      if (!data) continue;
      for (const record of saved.records) this.write(data, record, undefined);
      for (const id of saved.deleted) data.deleted.add(id);
    }
  }

  /** Written after every change (temp file + rename), so a killed sandbox restarts with what it acknowledged. */
  private save(): void {
    if (!this.file) return;
    const persisted: PersistedOrg = { nextNumber: this.nextNumber, objects: {} };
    for (const data of this.objects.values()) {
      persisted.objects[data.definition.name] = { records: [...data.records.values()], deleted: [...data.deleted] };
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(persisted));
    renameSync(tmp, this.file);
  }
}

function saveError(statusCode: string, message: string, fields: string[]): SaveError {
  return { statusCode, message, fields };
}

function rolledBack(planned: Array<{ id: string | null; errors: SaveError[] }>): SaveResult[] {
  return planned.map((p) => ({
    id: p.id,
    success: false,
    errors:
      p.errors.length > 0
        ? p.errors
        : [
            saveError(
              'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              'Record rolled back because not all records were valid and the request was using AllOrNone header',
              [],
            ),
          ],
  }));
}

/**
 * Unique (External ID) values a create or update would take from another record. A value already
 * taken by an earlier record of the same request is reported without the other record's id, as
 * Salesforce does; `claimed` collects the values this request has taken so far.
 */
function uniquenessErrors(
  data: ObjectData,
  input: Record<string, unknown>,
  ownId: string | undefined,
  claimed: Map<ObjectData, Map<string, Set<string>>>,
): SaveError[] {
  const errors: SaveError[] = [];
  const claimedHere = claimed.get(data) ?? new Map<string, Set<string>>();
  claimed.set(data, claimedHere);
  for (const [fieldName, index] of data.indexes) {
    const value = input[fieldName];
    if (value == null || value === '') continue;
    const key = String(value);
    const holder = index.get(key);
    const taken = claimedHere.get(fieldName) ?? new Set<string>();
    claimedHere.set(fieldName, taken);
    if (holder !== undefined && holder !== ownId) {
      errors.push(
        saveError(
          'DUPLICATE_VALUE',
          `duplicate value found: ${fieldName} duplicates value on record with id: ${holder}`,
          [],
        ),
      );
    } else if (taken.has(key)) {
      errors.push(
        saveError(
          'DUPLICATE_VALUE',
          'duplicate value found: <unknown> duplicates value on record with id: <unknown>',
          [],
        ),
      );
    }
    taken.add(key);
  }
  return errors;
}

function blankRecord(data: ObjectData): Record<string, unknown> {
  return Object.fromEntries(data.definition.fields.map((f) => [f.name, f.type === 'boolean' ? false : null]));
}

/** `type` null: each record names its own object, which the caller resolves. */
function parseCollectionBody(
  body: unknown,
  type: string | null,
): { allOrNone: boolean; records: Array<Record<string, unknown>> } {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { records?: unknown }).records)) {
    throw new SalesforceRequestError(
      400,
      'JSON_PARSER_ERROR',
      'The request body must be an object with a records array',
    );
  }
  const { allOrNone, records } = body as { allOrNone?: unknown; records: unknown[] };
  if (records.length > collectionLimit) {
    throw new SalesforceRequestError(
      400,
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${collectionLimit} records into this call`,
    );
  }
  for (const record of records) {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new SalesforceRequestError(
        400,
        'JSON_PARSER_ERROR',
        'Cannot deserialize instance of SObject from a non-object value',
      );
    }
    const recordType = (record as { attributes?: { type?: unknown } }).attributes?.type;
    if (type === null && (typeof recordType !== 'string' || recordType === '')) {
      throw new SalesforceRequestError(400, 'INVALID_TYPE', 'Must send a concrete entity type.');
    }
    if (type !== null && (typeof recordType !== 'string' || recordType.toLowerCase() !== type.toLowerCase())) {
      throw new SalesforceRequestError(400, 'INVALID_INPUT', `Each record must have attributes.type set to ${type}`);
    }
  }
  return { allOrNone: allOrNone === true, records: records as Array<Record<string, unknown>> };
}

/**
 * Salesforce deserialises a collections body before looking at any record, so a value of the wrong
 * JSON type fails the whole request with JSON_PARSER_ERROR; numeric strings and numbers for text
 * fields are converted, as the real parser does.
 */
function coerce(field: SalesforceFieldDefinition, value: unknown): unknown {
  if (value === null) return null;
  if (isLosslessNumber(value)) {
    // A literal beyond a double's precision: kept as its exact digits (as text in the stored record).
    if (isTextType(field.type)) return value.value;
    if (['double', 'currency', 'percent'].includes(field.type)) return value.value;
    if (field.type === 'int' && /^-?\d+$/.test(value.value)) return value.value;
    value = Number(value.value);
  }
  const parserError = (javaType: string) =>
    new SalesforceRequestError(
      400,
      'JSON_PARSER_ERROR',
      `Cannot deserialize instance of ${javaType} from ${jsonTokenName(value)} value ${typeof value === 'object' ? JSON.stringify(value) : String(value)} or request may be missing a required field`,
    );
  if (isTextType(field.type)) {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw parserError('string');
  }
  switch (field.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw parserError('boolean');
    case 'int':
    case 'double':
    case 'currency':
    case 'percent': {
      const n =
        typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n)))
        throw parserError(field.type === 'int' ? 'int' : 'double');
      return n;
    }
    case 'date':
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)))
        return value;
      throw parserError('date');
    case 'datetime':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value)))
        return new Date(value).toISOString().replace('Z', '+0000');
      throw parserError('datetime');
  }
  return value;
}

function jsonTokenName(value: unknown): string {
  if (isLosslessNumber(value)) return /^-?\d+$/.test(value.value) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT';
  if (typeof value === 'string') return 'VALUE_STRING';
  if (typeof value === 'number') return Number.isInteger(value) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT';
  if (typeof value === 'boolean') return value ? 'VALUE_TRUE' : 'VALUE_FALSE';
  return Array.isArray(value) ? 'START_ARRAY' : 'START_OBJECT';
}

/** Per-record checks Salesforce runs after parsing: writability, required fields, lengths, picklists, emails. */
function validateValues(data: ObjectData, input: Record<string, unknown>, isInsert: boolean): SaveError[] {
  const errors: SaveError[] = [];
  for (const value of Object.values(input)) if (value instanceof UnresolvedReference) errors.push(value.error);
  const notWritable = Object.keys(input).filter((name) => {
    const field = data.fields.get(name.toLowerCase());
    return field && field.type !== 'id' && !(isInsert ? (field.createable ?? true) : (field.updateable ?? true));
  });
  if (notWritable.length > 0) {
    errors.push(
      saveError(
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        `Unable to create/update fields: ${notWritable.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        notWritable,
      ),
    );
  }
  const missing = data.definition.fields
    .filter((f) => f.nillable === false && !f.defaultedOnCreate && f.type !== 'boolean')
    .filter((f) =>
      isInsert
        ? input[f.name] == null || input[f.name] === ''
        : f.name in input && (input[f.name] == null || input[f.name] === ''),
    )
    .map((f) => f.name);
  if (missing.length > 0)
    errors.push(saveError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing));

  for (const [name, value] of Object.entries(input)) {
    const field = data.fields.get(name.toLowerCase());
    if (!field || typeof value !== 'string') continue;
    const max = field.length ?? 255;
    if (isTextType(field.type) && field.type !== 'id' && value.length > max) {
      errors.push(
        saveError(
          'STRING_TOO_LONG',
          `${field.label ?? field.name}: data value too large: ${value} (max length=${max})`,
          [field.name],
        ),
      );
    } else if (field.type === 'picklist' && field.restrictedPicklist && !(field.picklistValues ?? []).includes(value)) {
      errors.push(
        saveError(
          'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          `${field.label ?? field.name}: bad value for restricted picklist field: ${value}`,
          [field.name],
        ),
      );
    } else if (field.type === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
      errors.push(
        saveError('INVALID_EMAIL_ADDRESS', `${field.label ?? field.name}: invalid email address: ${value}`, [
          field.name,
        ]),
      );
    }
  }
  return errors;
}
