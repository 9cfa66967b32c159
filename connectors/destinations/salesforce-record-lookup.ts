/**
 * Finds Salesforce records by external id with SOQL, for the modes that must know whether a
 * record exists before writing (update never creates, insert never modifies).
 *
 *   const found = await findByExternalId(session, { object: 'Account', field: 'External_Id__c', keys, fields: ['Name'] });
 *   found.get('42')?.Id;
 */
import type { SalesforceSession } from './salesforce-session';

export type QueriedRecord = Record<string, unknown> & { Id: string };

/** Salesforce's IN lists stay well under its limits at 200 values, one collections request's worth. */
const maxValuesPerQuery = 200;
/**
 * A query travels in the URL of a GET, and Salesforce refuses URIs longer than about 16,000
 * characters; long keys end a chunk before 200 values.
 */
const maxEncodedQueryLength = 12_000;

/** A SOQL string literal: backslash and single quote are the characters that would end or bend it. */
function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The records of `object` whose `field` equals one of `keys`, by key. Sends one query per chunk of
 * keys, calling `beforeRequest` before each (heartbeats). `fields` are selected besides Id and the
 * key field.
 */
export async function findByExternalId(
  session: SalesforceSession,
  input: { object: string; field: string; keys: string[]; fields?: string[]; beforeRequest?: () => void },
): Promise<Map<string, QueriedRecord>> {
  const names: string[] = [];
  for (const field of ['Id', input.field, ...(input.fields ?? [])]) {
    // SOQL refuses a field selected twice, and field names are case-insensitive.
    if (!names.some((name) => name.toLowerCase() === field.toLowerCase())) names.push(field);
  }
  const prefix = `SELECT ${names.join(', ')} FROM ${input.object} WHERE ${input.field} IN (`;
  const found = new Map<string, QueriedRecord>();
  for (const chunk of chunkKeys(prefix, [...new Set(input.keys)])) {
    input.beforeRequest?.();
    const soql = `${prefix}${chunk.map(soqlString).join(', ')})`;
    const { records } = await session.request<{ records: QueriedRecord[] }>(
      'GET',
      `/query?q=${encodeURIComponent(soql)}`,
    );
    const wanted = new Set(chunk);
    const byLowerCase = new Map(chunk.map((key) => [key.toLowerCase(), key]));
    for (const record of records) {
      const value = String(fieldValue(record, input.field));
      // External ids compare case-insensitively unless the field is marked case sensitive, so
      // Salesforce may answer 'ABC' for 'abc'; an exact match wins over such a near one.
      const key = wanted.has(value) ? value : byLowerCase.get(value.toLowerCase());
      if (key !== undefined && (!found.has(key) || key === value)) found.set(key, record);
    }
  }
  return found;
}

/**
 * True when the record holds every value of `payload`, as Salesforce stores it: numbers as
 * numbers, date-times in its own format, empty text as null.
 */
export function holdsPayload(record: QueriedRecord, payload: Record<string, unknown>): boolean {
  return payloadDifferences(record, payload).length === 0;
}

/** The fields of `payload` the record holds another value for, compared as in `holdsPayload`. */
export function payloadDifferences(
  record: QueriedRecord,
  payload: Record<string, unknown>,
): Array<{ field: string; sent: unknown; stored: unknown }> {
  return Object.entries(payload).flatMap(([field, sent]) => {
    const stored = fieldValue(record, field);
    return sameValue(sent, stored) ? [] : [{ field, sent, stored }];
  });
}

function chunkKeys(prefix: string, keys: string[]): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let length = encodeURIComponent(prefix).length;
  for (const key of keys) {
    const added = encodeURIComponent(`${soqlString(key)}, `).length;
    if (chunk.length > 0 && (chunk.length >= maxValuesPerQuery || length + added > maxEncodedQueryLength)) {
      chunks.push(chunk);
      chunk = [];
      length = encodeURIComponent(prefix).length;
    }
    chunk.push(key);
    length += added;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Query results name fields as Salesforce spells them, which may differ in case from the config. */
function fieldValue(record: QueriedRecord, field: string): unknown {
  if (field in record) return record[field];
  const lower = field.toLowerCase();
  const name = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return name === undefined ? undefined : record[name];
}

function sameValue(sent: unknown, stored: unknown): boolean {
  const empty = (v: unknown) => v === null || v === undefined || v === '';
  if (empty(sent) || empty(stored)) return empty(sent) && empty(stored);
  if (typeof stored === 'number') return Number(sent) === stored;
  const text = String(sent);
  if (text === String(stored)) return true;
  const dateTime = /^\d{4}-\d{2}-\d{2}T/;
  return dateTime.test(text) && dateTime.test(String(stored)) && Date.parse(text) === Date.parse(String(stored));
}
