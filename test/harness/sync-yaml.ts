/**
 * `syncs:` entries for ebb.yaml in tests: one Salesforce sync of the harness's demo model
 * (account_health) by default, so each test says only what differs.
 *
 *   startEngine({ syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`, { mode: 'mirror' }) })
 */
export const FULL_MAPPING = '{ name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }';

export interface SalesforceSyncOptions {
  model?: string;
  mode?: string;
  /** A YAML flow map of column: field (default FULL_MAPPING). */
  mapping?: string;
  externalId?: string;
  /** More lines of the sync, each starting with a newline and four spaces. */
  extra?: string;
}

export function salesforceSyncYaml(id: string, options: SalesforceSyncOptions = {}): string {
  return `
  ${id}:
    model: ${options.model ?? 'account_health'}
    destination: salesforce
    object: Account${options.mode ? `\n    mode: ${options.mode}` : ''}
    externalId: ${options.externalId ?? '{ from: account_id, to: External_Id__c }'}
    mapping: ${options.mapping ?? FULL_MAPPING}${options.extra ?? ''}
`;
}
