/**
 * Invariant 3 end to end: every kind of sync (a clean upsert, a record Salesforce rejects, its
 * replay, a model that fails with a value in its error, a Slack template with alerts, a mirror
 * deletion) runs on a worker in its own process; then every workflow history (payloads decoded),
 * the worker's log and the CLI's output are searched for the configured secrets, the access tokens
 * Salesforce issued, and marker values planted in the warehouse rows. Only the state store and the
 * destinations (the Salesforce records, the Slack messages) may hold them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { excerpt } from '../activities/excerpt';
import { stopProcess } from '../sandbox/temporal-dev-server';
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

/** The seed accounts get keys, names and MRR no log line or payload could contain by chance. */
const MARKED = [
  { from: 'acme', key: 'zkey-acme-q9x', name: 'Zanzibar-Acme-7f3', mrr: '731942.17' },
  { from: 'globex', key: 'zkey-globex-q9x', name: 'Zanzibar-Globex-7f3', mrr: '648213.59' },
  { from: 'initech', key: 'zkey-initech-q9x', name: 'Zanzibar-Initech-7f3', mrr: '519374.83' },
  { from: 'umbrella', key: 'zkey-umbrella-q9x', name: 'Zanzibar-Umbrella-7f3', mrr: '402861.29' },
];
/** A row whose Name is too long for Salesforce, which quotes it back in its error. */
const REJECTED = { key: 'zkey-confidential-q9x', name: `Zanzibar-Confidential-${'k3v'.repeat(40)}`, mrr: '387516.43' };
const ROW_VALUES = [...MARKED, REJECTED].flatMap((row) => [row.name, row.mrr]);
const KEYS = [...MARKED, REJECTED].map((row) => row.key);
const key = (from: string) => MARKED.find((row) => row.from === from)?.key ?? from;

const sfSync = (id: string, extra: string) =>
  salesforceSyncYaml(id, {
    extra: `${extra}\n    alert: { destination: slack, channel: '#ebb-alerts', failedRecordsThreshold: 1 }`,
  });

let engine: EngineHarness;
let worker: ChildProcess | undefined;
let tokenProxy: http.Server | undefined;
const issuedTokens: string[] = [];

/**
 * Forwards to the Salesforce sandbox and keeps every access token its OAuth endpoint issues; the
 * token response's instance_url sends the other requests straight to the sandbox.
 */
async function startTokenProxy(target: string): Promise<string> {
  const upstream = new URL(target);
  tokenProxy = http.createServer((req, res) => {
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          const token = /"access_token"\s*:\s*"([^"]+)"/.exec(body.toString())?.[1];
          if (token) issuedTokens.push(token);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(body);
        });
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => tokenProxy?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(tokenProxy.address() as AddressInfo).port}`;
}

function workerEnv(loginUrl: string): NodeJS.ProcessEnv {
  // INFO, one level chattier than the default, so the scan covers what an operator would turn on.
  return { ...process.env, ...engine.env, SF_LOGIN_URL: loginUrl, EBB_LOG_LEVEL: 'INFO' };
}

interface CliOutput {
  args: string[];
  code: number;
  text: string;
}

async function ebb(...args: string[]): Promise<CliOutput> {
  const argv = [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, ...args];
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, {
      env: { ...process.env, ...engine.env },
    });
    return { args, code: 0, text: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { args, code: e.code ?? -1, text: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * Every string in a history, with each payload's bytes decoded to text: JSON of the history object
 * alone would show `data` as base64 or as a list of byte values, which no search for a value finds.
 */
function historyTexts(node: unknown, out: string[]): void {
  if (node instanceof Uint8Array) {
    out.push(Buffer.from(node).toString('utf8'));
  } else if (typeof node === 'string') {
    out.push(node);
    if (/^[A-Za-z0-9+/]{8,}={0,2}$/.test(node)) out.push(Buffer.from(node, 'base64').toString('utf8'));
  } else if (Array.isArray(node)) {
    for (const item of node) historyTexts(item, out);
  } else if (node && typeof node === 'object') {
    for (const value of Object.values(node)) historyTexts(value, out);
  }
}

/** The histories of every execution (continued-as-new ones too) of a sync's controller and runs. */
async function syncHistories(syncId: string): Promise<string[]> {
  const runs = await engine.store.listRuns(syncId);
  const ids = [`sync/${syncId}`, ...runs.map((r) => `sync/${syncId}/run/${r.run_number}`)];
  const texts: string[] = [];
  for (const id of ids) {
    const runIds: Array<string | undefined> = [];
    for await (const execution of engine.client.workflow.list({ query: `WorkflowId = '${id}'` }))
      runIds.push(execution.runId);
    if (runIds.length === 0) runIds.push(undefined);
    for (const runId of runIds) {
      const history = await engine.client.workflow.getHandle(id, runId).fetchHistory();
      const parts = [JSON.stringify(history)];
      historyTexts(history, parts);
      texts.push(parts.join('\n'));
    }
  }
  return texts;
}

/**
 * The error texts the state store keeps (a run's error and its detail, each record's message), which
 * may quote a value by design: `ebb runs`, `ebb status --json` and `ebb run --wait` show them from
 * the store, whole or as an excerpt. They are cut out of CLI output before it is searched.
 */
async function storedErrorTexts(syncIds: readonly string[]): Promise<string[]> {
  const texts: string[] = [];
  for (const syncId of syncIds) {
    for (const run of await engine.store.listRuns(syncId, 1000)) {
      texts.push(run.error_message ?? '', run.error_detail ?? '');
      texts.push([run.error_message, run.error_detail].filter(Boolean).join(' — '));
    }
    for (const result of await engine.store.listRecordResults(syncId, { failedOnly: true, limit: 1000 }))
      texts.push(result.errorMessage ?? '', `${result.errorCode}: ${result.errorMessage}`);
  }
  const variants = texts
    .filter(Boolean)
    .flatMap((t) => [t, excerpt(t), excerpt(t, 1000)])
    .flatMap((t) => [t, JSON.stringify(t).slice(1, -1)]);
  // Longest first, so a whole text is cut before an excerpt of it could leave its tail behind.
  return [...new Set(variants)].sort((a, b) => b.length - a.length);
}

function withoutStoredErrors(text: string, stored: readonly string[]): string {
  return stored.reduce((rest, t) => rest.split(t).join('[stored error text]'), text);
}

function found(text: string, needles: readonly string[]): string[] {
  return needles.filter((needle) => text.includes(needle));
}

beforeEach(async () => {
  engine = await startEngine({
    generated: 4,
    workers: false,
    extraModelsYaml: `
  bad_casts:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, cast(name as integer) as name_number from account_health where account_id like 'zkey-%'`,
    syncsYaml: ({ suffix }) =>
      sfSync(`sf-ok-${suffix}`, `\n    filter: "account_id in ('${key('acme')}', '${key('initech')}')"`) +
      sfSync(`sf-reject-${suffix}`, `\n    filter: "account_id in ('${key('globex')}', '${REJECTED.key}')"`) +
      sfSync(
        `sf-mirror-${suffix}`,
        `\n    mode: mirror\n    filter: "account_id not like 'zkey-%' or account_id = '${key('umbrella')}'"`,
      ) +
      `
  sf-cast-${suffix}:
    model: bad_casts
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name_number: Name }
    alert: { destination: slack, channel: '#ebb-alerts' }
  slack-${suffix}:
    model: account_health
    destination: slack
    channel: '#cs-alerts'
    filter: "account_id like 'zkey-%'"
    template: '*{{ name }}* is at risk (health {{ health }}, MRR \${{ mrr | number }})'
    alert: { destination: slack, channel: '#ebb-alerts' }
`,
  });
  const updates = MARKED.map(
    (row) =>
      `update account_health set account_id = '${row.key}', name = '${row.name}', mrr = ${row.mrr} where account_id = '${row.from}';`,
  );
  await execDuckDb(
    engine.warehouse,
    `${updates.join('\n')}
    insert into account_health values ('${REJECTED.key}', '${REJECTED.name}', 12, 'at-risk', ${REJECTED.mrr}, timestamp '2025-01-01 00:00:00');`,
  );
});

afterEach(async () => {
  if (worker) await stopProcess(worker);
  worker = undefined;
  await new Promise((resolve) => tokenProxy?.close(resolve) ?? resolve(undefined));
  tokenProxy = undefined;
  issuedTokens.length = 0;
  await engine.stop();
});

test('no secret, access token, row value or key appears in workflow histories, worker logs or CLI output, whatever the sync type or failure', async () => {
  const started = Date.now();
  const s = engine.suffix;
  const syncs = [`sf-ok-${s}`, `sf-reject-${s}`, `sf-mirror-${s}`, `sf-cast-${s}`, `slack-${s}`];
  const loginUrl = await startTokenProxy(engine.sf.url);
  const workerLog = path.join(engine.dir, 'worker.log');
  const log = fs.openSync(workerLog, 'a');
  worker = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'bin', 'ebb.js'), '--config', engine.configFile, 'worker'],
    {
      env: workerEnv(loginUrl),
      stdio: ['ignore', log, log],
    },
  );
  fs.closeSync(log);

  const cli: CliOutput[] = [];
  expect(await engine.run(`sf-ok-${s}`)).toMatchObject({ status: 'succeeded', succeeded: 2, failed: 0 });
  cli.push(await ebb('run', `sf-reject-${s}`, '--wait'));
  expect(cli.at(-1)).toMatchObject({ code: 2 });
  // The replay re-sends only the rejected record, which fails again: every record failed, so the run did.
  cli.push(await ebb('replay', `sf-reject-${s}`, '--wait'));
  expect(cli.at(-1)).toMatchObject({ code: 1 });
  cli.push(await ebb('run', `sf-cast-${s}`, '--wait'));
  expect(cli.at(-1)).toMatchObject({ code: 1 });
  expect(await engine.run(`slack-${s}`)).toMatchObject({ status: 'succeeded', failed: 0 });
  expect(await engine.run(`sf-mirror-${s}`)).toMatchObject({ status: 'succeeded', succeeded: 5 });
  await execDuckDb(engine.warehouse, `delete from account_health where account_id = '${key('umbrella')}'`);
  cli.push(await ebb('run', `sf-mirror-${s}`, '--wait', '--json'));
  expect(cli.at(-1)).toMatchObject({ code: 0 });
  expect(engine.sf.records('Account').map((a) => a.External_Id__c)).not.toContain(key('umbrella'));
  for (const sync of syncs) {
    cli.push(await ebb('runs', sync), await ebb('runs', sync, '--json'));
  }
  cli.push(await ebb('status'), await ebb('status', '--json'));
  const records: CliOutput[] = [];
  for (const sync of syncs) records.push(await ebb('records', sync), await ebb('records', sync, '--json'));

  // The values did reach where they belong, so the scan below is not looking for what never existed.
  expect(engine.sf.records('Account').map((a) => a.Name)).toContain(MARKED[0]?.name);
  expect(engine.slack.messages('C0CSALERTS').map((m) => m.text)).toContain(
    `*${MARKED[0]?.name}* is at risk (health 38, MRR $731,942.17)`,
  );
  expect(engine.slack.messages('C0EBBALERT').length).toBeGreaterThanOrEqual(3);
  // ebb refuses the too-long name itself (checked against describe), before any request: the failed
  // record is listed with its key and code, and its message does not quote the value.
  expect(records.map((r) => r.text).join('\n')).toMatch(new RegExp(`${REJECTED.key}[^\n]*STRING_TOO_LONG`));
  expect(issuedTokens.length).toBeGreaterThan(0);

  await stopProcess(worker);
  worker = undefined;
  const logText = fs.readFileSync(workerLog, 'utf8');
  expect(logText).toContain('worker on ');
  const histories = (await Promise.all(syncs.map(syncHistories))).flat();
  expect(histories.join('\n')).toContain('planRun');

  const secrets = [engine.env.SF_CLIENT_SECRET ?? '', engine.env.SLACK_BOT_TOKEN ?? '', ...issuedTokens];
  expect(secrets.every(Boolean)).toBe(true);
  const stored = await storedErrorTexts(syncs);
  const everywhere = [
    ...histories.map((text, i) => ({ where: `history ${i}`, text })),
    { where: 'worker log', text: logText },
    ...cli.map((o) => ({ where: `ebb ${o.args.join(' ')}`, text: withoutStoredErrors(o.text, stored) })),
  ];
  const leaks = [
    ...everywhere.map(({ where, text }) => ({
      where,
      secrets: found(text, secrets).length,
      values: found(text, ROW_VALUES),
    })),
    // `ebb records` shows the state store's error messages, which may quote values, but never a secret.
    ...records.map((o) => ({ where: `ebb ${o.args.join(' ')}`, secrets: found(o.text, secrets).length, values: [] })),
  ].filter((l) => l.secrets > 0 || l.values.length > 0);
  // Keys are identifiers the state store and the CLI's record listings show, but never a history or a log.
  const keyLeaks = [
    ...histories.map((text, i) => ({ where: `history ${i}`, text })),
    { where: 'worker log', text: logText },
  ]
    .map(({ where, text }) => ({ where, keys: found(text, KEYS) }))
    .filter((l) => l.keys.length > 0);

  const bytes = (texts: string[]) => texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  process.stdout.write(
    `[secrets-and-values] scanned ${histories.length} histories (${bytes(histories)} bytes), ` +
      `${bytes([logText])} bytes of worker logs, ${cli.length + records.length} CLI outputs ` +
      `for ${secrets.length} secrets, ${ROW_VALUES.length} row values and ${KEYS.length} keys: ` +
      `${leaks.reduce((n, l) => n + l.secrets, 0)} secrets, ${leaks.reduce((n, l) => n + l.values.length, 0)} row values, ` +
      `${keyLeaks.reduce((n, l) => n + l.keys.length, 0)} keys found in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  expect(leaks).toEqual([]);
  expect(keyLeaks).toEqual([]);
}, 300_000);
