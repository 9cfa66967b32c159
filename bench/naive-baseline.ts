/**
 * The baseline ebb is compared with: the script a team writes first. It reads the whole model from
 * DuckDB and upserts every row with jsforce, one request per record, one after the other, with no
 * memory of what it sent last time.
 */
import { Connection } from 'jsforce';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';

export interface NaiveTarget {
  warehouse: string;
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  /** Prepended to account_id so the baseline's records never meet ebb's in the same org. */
  externalIdPrefix: string;
}

export class NaiveUpsertError extends Error {
  constructor(externalId: string, detail: string) {
    super(`the naive baseline could not upsert Account ${externalId}: ${detail}`);
    this.name = new.target.name;
  }
}

/** Sends every row of account_health; returns how many records were sent. */
export async function naiveSync(target: NaiveTarget): Promise<number> {
  const rows = await execDuckDb(
    target.warehouse,
    'select account_id, name, health, segment, mrr from account_health order by account_id',
  );
  const conn = new Connection({
    oauth2: { loginUrl: target.loginUrl, clientId: target.clientId, clientSecret: target.clientSecret },
    version: '60.0',
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  const accounts = conn.sobject('Account');
  for (const row of rows) {
    const externalId = `${target.externalIdPrefix}${String(row.account_id)}`;
    // A single record would go to PATCH /sobjects/Account/External_Id__c/{id}, which the sandbox does not
    // serve; a one-record sObject Collections request costs the same single round trip per record.
    const [result] = await accounts.upsert(
      [
        {
          External_Id__c: externalId,
          Name: row.name,
          Health_Score__c: row.health,
          Segment__c: row.segment,
          MRR__c: Number(row.mrr),
        },
      ],
      'External_Id__c',
    );
    if (!result?.success) throw new NaiveUpsertError(externalId, JSON.stringify(result?.errors ?? result));
  }
  return rows.length;
}
