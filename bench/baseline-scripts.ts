/**
 * What ebb is compared with: the script a data engineer writes in ten minutes. It reads the whole
 * model from DuckDB and upserts it with jsforce, one request after another, with no memory of what it
 * sent last time, so every run re-sends every row.
 *
 * - collectionsBaseline: 200 records per sObject Collections upsert (jsforce's array upsert), the
 *   script of someone who has read jsforce's docs; the baseline every ratio is against.
 * - perRecordBaseline: one record per request, the script of someone who has not; a second line.
 */
import { Connection } from 'jsforce';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { BENCH_MODEL_SQL } from './bench-warehouse';

export interface BaselineTarget {
  warehouse: string;
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  /** Prepended to account_id so a baseline's records never meet ebb's in the same org. */
  externalIdPrefix: string;
}

export interface AccountRecord {
  External_Id__c: string;
  Name: unknown;
  Health_Score__c: unknown;
  Segment__c: unknown;
  MRR__c: number;
  [field: string]: unknown;
}

export class BaselineUpsertError extends Error {
  constructor(externalId: string, detail: string) {
    super(`the baseline script could not upsert Account ${externalId}: ${detail}`);
    this.name = new.target.name;
  }
}

/** Every row of the model, mapped to Account fields as ebb's sync maps them. */
export async function readAccounts(target: BaselineTarget): Promise<AccountRecord[]> {
  const rows = await execDuckDb(target.warehouse, `${BENCH_MODEL_SQL} order by account_id`);
  return rows.map((row) => ({
    External_Id__c: `${target.externalIdPrefix}${String(row.account_id)}`,
    Name: row.name,
    Health_Score__c: row.health,
    Segment__c: row.segment,
    MRR__c: Number(row.mrr),
  }));
}

async function connect(target: BaselineTarget): Promise<Connection> {
  const conn = new Connection({
    oauth2: { loginUrl: target.loginUrl, clientId: target.clientId, clientSecret: target.clientSecret },
    version: '60.0',
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  return conn;
}

interface SaveResult {
  success: boolean;
  errors?: unknown;
}

function requireSuccess(records: AccountRecord[], results: SaveResult[]): void {
  if (results.length !== records.length)
    throw new BaselineUpsertError(
      records[0]?.External_Id__c ?? '(empty batch)',
      `${results.length} results for ${records.length} records`,
    );
  results.forEach((result, i) => {
    if (!result.success)
      throw new BaselineUpsertError(records[i]?.External_Id__c ?? '?', JSON.stringify(result.errors ?? result));
  });
}

export const COLLECTION_SIZE = 200;

/** Sends every row, 200 per request; returns how many records Salesforce accepted. */
export async function collectionsBaseline(target: BaselineTarget): Promise<number> {
  const records = await readAccounts(target);
  const accounts = (await connect(target)).sobject('Account');
  for (let i = 0; i < records.length; i += COLLECTION_SIZE) {
    const chunk = records.slice(i, i + COLLECTION_SIZE);
    // An array goes to PATCH /composite/sobjects/Account/External_Id__c (API 46.0 and later).
    const results = (await accounts.upsert(chunk, 'External_Id__c', { allOrNone: false })) as SaveResult[];
    requireSuccess(chunk, results);
  }
  return records.length;
}

/** Sends every row, one per request; returns how many records Salesforce accepted. */
export async function perRecordBaseline(target: BaselineTarget): Promise<number> {
  const records = await readAccounts(target);
  const accounts = (await connect(target)).sobject('Account');
  for (const record of records) {
    // A single record would go to PATCH /sobjects/Account/External_Id__c/{id}, which the sandbox does not
    // serve; a one-record sObject Collections request costs the same single round trip per record.
    const results = (await accounts.upsert([record], 'External_Id__c')) as SaveResult[];
    requireSuccess([record], results);
  }
  return records.length;
}
