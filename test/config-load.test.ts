import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, UnknownSyncError } from '../config/config-problem';
import {
  checkConfigAgainstColumns,
  loadConfig,
  loadConfigOrThrow,
  parseConfig,
  resolveSync,
  scheduleIntervalMs,
} from '../config/load-config';

const root = path.resolve(__dirname, '..');
const sampleFile = path.join(root, 'examples', 'ebb.yaml');
const fiveMistakesFile = path.join(root, 'test', 'fixtures', 'config', 'five-mistakes.yaml');
const sampleEnv = {
  SF_LOGIN_URL: 'https://acme.my.salesforce.com',
  SF_CLIENT_ID: 'client-id',
  SF_CLIENT_SECRET: 'client-secret-value',
  SLACK_BOT_TOKEN: 'xoxb-secret-token',
};

/** A small valid config; `syncs` replaces its syncs section. */
function configWithSyncs(syncs: string): string {
  return `
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
  slack: { type: slack, token: xoxb-1 }
models:
  account_health: { source: warehouse, primaryKey: account_id, sql: select * from account_health, cursor: updated_at }
  accounts: { source: warehouse, primaryKey: id, sql: select * from accounts }
syncs:${syncs}`;
}

const sfSync = (id: string, extra = '') => `
  ${id}:
    model: account_health
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name }${extra}`;

describe('loading ebb.yaml', () => {
  test('the sample config validates ok', () => {
    const { config, problems } = loadConfig(sampleFile, { env: sampleEnv });
    expect(problems).toEqual([]);
    expect(Object.keys(config?.syncs ?? {})).toEqual([
      'accounts-to-sf',
      'at-risk-to-slack',
      'at-risk-contacts-to-meta',
      'accounts-to-webhook',
      'accounts-to-hubspot',
    ]);
    expect(config?.destinations.slack).toMatchObject({ type: 'slack', token: 'xoxb-secret-token' });
  });

  test('a config with five mistakes reports five errors each with its path and line', () => {
    const { config, problems } = loadConfig(fiveMistakesFile, { env: {} });
    expect(config).toBeUndefined();
    expect(problems.map(({ path: at, line }) => ({ path: at, line }))).toEqual([
      { path: 'destinations.slack.token', line: 12 },
      { path: 'syncs.accounts-to-sf.model', line: 22 },
      { path: 'syncs.accounts-to-sf.mode', line: 24 },
      { path: 'syncs.at-risk-to-slack.destination', line: 30 },
      { path: 'syncs.at-risk-to-slack.schedule.every', line: 33 },
    ]);
    for (const problem of problems) expect(problem.column).toBeGreaterThan(0);
  });

  test('a missing environment variable is named in the error, and set secrets are never echoed', () => {
    // The sample's variables all have sandbox defaults; without them every variable is required.
    const source = fs.readFileSync(sampleFile, 'utf8').replace(/\$\{(SLACK_BOT_TOKEN):-[^}]*\}/g, '${$1}');
    const { problems } = parseConfig(source, { env: { ...sampleEnv, SLACK_BOT_TOKEN: undefined } });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'destinations.slack.token',
        message: 'environment variable SLACK_BOT_TOKEN is not set',
      }),
    ]);
    expect(JSON.stringify(problems)).not.toContain(sampleEnv.SF_CLIENT_SECRET);
  });

  test('a secret that ends up in a rejected value is not echoed', () => {
    const source = configWithSyncs(sfSync('accounts-to-sf')).replace(
      'instanceUrl: https://acme.my.salesforce.com',
      'instanceUrl: "${SF_INSTANCE_URL}"',
    );
    const { problems } = parseConfig(source, { env: { SF_INSTANCE_URL: 'not a url but a pasted secret' } });
    expect(problems.map((p) => p.path)).toEqual(['destinations.salesforce.instanceUrl']);
    expect(JSON.stringify(problems)).not.toContain('pasted secret');
  });

  test('${VAR:-default} falls back to the default, and Liquid ${{ }} is left alone', () => {
    const source = configWithSyncs(`
  at-risk-to-slack:
    model: account_health
    destination: slack
    channel: \${ALERT_CHANNEL:-#cs-alerts}
    template: "MRR \${{ mrr }}"`);
    const { config, problems } = parseConfig(source, { env: {} });
    expect(problems).toEqual([]);
    expect(config?.syncs['at-risk-to-slack']).toMatchObject({ channel: '#cs-alerts', template: 'MRR ${{ mrr }}' });
  });

  test('a duplicate sync id is reported with its line', () => {
    const source = configWithSyncs(sfSync('accounts-to-sf') + sfSync('accounts-to-sf'));
    const { config, problems } = parseConfig(source, { env: {} });
    expect(config).toBeUndefined();
    const secondLine = source.split('\n').lastIndexOf('  accounts-to-sf:') + 1;
    const firstLine = source.split('\n').indexOf('  accounts-to-sf:') + 1;
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'syncs.accounts-to-sf',
        line: secondLine,
        column: 3,
        message: `duplicate key 'accounts-to-sf' (first defined at line ${firstLine})`,
      }),
    ]);
  });

  test('a sync naming an unknown model suggests the closest model', () => {
    const source = configWithSyncs(sfSync('accounts-to-sf').replace('model: account_health', 'model: acount_health'));
    const { problems } = parseConfig(source, { env: {} });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'syncs.accounts-to-sf.model',
        message: "unknown model 'acount_health'",
        hint: "did you mean 'account_health'? (known models: account_health, accounts)",
      }),
    ]);
  });

  test.each([
    ['every: 15 minutes', 'syncs.accounts-to-sf.schedule.every', "'15 minutes' is not a duration"],
    ['cron: "*/15 * *"', 'syncs.accounts-to-sf.schedule.cron', "'*/15 * *' is not a cron expression"],
    ['cron: "61 * * * *"', 'syncs.accounts-to-sf.schedule.cron', "'61 * * * *' is not a cron expression"],
    ['every: 15m, cron: "* * * * *"', 'syncs.accounts-to-sf.schedule', 'a schedule needs exactly one of every or cron'],
  ])('a schedule that does not parse is reported (%s)', (schedule, at, message) => {
    const { problems } = parseConfig(configWithSyncs(sfSync('accounts-to-sf', `\n    schedule: { ${schedule} }`)), {
      env: {},
    });
    expect(problems).toEqual([expect.objectContaining({ path: at, message: expect.stringContaining(message) })]);
  });

  test('a misspelt connector option is reported with the key it probably meant', () => {
    const source = configWithSyncs(sfSync('accounts-to-sf').replace('mapping:', 'maping:'));
    const { problems } = parseConfig(source, { env: {} });
    expect(problems).toContainEqual(
      expect.objectContaining({
        path: 'syncs.accounts-to-sf.maping',
        hint: expect.stringMatching(/^did you mean 'mapping'\?/),
      }),
    );
  });

  test('cursor change detection on a model without a cursor column is reported', () => {
    const source = configWithSyncs(
      sfSync('accounts-to-sf', '\n    changeDetection: cursor').replace('model: account_health', 'model: accounts'),
    );
    const { problems } = parseConfig(source, { env: {} });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'syncs.accounts-to-sf.changeDetection',
        message: expect.stringContaining("model 'accounts' has none"),
      }),
    ]);
  });

  test('an alert must go to a known slack destination', () => {
    const source = configWithSyncs(
      sfSync('accounts-to-sf', '\n    alert: { destination: salesforce, channel: "#ebb-alerts" }') +
        sfSync('contacts-to-sf', '\n    alert: { destination: slac, channel: "#ebb-alerts" }'),
    );
    const { problems } = parseConfig(source, { env: {} });
    expect(problems).toEqual([
      expect.objectContaining({ path: 'syncs.accounts-to-sf.alert.destination', hint: 'slack destinations: slack' }),
      expect.objectContaining({
        path: 'syncs.contacts-to-sf.alert.destination',
        message: "unknown destination 'slac'",
      }),
    ]);
  });

  test('names that cannot be part of a workflow id, unknown keys and missing keys are all reported at once', () => {
    const source = `
sources:
  Warehouse: { type: duckdb, path: ./w.duckdb }
  lake: { type: mysql, url: x }
destinations: {}
models:
  accounts: { source: lake, sql: select 1, primary_key: id }
syncs: {}
schedules: {}
`;
    const { problems } = parseConfig(source, { env: {} });
    expect(problems.map((p) => `${p.line} ${p.path}: ${p.message}`)).toEqual([
      "3 sources.Warehouse: 'Warehouse' is not a valid name: names use lowercase letters, digits, - and _, and start with a letter or digit",
      "4 sources.lake.type: unknown source type 'mysql'",
      "7 models.accounts.primaryKey: missing required key 'primaryKey'",
      "7 models.accounts.primary_key: unknown key 'primary_key'",
      "9 schedules: unknown key 'schedules'",
    ]);
  });

  test('an unquoted ${VAR} inside { } is a YAML error whose hint says to quote it', () => {
    const source = configWithSyncs(' {}').replace('token: xoxb-1', 'token: ${SLACK_BOT_TOKEN}');
    const { problems } = parseConfig(source, { env: { SLACK_BOT_TOKEN: 'xoxb-1' } });
    expect(problems).toContainEqual(
      expect.objectContaining({
        line: 6,
        message: expect.stringMatching(/^YAML: /),
        hint: 'inside { } quote values that use ${...}, e.g. { token: "${SLACK_BOT_TOKEN}" }',
      }),
    );
  });

  test('an auth block matching neither accepted form says what each form needs', () => {
    const source = configWithSyncs(' {}').replace('auth: { accessToken: tok }', 'auth: { clientId: abc }');
    const { problems } = parseConfig(source, { env: {} });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'destinations.salesforce.auth',
        message: 'matches none of the accepted forms',
        hint: "either clientSecret: missing required key 'clientSecret'; or username: missing required key 'username'; or accessToken: missing required key 'accessToken', clientId: unknown key 'clientId'",
      }),
    ]);
  });

  test('a file that does not exist is one problem, not a crash', () => {
    const { problems } = loadConfig(path.join(os.tmpdir(), 'no-such-ebb.yaml'));
    expect(problems).toEqual([expect.objectContaining({ message: 'cannot read the config: file not found' })]);
  });

  test('loadConfigOrThrow lists every problem in its ConfigError', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-config-'));
    const file = path.join(dir, 'ebb.yaml');
    fs.copyFileSync(fiveMistakesFile, file);
    let thrown: unknown;
    try {
      loadConfigOrThrow(file, { env: {} });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toHaveLength(5);
    expect((thrown as ConfigError).message).toContain(
      `${file}:22:12 syncs.accounts-to-sf.model: unknown model 'account_helth'`,
    );
  });

  test('environment variables override where Temporal and the state store are', () => {
    const config = loadConfigOrThrow(sampleFile, {
      env: { ...sampleEnv, EBB_TEMPORAL_ADDRESS: 'temporal:7233', EBB_STATE_URL: 'postgres://ebb@db/ebb' },
    });
    expect(config.temporal).toEqual({ address: 'temporal:7233', namespace: 'default' });
    expect(config.state.url).toBe('postgres://ebb@db/ebb');
  });
});

describe('using a loaded config', () => {
  const config = loadConfigOrThrow(sampleFile, { env: sampleEnv });

  test('resolveSync gives the sync with its id and primary key, its model, source and connector', () => {
    const resolved = resolveSync(config, 'accounts-to-sf');
    expect(resolved.sync).toMatchObject({
      id: 'accounts-to-sf',
      primaryKey: 'account_id',
      object: 'Account',
      mode: 'upsert',
    });
    expect(resolved.source).toEqual({ type: 'duckdb', path: '../.ebb/demo/warehouse.duckdb' });
    expect(resolved.destination.name).toBe('salesforce');
    expect(resolved.connector.type).toBe('salesforce');
  });

  test('resolveSync of an unknown sync id lists the known ones', () => {
    expect(() => resolveSync(config, 'accounts-to-sfdc')).toThrow(UnknownSyncError);
    expect(() => resolveSync(config, 'accounts-to-sfdc')).toThrow(
      "Unknown sync 'accounts-to-sfdc': did you mean 'accounts-to-sf'? (known syncs: accounts-to-sf, at-risk-to-slack, at-risk-contacts-to-meta, accounts-to-webhook, accounts-to-hubspot)",
    );
  });

  test('a mapping naming a column the model does not select is found once the columns are known', () => {
    const columns = { account_health: ['account_id', 'name', 'health', 'segment', 'updated_at'] };
    const problems = checkConfigAgainstColumns(config, columns);
    expect(problems.map((p) => p.path)).toContain('syncs.accounts-to-sf.mapping.mrr');
  });

  test('a schedule interval is exact for every and the next gap for cron', () => {
    expect(scheduleIntervalMs({ every: '15m' })).toBe(15 * 60_000);
    expect(scheduleIntervalMs({ every: '1d' })).toBe(86_400_000);
    expect(scheduleIntervalMs({ cron: '*/5 * * * *' })).toBe(5 * 60_000);
    expect(scheduleIntervalMs({ cron: '0 9 * * *' }, new Date('2026-01-01T12:00:00Z'))).toBe(86_400_000);
  });
});

test('each source type checks its own settings: an unknown key names the closest one, a missing one is required', () => {
  const source = `
sources:
  pg: { type: postgres, url: "postgres://reader@db.internal/analytics", sslmod: require }
  snow: { type: snowflake, account: acme, username: EBB, pasword: x, warehouse: WH, database: DB, schema: GOLD }
  lake: { type: duckdb }
`;
  const { problems } = parseConfig(source, { env: {} });
  expect(problems.map((p) => [p.path, p.message, p.hint])).toEqual(
    expect.arrayContaining([
      ['sources.pg.sslmod', "unknown key 'sslmod'", expect.stringContaining("did you mean 'sslmode'?")],
      ['sources.snow.pasword', "unknown key 'pasword'", expect.stringContaining("did you mean 'password'?")],
      ['sources.lake.path', "missing required key 'path'", undefined],
    ]),
  );
});
