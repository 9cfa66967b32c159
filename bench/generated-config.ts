/**
 * A generated ebb.yaml of many models and syncs (half Salesforce, half Slack), for measuring how the
 * config check scales (bench/config-check.ts, test/config-scale.test.ts). With `mistakes`, each model
 * and sync carries the same few mistakes, so the number of problems grows with the size too.
 */
export interface GeneratedConfigOptions {
  syncs: number;
  /** Per model an unset variable; per Salesforce sync a misspelt key and a duplicate mapping key; per Slack sync a bad schedule. */
  mistakes: boolean;
  /** Path of the DuckDB file holding `account_health` (default ./warehouse.duckdb). */
  warehouse?: string;
}

export function generatedConfig({ syncs, mistakes, warehouse = './warehouse.duckdb' }: GeneratedConfigOptions): string {
  const lines = [
    'sources:',
    `  warehouse: { type: duckdb, path: "${warehouse}" }`,
    'destinations:',
    '  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }',
    '  slack: { type: slack, token: xoxb-1 }',
    'models:',
  ];
  for (let i = 0; i < syncs; i++) {
    const shard = mistakes ? `\${SHARD_${i}}` : String(i);
    lines.push(
      `  model-${i}: { source: warehouse, primaryKey: account_id, sql: "select account_id, name, health from account_health where shard = ${shard}" }`,
    );
  }
  lines.push('syncs:');
  for (let i = 0; i < syncs; i++) {
    lines.push(`  sync-${i}:`, `    model: model-${i}`);
    if (i % 2 === 0) {
      const duplicate = mistakes ? ', name: Name' : '';
      lines.push(
        '    destination: salesforce',
        '    object: Account',
        '    externalId: { from: account_id, to: External_Id__c }',
        `    mapping: { name: Name, health: Health_Score__c${duplicate} }`,
      );
    } else {
      lines.push('    destination: slack', `    channel: '#accounts-${i}'`, "    template: '{{ name }}: {{ health }}'");
    }
    const key = mistakes && i % 2 === 0 ? 'shedule' : 'schedule';
    lines.push(`    ${key}: { every: ${mistakes && i % 2 === 1 ? 'often' : '15m'} }`);
  }
  return `${lines.join('\n')}\n`;
}
