/** What `ebb worker --queues` accepts (connection settings: test/temporal-connection-settings.test.ts). */
import { parseConfig } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { selectQueues, unusedDestinations, UnknownQueueError } from '../workers/queue-selection';

function configWith(temporal = '', env: Record<string, string> = {}): ReturnType<typeof parseConfig> {
  return parseConfig(
    `
${temporal}
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
  slack: { type: slack, token: xoxb-1 }
models:
  accounts: { source: warehouse, primaryKey: id, sql: select * from accounts }
syncs:
  accounts-to-sf:
    model: accounts
    destination: salesforce
    object: Account
    externalId: { from: id, to: External_Id__c }
    mapping: { name: Name }
`,
    { env },
  );
}

const config = configWith().config as EbbConfig;

describe('ebb worker --queues', () => {
  test('engine and destination names select those queues', () => {
    expect(selectQueues(config, ['engine', 'salesforce'])).toEqual({ engine: true, destinations: ['salesforce'] });
    expect(selectQueues(config, ['salesforce', 'slack', 'salesforce'])).toEqual({
      engine: false,
      destinations: ['salesforce', 'slack'],
    });
  });

  test('an unknown name is an error naming it, with the closest queue', () => {
    expect(() => selectQueues(config, ['engine', 'salesfroce'])).toThrow(UnknownQueueError);
    expect(() => selectQueues(config, ['salesfroce'])).toThrow(
      "unknown queue 'salesfroce' in --queues: did you mean 'salesforce'? (known queues: engine, salesforce, slack)",
    );
  });

  test('a selected destination that no sync uses is reported, since it gets no worker', () => {
    expect(unusedDestinations(config, selectQueues(config, ['salesforce', 'slack']))).toEqual(['slack']);
  });
});
