/**
 * The ebb.yaml of the scale benchmark (bench/scale.ts): `syncs` syncs, each with a small model of its
 * own (one shard of the bench warehouse's accounts), all upserting Accounts into one Salesforce org
 * through one destination connection. Every other sync has a short schedule; the others run only
 * when asked, as manual syncs do. Credentials come from the environment (SF_LOGIN_URL,
 * SF_CLIENT_ID, SF_CLIENT_SECRET), as in a real deployment.
 */
export interface ScaleConfigOptions {
  syncs: number;
  /** Schedule of the scheduled half, e.g. 1m. */
  every: string;
  deployment: string;
  temporal: { address: string; namespace: string };
  state: { path: string } | { url: string };
  /** Absolute path of the DuckDB file holding `account_health` (bench-warehouse.ts). */
  warehouse: string;
}

export const syncIdOf = (i: number, syncs: number): string =>
  `sync-${String(i).padStart(String(syncs - 1).length, '0')}`;

/** Syncs 0, 2, 4, ... have a schedule. */
export const isScheduled = (i: number): boolean => i % 2 === 0;

export function scaleConfig(options: ScaleConfigOptions): string {
  const { syncs } = options;
  const state = 'url' in options.state ? `{ url: '${options.state.url}' }` : `{ path: '${options.state.path}' }`;
  const lines = [
    `deployment: ${options.deployment}`,
    `temporal: { address: '${options.temporal.address}', namespace: ${options.temporal.namespace} }`,
    `state: ${state}`,
    'sources:',
    `  warehouse: { type: duckdb, path: '${options.warehouse}' }`,
    'destinations:',
    '  salesforce:',
    '    type: salesforce',
    '    loginUrl: ${SF_LOGIN_URL}',
    "    apiVersion: '60.0'",
    "    auth: { clientId: '${SF_CLIENT_ID}', clientSecret: '${SF_CLIENT_SECRET}' }",
    'models:',
  ];
  for (let i = 0; i < syncs; i++)
    lines.push(
      `  model-${syncIdOf(i, syncs)}:`,
      '    source: warehouse',
      '    primaryKey: account_id',
      `    sql: "select account_id, name, health, segment, mrr from account_health where substr(account_id, 6)::INTEGER % ${syncs} = ${i}"`,
    );
  lines.push('syncs:');
  for (let i = 0; i < syncs; i++) {
    const id = syncIdOf(i, syncs);
    lines.push(
      `  ${id}:`,
      `    model: model-${id}`,
      '    destination: salesforce',
      '    mode: upsert',
      '    object: Account',
      '    externalId: { from: account_id, to: External_Id__c }',
      '    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }',
    );
    if (isScheduled(i)) lines.push(`    schedule: { every: ${options.every} }`);
  }
  return `${lines.join('\n')}\n`;
}
