/**
 * The bad-input table: for each way a user can get ebb's input wrong (config, warehouse data,
 * destination, CLI), the exact message they see, and that a normal run still succeeds afterwards.
 * Config rows need no engine (parseConfig); each other group shares one engine across its rows.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../config/load-config';
import type { RunSummary } from '../workflows/definitions';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const binary = path.join(__dirname, '..', 'bin', 'ebb.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the ebb binary; a non-zero exit is a result, not a throw. */
async function ebb(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [binary, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// ---------------------------------------------------------------------------------------------
// config: parseConfig directly, no engine

interface ConfigParts {
  source?: string;
  salesforce?: string;
  model?: string;
  sync?: string;
  /** Appended after the syncs section. */
  tail?: string;
}

const SF_SYNC = `    model: account_health
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name }`;
const SLACK_SYNC = `    model: account_health
    destination: slack
    channel: '#cs-alerts'`;

function configYaml(parts: ConfigParts = {}): string {
  return `
sources:
  warehouse: ${parts.source ?? '{ type: duckdb, path: ./warehouse.duckdb }'}
destinations:
  salesforce: ${parts.salesforce ?? '{ type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }'}
  slack: { type: slack, token: xoxb-1 }
models:
  account_health: ${parts.model ?? '{ source: warehouse, primaryKey: account_id, sql: select * from account_health, cursor: updated_at }'}
syncs:
  accounts-to-sf:
${parts.sync ?? SF_SYNC}
${parts.tail ?? ''}`;
}

const sfWith = (extra: string) => `${SF_SYNC}\n${extra}`;
const SF_URL = 'https://acme.my.salesforce.com';

interface ConfigRow {
  name: string;
  yaml: string;
  env?: Record<string, string>;
  path: string;
  message: string;
  /** The whole hint, or undefined when the message says it all. */
  hint?: string;
}

const configRows: ConfigRow[] = [
  {
    name: 'a misspelt sync key names the key it probably meant',
    yaml: configYaml({ sync: sfWith('    shedule: { every: 15m }') }),
    path: 'syncs.accounts-to-sf.shedule',
    message: "unknown key 'shedule'",
    hint: "did you mean 'schedule'? (known keys: object, externalId, mapping, bulk, model, destination, mode, filter, changeDetection, schedule, alert, maxDeletes, changedFieldsOnly)",
  },
  {
    name: 'a misspelt source key names the key it probably meant',
    yaml: configYaml({ source: '{ type: duckdb, path: ./w.duckdb, pth: x }' }),
    path: 'sources.warehouse.pth',
    message: "unknown key 'pth'",
    hint: "did you mean 'path'? (known keys: type, path, warehouseDiff, syncLogs)",
  },
  {
    name: 'a misspelt destination key names the key it probably meant instead of being dropped',
    yaml: configYaml({
      salesforce: `{ type: salesforce, instanceUrl: ${SF_URL}, auth: { accessToken: tok }, limts: {} }`,
    }),
    path: 'destinations.salesforce.limts',
    message: "unknown key 'limts'",
    hint: "did you mean 'limits'? (known keys: type, loginUrl, instanceUrl, apiVersion, auth, apiBudget, limits, bulk)",
  },
  {
    name: 'a misspelt Slack destination key names the key it probably meant',
    yaml: configYaml().replace('{ type: slack, token: xoxb-1 }', '{ type: slack, token: xoxb-1, apiURL: x }'),
    path: 'destinations.slack.apiURL',
    message: "unknown key 'apiURL'",
    hint: "did you mean 'apiUrl'? (known keys: type, token, apiUrl, limits)",
  },
  {
    name: 'an unknown top-level section is reported',
    yaml: configYaml({ tail: 'sync: {}' }),
    path: 'sync',
    message: "unknown key 'sync'",
    hint: "did you mean 'syncs'? (known keys: deployment, state, temporal, sources, destinations, models, syncs, observability)",
  },
  {
    name: "a model without sql says the key 'sql' is required",
    yaml: configYaml({ model: '{ source: warehouse, primaryKey: account_id }' }),
    path: 'models.account_health.sql',
    message: "missing required key 'sql'",
  },
  {
    name: "a Salesforce sync without an object says the key 'object' is required",
    yaml: configYaml({ sync: SF_SYNC.replace('    object: Account\n', '') }),
    path: 'syncs.accounts-to-sf.object',
    message: "missing required key 'object'",
  },
  {
    name: "an external id without 'to' says the key 'to' is required",
    yaml: configYaml({ sync: SF_SYNC.replace('to: External_Id__c ', '') }),
    path: 'syncs.accounts-to-sf.externalId.to',
    message: "missing required key 'to'",
  },
  {
    name: 'a Slack sync without a template says the key is required',
    yaml: configYaml({ sync: SLACK_SYNC }),
    path: 'syncs.accounts-to-sf.template',
    message: "missing required key 'template'",
  },
  {
    name: 'sql given as a list says a string was expected',
    yaml: configYaml({ model: '{ source: warehouse, primaryKey: account_id, sql: [1, 2] }' }),
    path: 'models.account_health.sql',
    message: 'expected string, got a list',
  },
  {
    name: 'failedRecordsThreshold given as a word says a number was expected',
    yaml: configYaml({ sync: sfWith('    alert: { destination: slack, channel: "#a", failedRecordsThreshold: ten }') }),
    path: 'syncs.accounts-to-sf.alert.failedRecordsThreshold',
    message: 'expected number, got string',
  },
  {
    name: 'an unknown changeDetection lists the accepted values',
    yaml: configYaml({ sync: sfWith('    changeDetection: hash') }),
    path: 'syncs.accounts-to-sf.changeDetection',
    message: 'Invalid option: expected one of "diff"|"cursor"',
  },
  {
    name: 'an interval that is not a duration shows how to write one',
    yaml: configYaml({ sync: sfWith('    schedule: { every: 15 minutes }') }),
    path: 'syncs.accounts-to-sf.schedule.every',
    message: "'15 minutes' is not a duration",
    hint: 'write a positive whole number and a unit: 30s, 15m, 2h or 1d',
  },
  {
    name: 'a cron minute out of range says which field is wrong',
    yaml: configYaml({ sync: sfWith('    schedule: { cron: "61 * * * *" }') }),
    path: 'syncs.accounts-to-sf.schedule.cron',
    message: "'61 * * * *' is not a cron expression: Constraint error, got value 61 expected range 0-59",
    hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *"',
  },
  {
    name: 'a schedule with both every and cron asks for exactly one',
    yaml: configYaml({ sync: sfWith('    schedule: { every: 15m, cron: "* * * * *" }') }),
    path: 'syncs.accounts-to-sf.schedule',
    message: 'a schedule needs exactly one of every or cron',
    hint: 'e.g. { every: 15m } or { cron: "*/15 * * * *" }',
  },
  {
    name: 'a sync naming an unknown model suggests the closest model',
    yaml: configYaml({ sync: SF_SYNC.replace('model: account_health', 'model: acount_health') }),
    path: 'syncs.accounts-to-sf.model',
    message: "unknown model 'acount_health'",
    hint: "did you mean 'account_health'? (known models: account_health)",
  },
  {
    name: 'a sync naming an unknown destination suggests the closest destination',
    yaml: configYaml({ sync: SF_SYNC.replace('destination: salesforce', 'destination: salesfrce') }),
    path: 'syncs.accounts-to-sf.destination',
    message: "unknown destination 'salesfrce'",
    hint: "did you mean 'salesforce'? (known destinations: salesforce, slack)",
  },
  {
    name: 'a model naming an unknown source suggests the closest source',
    yaml: configYaml({ model: '{ source: wearhouse, primaryKey: account_id, sql: select 1 }' }),
    path: 'models.account_health.source',
    message: "unknown source 'wearhouse'",
    hint: "did you mean 'warehouse'? (known sources: warehouse)",
  },
  {
    name: 'a missing ${VAR} names the variable and how to set it',
    yaml: configYaml({
      salesforce: `{ type: salesforce, instanceUrl: ${SF_URL}, auth: { accessToken: "\${SF_TOKEN}" } }`,
    }),
    path: 'destinations.salesforce.auth.accessToken',
    message: 'environment variable SF_TOKEN is not set',
    hint: 'export SF_TOKEN=... before running ebb, or write ${SF_TOKEN-<default>} in the config (${SF_TOKEN:-<default>} also replaces an empty value)',
  },
  {
    name: 'an unquoted ${VAR} inside { } is a YAML error whose hint says to quote it',
    yaml: configYaml().replace('token: xoxb-1', 'token: ${SLACK_BOT_TOKEN}'),
    env: { SLACK_BOT_TOKEN: 'xoxb-1' },
    path: 'destinations.slack.token',
    message: 'YAML: Unexpected flow-map-start at node end',
    hint: 'inside { } quote values that use ${...}, e.g. { token: "${SLACK_BOT_TOKEN}" }',
  },
  {
    name: 'a negative maxDeletes is not a number of records',
    yaml: configYaml({ sync: sfWith('    mode: mirror\n    maxDeletes: -5') }),
    path: 'syncs.accounts-to-sf.maxDeletes',
    message: '-5 is not a number of records',
    hint: 'a whole number of records (maxDeletes: 500) or a percentage of those delivered (maxDeletes: "10%")',
  },
  {
    name: 'a maxDeletes over 100% says what 100% already does',
    yaml: configYaml({ sync: sfWith('    mode: mirror\n    maxDeletes: "150%"') }),
    path: 'syncs.accounts-to-sf.maxDeletes',
    message: "'150%' is more than 100%",
    hint: '"100%" lets a run delete every record without confirmation',
  },
  {
    name: 'a maxDeletes that is a word is neither a count nor a percentage',
    yaml: configYaml({ sync: sfWith('    mode: mirror\n    maxDeletes: lots') }),
    path: 'syncs.accounts-to-sf.maxDeletes',
    message: "'lots' is neither a count nor a percentage",
    hint: 'a whole number of records (maxDeletes: 500) or a percentage of those delivered (maxDeletes: "10%")',
  },
  {
    name: 'a maxDeletes on a sync that never deletes is refused rather than read as a protection',
    yaml: configYaml({ sync: sfWith('    maxDeletes: 5') }),
    path: 'syncs.accounts-to-sf.maxDeletes',
    message: "maxDeletes applies only to mode: mirror, and this sync's mode is its destination's default",
    hint: 'remove maxDeletes, or set mode: mirror if the sync should delete records',
  },
  {
    name: 'a Slack template with an unknown filter names the filter and the ones ebb adds',
    yaml: configYaml({ sync: `${SLACK_SYNC}\n    template: '{{ name | nosuchfilter }}'` }),
    path: 'syncs.accounts-to-sf.template',
    message: 'the Liquid template does not parse: undefined filter: nosuchfilter, line:1, col:1',
    hint: 'see https://liquidjs.com for the syntax; ebb adds number, currency, percent, date_iso, mrkdwn and raw filters',
  },
  {
    name: 'a Slack template with an unclosed output says so',
    yaml: configYaml({ sync: `${SLACK_SYNC}\n    template: '{{ name '` }),
    path: 'syncs.accounts-to-sf.template',
    message: 'the Liquid template does not parse: output "{{ name " not closed, line:1, col:1',
    hint: 'see https://liquidjs.com for the syntax; ebb adds number, currency, percent, date_iso, mrkdwn and raw filters',
  },
  {
    name: 'a duplicate YAML key names the line of the first one',
    yaml: configYaml({ sync: sfWith('    object: Contact') }),
    path: 'syncs.accounts-to-sf.object',
    message: "duplicate key 'object' (first defined at line 13)",
    hint: 'each key may appear once in a mapping: rename or remove one of them',
  },
  {
    name: 'an unknown source type lists the known types',
    yaml: configYaml({ source: '{ type: bigquery, project: x }' }),
    path: 'sources.warehouse.type',
    message: "unknown source type 'bigquery'",
    hint: 'known source types: duckdb, snowflake, postgres',
  },
  {
    name: 'a misspelt source type suggests the closest type',
    yaml: configYaml({ source: '{ type: duckd, path: x }' }),
    path: 'sources.warehouse.type',
    message: "unknown source type 'duckd'",
    hint: "did you mean 'duckdb'? (known source types: duckdb, snowflake, postgres)",
  },
  {
    name: 'a Snowflake source with a password and a key file asks for one way to log in',
    yaml: configYaml({
      source:
        '{ type: snowflake, account: a, username: u, password: p, privateKeyPath: ./k.p8, warehouse: W, database: D, schema: S }',
    }),
    path: 'sources.warehouse',
    message: 'give only one way to log in, not password and privateKeyPath',
  },
  {
    name: 'a misspelt Salesforce mode suggests the closest mode',
    yaml: configYaml({ sync: sfWith('    mode: upsrt') }),
    path: 'syncs.accounts-to-sf.mode',
    message: "a salesforce sync has no mode 'upsrt'",
    hint: "did you mean 'upsert'? modes: upsert, update, insert, mirror",
  },
  {
    name: 'an alert to a Salesforce destination says alerts go to Slack',
    yaml: configYaml({ sync: sfWith('    alert: { destination: salesforce, channel: "#a" }') }),
    path: 'syncs.accounts-to-sf.alert.destination',
    message: "alerts are sent to a slack destination, and 'salesforce' is of type salesforce",
    hint: 'slack destinations: slack',
  },
  {
    name: 'a Salesforce instanceUrl that is not a URL shows what one looks like',
    yaml: configYaml({ salesforce: '{ type: salesforce, instanceUrl: not-a-url, auth: { accessToken: tok } }' }),
    path: 'destinations.salesforce.instanceUrl',
    message: 'instanceUrl must be a URL such as https://acme.my.salesforce.com',
  },
  {
    name: 'a Salesforce batchSize over 200 says why 200 is the limit',
    yaml: configYaml({
      salesforce: `{ type: salesforce, instanceUrl: ${SF_URL}, auth: { accessToken: tok }, limits: { batchSize: 500 } }`,
    }),
    path: 'destinations.salesforce.limits.batchSize',
    message: 'batchSize can be at most 200 (one sObject Collections request)',
  },
  {
    name: 'a sync name with spaces says which names are allowed',
    yaml: configYaml().replace('accounts-to-sf:', 'Accounts To SF:'),
    path: 'syncs.Accounts To SF',
    message:
      "'Accounts To SF' is not a valid name: names use lowercase letters, digits, - and _, and start with a letter or digit",
  },
  {
    name: 'an empty file says so and where to start',
    yaml: '',
    path: '',
    message: 'the config is empty',
    hint: 'start from examples/ebb.yaml',
  },
];

describe('config', () => {
  test.each(configRows)('$name', (row) => {
    const { config, problems } = parseConfig(row.yaml, { env: row.env ?? {} });
    expect(config).toBeUndefined();
    const problem = problems.find((p) => p.path === row.path);
    expect(problem).toMatchObject({ path: row.path, message: row.message });
    expect(problem?.hint).toBe(row.hint);
  });

  test('the unchanged config is still valid', () => {
    expect(parseConfig(configYaml(), { env: {} }).problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// engine groups: one engine each, a sync per row

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-bad-input-'));

interface CliRow {
  name: string;
  /** Arguments after `--config <the engine's ebb.yaml>`; `{good}` is the group's good sync. */
  args: string[];
  code: number;
  stderr?: string;
  stdout?: string;
}

const cliRows: CliRow[] = [
  {
    name: 'an unknown command is named, with the usage after it',
    args: ['frobnicate'],
    code: 1,
    stderr: "error: unknown command 'frobnicate'\n",
  },
  {
    name: 'a command without its sync argument names the missing argument',
    args: ['run'],
    code: 1,
    stderr: "error: missing required argument 'sync'\n",
  },
  {
    name: 'verify --sample that is not a number says a positive whole number is expected',
    args: ['verify', '{good}', '--sample', 'abc'],
    code: 1,
    stderr: "error: option '--sample <n>' argument 'abc' is invalid. expected a positive whole number",
  },
  {
    name: 'run --wait on an unknown sync suggests the closest sync',
    args: ['run', '{good}x', '--wait'],
    code: 1,
    stderr: "UnknownSyncError: Unknown sync '{good}x': did you mean '{good}'?",
  },
  {
    name: 'records of an unknown sync suggests the closest sync',
    args: ['records', 'goodx-{suffix}', '--failed'],
    code: 1,
    stderr: "UnknownSyncError: Unknown sync 'goodx-{suffix}': did you mean '{good}'?",
  },
  {
    name: 'a --config file that does not exist says so and how to pass one',
    args: ['--config', path.join(tempDir, 'nope.yaml'), 'run', '{good}', '--wait'],
    code: 1,
    stderr: `${path.join(tempDir, 'nope.yaml')} cannot read the config: file not found\n  hint: pass the path of your ebb.yaml: ebb --config path/to/ebb.yaml <command> (or EBB_CONFIG), or ebb validate path/to/ebb.yaml`,
  },
  {
    name: 'validate of a file that does not exist is one error, not a stack trace',
    args: ['validate', path.join(tempDir, 'nope.yaml')],
    code: 1,
    stdout: `${path.join(tempDir, 'nope.yaml')} cannot read the config: file not found\n  hint: pass the path of your ebb.yaml: ebb --config path/to/ebb.yaml <command> (or EBB_CONFIG), or ebb validate path/to/ebb.yaml\n1 error\n`,
  },
  {
    name: 'worker --queues with a misspelt destination suggests the closest queue',
    args: ['worker', '--queues', 'engine,salesfrce'],
    code: 1,
    stderr: "UnknownQueueError: unknown queue 'salesfrce' in --queues: did you mean 'salesforce'?",
  },
];

describe('CLI misuse', () => {
  let engine: EngineHarness;
  let good: string;
  beforeAll(async () => {
    engine = await startEngine({ generated: 0, syncsYaml: ({ suffix }) => salesforceSyncYaml(`good-${suffix}`) });
    good = `good-${engine.suffix}`;
  });
  afterAll(async () => {
    await engine?.stop();
  });
  const fill = (text: string) => text.replaceAll('{good}', good).replaceAll('{suffix}', engine.suffix);

  test.each(cliRows)('$name', async (row) => {
    const result = await ebb(['--config', engine.configFile, ...row.args.map(fill)], engine.env);
    expect(result.code).toBe(row.code);
    if (row.stderr !== undefined) expect(result.stderr).toContain(fill(row.stderr));
    if (row.stdout !== undefined) expect(result.stdout).toBe(fill(row.stdout));
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/^\s+at /m);
  });

  test('afterwards ebb run --wait of a good sync delivers every record and exits 0', async () => {
    const result = await ebb(['--config', engine.configFile, 'run', good, '--wait'], engine.env);
    expect(result.code).toBe(0);
    // Without a terminal, stderr says only which phase the run is in while the CLI waits (a loaded
    // machine may first see it at done).
    for (const line of result.stderr.split('\n').filter(Boolean))
      expect(line).toMatch(/^run 1: (planning|delivering|finishing|done)/);
    expect(result.stdout).toMatch(/^run 1 \(incremental\) succeeded: 4 records changed/);
  });
});

interface RunRow {
  name: string;
  /** The sync's id prefix (the engine adds its suffix). */
  sync: string;
  status: RunSummary['status'];
  /** Part of the run's error, for a run that failed. */
  error?: string | RegExp;
  /** Failed records: key, code and (part of) the message. */
  records?: Array<{ key: string | RegExp; errorCode: string; message: string | RegExp }>;
  /** What else the user sees (Salesforce, Slack, the CLI). */
  check?: (engine: EngineHarness, sync: string, run: RunSummary) => Promise<void>;
}

async function expectRunRow(engine: EngineHarness, row: RunRow): Promise<void> {
  const sync = `${row.sync}-${engine.suffix}`;
  const run = await engine.run(sync);
  expect(run.status).toBe(row.status);
  if (row.error !== undefined) expect(run.error).toMatch(row.error);
  if (row.records) {
    const failures = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(failures.map((f) => ({ key: f.key, errorCode: f.errorCode, message: f.errorMessage }))).toEqual(
      row.records.map((r) => ({
        key: typeof r.key === 'string' ? r.key : expect.stringMatching(r.key),
        errorCode: r.errorCode,
        message: typeof r.message === 'string' ? expect.stringContaining(r.message) : expect.stringMatching(r.message),
      })),
    );
  }
  await row.check?.(engine, sync, run);
}

const HUGE = 1024 * 1024;
const EMOJI_NAME = 'Acme 🚀 👩🏽‍💻 Café';
const RTL_NAME = 'شركة جلوبكس للتجارة';
const HEBREW_NAME = 'אומברלה בע״מ';

const warehouseModels = `
  bad_sql:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name from account_helth
  messy_accounts:
    source: warehouse
    primaryKey: account_id
    sql: >
      select account_id, name from account_health
      union all select 'globex', 'Globex Twin'
      union all select null, 'Nobody Inc'
  odd_numbers:
    source: warehouse
    primaryKey: account_id
    sql: >
      select account_id, name, case account_id when 'acme' then 'nan'::double when 'globex' then 'inf'::double
      when 'initech' then '-inf'::double else health end as health from account_health
  huge_text:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name, repeat('x', ${HUGE}) as notes from account_health where account_id = 'acme'
  nested_values:
    source: warehouse
    primaryKey: account_id
    sql: >
      select account_id, name, {'tier': 'gold', 'seats': 12} as props, ['a', 'b'] as tags,
      map(['k'], ['v']) as attrs from account_health where account_id = 'acme'
  intl_names:
    source: warehouse
    primaryKey: account_id
    sql: >
      select account_id, case account_id when 'acme' then '${EMOJI_NAME}' when 'globex' then '${RTL_NAME}'
      when 'umbrella' then '${HEBREW_NAME}' else name end as name, health, mrr from account_health`;

const warehouseSyncs = (suffix: string) =>
  [
    salesforceSyncYaml(`good-${suffix}`),
    salesforceSyncYaml(`bad-sql-${suffix}`, { model: 'bad_sql', mapping: '{ name: Name }' }),
    salesforceSyncYaml(`missing-column-${suffix}`, {
      mapping: '{ name: Name, helth: Health_Score__c }',
    }),
    salesforceSyncYaml(`messy-${suffix}`, { model: 'messy_accounts', mapping: '{ name: Name }' }),
    salesforceSyncYaml(`odd-numbers-${suffix}`, {
      model: 'odd_numbers',
      mapping: '{ name: Name, health: Health_Score__c }',
    }),
    salesforceSyncYaml(`huge-${suffix}`, {
      model: 'huge_text',
      mapping: '{ name: Name, notes: Description }',
      extra:
        "\n    alert: { destination: slack, channel: '#ebb-alerts', failedRecordsThreshold: 1, quoteValues: true }",
    }),
    salesforceSyncYaml(`nested-${suffix}`, {
      model: 'nested_values',
      mapping: '{ name: Name, props: Description, tags: Phone, attrs: Website }',
    }),
    salesforceSyncYaml(`intl-${suffix}`, { model: 'intl_names', mapping: '{ name: Name }' }),
    `
  intl-slack-${suffix}:
    model: intl_names
    destination: slack
    filter: "account_id in ('acme', 'globex', 'umbrella')"
    channel: '#cs-alerts'
    template: '{{ name }} (health {{ health }})'
`,
  ].join('');

const warehouseRows: RunRow[] = [
  {
    name: 'a model whose SQL names a missing table fails the run with the warehouse message and the model',
    sync: 'bad-sql',
    status: 'failed',
    error: 'account_helth',
  },
  {
    name: 'a mapped column the model does not select fails the run naming the column and the closest one',
    sync: 'missing-column',
    status: 'failed',
    error: /mapping\.helth: Column 'helth' is not selected by the model/,
  },
  {
    name: 'null and duplicate primary keys are failed records saying why, and the other rows land',
    sync: 'messy',
    status: 'succeeded_with_failures',
    records: [
      {
        key: '<null account_id #1>',
        errorCode: 'NULL_PRIMARY_KEY',
        message: "model 'messy_accounts' returned a row with a null account_id",
      },
      {
        key: 'globex',
        errorCode: 'DUPLICATE_PRIMARY_KEY',
        message: "model 'messy_accounts' returned 2 rows with account_id = 'globex'; none of them was sent",
      },
    ],
  },
  {
    name: 'NaN and infinity in a numeric column are failed records naming the column, and the other rows land',
    sync: 'odd-numbers',
    status: 'succeeded_with_failures',
    records: [
      {
        key: 'acme',
        errorCode: 'NOT_A_FINITE_NUMBER',
        message:
          "Column 'health' holds NaN, which the Salesforce number field Health_Score__c cannot store; make the model return null or a number there",
      },
      { key: 'globex', errorCode: 'NOT_A_FINITE_NUMBER', message: "Column 'health' holds Infinity" },
      { key: 'initech', errorCode: 'NOT_A_FINITE_NUMBER', message: "Column 'health' holds -Infinity" },
    ],
    check: async (engine) => {
      const accounts = engine.sf.records('Account');
      expect(accounts.find((a) => a.External_Id__c === 'umbrella')).toMatchObject({ Health_Score__c: 91 });
      const health = accounts.map((a) => a.Health_Score__c).filter((h) => h !== undefined && h !== null);
      expect(health.every((h) => Number.isFinite(h))).toBe(true);
    },
  },
  {
    name: 'a 1 MB string in a text field is STRING_TOO_LONG, and the CLI and the alert quote only an excerpt',
    sync: 'huge',
    status: 'failed',
    records: [{ key: 'acme', errorCode: 'STRING_TOO_LONG', message: 'Description' }],
    check: async (engine, sync) => {
      const cli = await ebb(['--config', engine.configFile, 'records', sync, '--failed'], engine.env);
      expect(cli.stdout).toContain('STRING_TOO_LONG');
      expect(cli.stdout.length).toBeLessThan(2000);
      const alerts = engine.slack.messages('C0EBBALERT');
      expect(alerts.map((m) => m.text).join('\n')).toContain('STRING_TOO_LONG');
      expect(Math.max(...alerts.map((m) => m.text.length))).toBeLessThan(2000);
    },
  },
  {
    name: 'struct, list and map columns mapped to text fields arrive as JSON text',
    sync: 'nested',
    status: 'succeeded',
    check: async (engine) => {
      const acme = engine.sf.records('Account').find((a) => a.External_Id__c === 'acme');
      expect(acme).toMatchObject({
        Description: '{"tier":"gold","seats":12}',
        Phone: '["a","b"]',
        Website: '[{"key":"k","value":"v"}]',
      });
    },
  },
  {
    name: 'emoji and right-to-left names arrive intact in Salesforce',
    sync: 'intl',
    status: 'succeeded',
    check: async (engine) => {
      const names = new Map(engine.sf.records('Account').map((a) => [a.External_Id__c, a.Name]));
      expect(names.get('acme')).toBe(EMOJI_NAME);
      expect(names.get('globex')).toBe(RTL_NAME);
      expect(names.get('umbrella')).toBe(HEBREW_NAME);
    },
  },
  {
    name: 'emoji and right-to-left names arrive intact in Slack',
    sync: 'intl-slack',
    status: 'succeeded',
    check: async (engine) => {
      const texts = engine.slack.messages('C0CSALERTS').map((m) => m.text);
      expect(texts).toEqual(
        expect.arrayContaining([
          `${EMOJI_NAME} (health 38)`,
          expect.stringContaining(RTL_NAME),
          expect.stringContaining(HEBREW_NAME),
        ]),
      );
    },
  },
];

describe('warehouse data', () => {
  let engine: EngineHarness;
  beforeAll(async () => {
    engine = await startEngine({
      generated: 0,
      extraModelsYaml: warehouseModels,
      syncsYaml: ({ suffix }) => warehouseSyncs(suffix),
    });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  test.each(warehouseRows)('$name', async (row) => expectRunRow(engine, row));

  test('afterwards a good sync still delivers every record', async () => {
    expect(await engine.run(`good-${engine.suffix}`)).toMatchObject({ status: 'succeeded', succeeded: 4, failed: 0 });
  });
});

/** A second Salesforce destination with a wrong client secret, added beside the harness's own. */
const WRONG_SECRET_DESTINATION = `{ batchSize: 50, maxConcurrency: 2, requestsPerSecond: 50 }
  sf-wrong-secret:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth: { clientId: "\${SF_CLIENT_ID}", clientSecret: not-the-secret }`;

const destinationSyncs = (suffix: string) =>
  [
    salesforceSyncYaml(`good-${suffix}`),
    salesforceSyncYaml(`wrong-secret-${suffix}`).replace('destination: salesforce', 'destination: sf-wrong-secret'),
    salesforceSyncYaml(`unknown-object-${suffix}`).replace('object: Account', 'object: Acount'),
    salesforceSyncYaml(`unknown-field-${suffix}`, { mapping: '{ name: Nme }' }),
    salesforceSyncYaml(`too-long-${suffix}`, {
      model: 'long_names',
      mapping: '{ name: Name }',
    }),
  ].join('');

const destinationRows: RunRow[] = [
  {
    name: 'a wrong Salesforce client secret fails the run saying the credentials were refused',
    sync: 'wrong-secret',
    status: 'failed',
    error: 'invalid client credentials',
  },
  {
    name: 'an unknown Salesforce object fails the run suggesting the closest object',
    sync: 'unknown-object',
    status: 'failed',
    error:
      /FatalDestinationError: Salesforce object 'Acount' does not exist \(sync unknown-object-\w+, key object\)\. Did you mean 'Account'\?/,
  },
  {
    name: 'an unknown Salesforce field fails the run suggesting the closest field',
    sync: 'unknown-field',
    status: 'failed',
    error: "mapping.name: field 'Nme' does not exist on Account. Did you mean 'Name'?",
  },
  {
    name: 'a value longer than its field is a STRING_TOO_LONG record naming the field, and the others land',
    sync: 'too-long',
    status: 'succeeded_with_failures',
    records: [{ key: 'acme', errorCode: 'STRING_TOO_LONG', message: 'Name' }],
  },
];

describe('destination', () => {
  let engine: EngineHarness;
  beforeAll(async () => {
    engine = await startEngine({
      generated: 0,
      salesforceLimits: WRONG_SECRET_DESTINATION,
      extraModelsYaml: `
  long_names:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, case account_id when 'acme' then repeat('n', 81) else name end as name from account_health`,
      syncsYaml: ({ suffix }) => destinationSyncs(suffix),
    });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  test.each(destinationRows)('$name', async (row) => expectRunRow(engine, row));

  test('afterwards a good sync still delivers every record', async () => {
    expect(await engine.run(`good-${engine.suffix}`)).toMatchObject({ status: 'succeeded', succeeded: 4, failed: 0 });
  });
});
