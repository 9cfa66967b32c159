/**
 * Every level of ebb.yaml rejects a key it does not know, naming the closest known key: a misspelt
 * key must never be dropped silently (a `logniUrl` would otherwise leave the default login URL).
 */
import { parseConfig } from '../config/load-config';

const valid = {
  state: '{ path: ./state.sqlite }',
  temporal: '{ address: 127.0.0.1:7233 }',
  warehouse: '{ type: duckdb, path: ./warehouse.duckdb }',
  postgres: '{ type: postgres, url: "postgres://reader@db.internal/analytics" }',
  salesforce:
    '{ type: salesforce, loginUrl: https://acme.my.salesforce.com, auth: { clientId: id, clientSecret: secret }, limits: { batchSize: 100 } }',
  slack: '{ type: slack, token: xoxb-1, limits: { batchSize: 10 } }',
  model: '{ source: warehouse, primaryKey: account_id, sql: select * from account_health }',
  externalId: '{ from: account_id, to: External_Id__c }',
  schedule: '{ every: 15m }',
  alert: '{ destination: slack, channel: "#ebb-alerts" }',
  sfExtra: '',
  slackExtra: '',
};
type Part = keyof typeof valid;

function configYaml(parts: Partial<Record<Part, string>>): string {
  const p = { ...valid, ...parts };
  return `
state: ${p.state}
temporal: ${p.temporal}
sources:
  warehouse: ${p.warehouse}
  pg: ${p.postgres}
destinations:
  salesforce: ${p.salesforce}
  slack: ${p.slack}
models:
  account_health: ${p.model}
syncs:
  accounts-to-sf:
    model: account_health
    destination: salesforce
    object: Account
    externalId: ${p.externalId}
    mapping: { name: Name }
    schedule: ${p.schedule}
    alert: ${p.alert}${p.sfExtra}
  at-risk-to-slack:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    template: '{{ name }} is at risk'${p.slackExtra}
`;
}

const rows: Array<{ where: string; parts: Partial<Record<Part, string>>; path: string; closest: string }> = [
  { where: 'the state store', parts: { state: '{ pth: ./state.sqlite }' }, path: 'state.pth', closest: 'path' },
  { where: 'temporal', parts: { temporal: '{ adress: x:7233 }' }, path: 'temporal.adress', closest: 'address' },
  {
    where: 'a DuckDB source',
    parts: { warehouse: '{ type: duckdb, path: ./w.duckdb, pth: x }' },
    path: 'sources.warehouse.pth',
    closest: 'path',
  },
  {
    where: 'a PostgreSQL source',
    parts: { postgres: '{ type: postgres, url: "postgres://r@db/a", sslmod: require }' },
    path: 'sources.pg.sslmod',
    closest: 'sslmode',
  },
  {
    where: 'a Salesforce destination',
    parts: { salesforce: valid.salesforce.replace('loginUrl', 'instanceUrl: https://x.my.salesforce.com, logniUrl') },
    path: 'destinations.salesforce.logniUrl',
    closest: 'loginUrl',
  },
  {
    where: "a Salesforce destination's auth",
    parts: { salesforce: valid.salesforce.replace('clientSecret: secret', 'clientSecret: secret, clientSecrt: x') },
    path: 'destinations.salesforce.auth.clientSecrt',
    closest: 'clientSecret',
  },
  {
    where: "a Salesforce destination's limits",
    parts: { salesforce: valid.salesforce.replace('batchSize: 100', 'batchSize: 100, maxConcurency: 2') },
    path: 'destinations.salesforce.limits.maxConcurency',
    closest: 'maxConcurrency',
  },
  {
    where: 'a Slack destination',
    parts: { slack: '{ type: slack, token: xoxb-1, tokn: xoxb-2 }' },
    path: 'destinations.slack.tokn',
    closest: 'token',
  },
  {
    where: "a Slack destination's limits",
    parts: { slack: '{ type: slack, token: xoxb-1, limits: { batchSzie: 10 } }' },
    path: 'destinations.slack.limits.batchSzie',
    closest: 'batchSize',
  },
  {
    where: 'a model',
    parts: { model: valid.model.replace('}', ', primarKey: id }') },
    path: 'models.account_health.primarKey',
    closest: 'primaryKey',
  },
  {
    where: 'a Salesforce sync',
    parts: { sfExtra: '\n    mapings: { mrr: MRR__c }' },
    path: 'syncs.accounts-to-sf.mapings',
    closest: 'mapping',
  },
  {
    where: "a Salesforce sync's externalId",
    parts: { externalId: '{ from: account_id, to: External_Id__c, form: id }' },
    path: 'syncs.accounts-to-sf.externalId.form',
    closest: 'from',
  },
  {
    where: "a sync's schedule",
    parts: { schedule: '{ every: 15m, evry: 5m }' },
    path: 'syncs.accounts-to-sf.schedule.evry',
    closest: 'every',
  },
  {
    where: "a sync's alert",
    parts: { alert: '{ destination: slack, channel: "#a", chanel: "#b" }' },
    path: 'syncs.accounts-to-sf.alert.chanel',
    closest: 'channel',
  },
  {
    where: 'a Slack sync',
    parts: { slackExtra: '\n    tempalte: x' },
    path: 'syncs.at-risk-to-slack.tempalte',
    closest: 'template',
  },
];

test('the config every row below starts from is valid', () => {
  expect(parseConfig(configYaml({}), { env: {} }).problems).toEqual([]);
});

test.each(rows)('an unknown key in $where is rejected with the closest known key', ({ parts, path, closest }) => {
  const { config, problems } = parseConfig(configYaml(parts), { env: {} });
  expect(config).toBeUndefined();
  const key = path.split('.').pop() ?? '';
  expect(problems).toEqual([
    expect.objectContaining({
      path,
      message: `unknown key '${key}'`,
      hint: expect.stringMatching(new RegExp(`^did you mean '${closest}'\\? \\(known keys: .*\\b${closest}\\b`)),
      line: expect.any(Number),
    }),
  ]);
});

test('several unknown keys in one mapping are each reported with their own suggestion', () => {
  const { problems } = parseConfig(configYaml({ slack: '{ type: slack, tokn: xoxb-1, token: x, apiULR: y }' }), {
    env: {},
  });
  expect(problems.map((problem) => [problem.path, problem.hint?.split(' (')[0]])).toEqual([
    ['destinations.slack.tokn', "did you mean 'token'?"],
    ['destinations.slack.apiULR', "did you mean 'apiUrl'?"],
  ]);
});
