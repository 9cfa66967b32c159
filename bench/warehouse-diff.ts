/**
 * `npm run bench:warehouse-diff [-- --rows N]`: a no-op re-run of a PostgreSQL model (1,000,000 rows
 * by default), with and without the warehouse-side diff. Reports bytes read out of PostgreSQL
 * (counted by a TCP proxy between ebb and the server), wall time and peak RSS of the plan, which is
 * the whole of a no-op run's work. The server comes from EBB_BENCH_POSTGRES_URL or
 * EBB_TEST_POSTGRES_URL (a role that may create databases).
 *
 * Each variant is set up by a first run whose records the destination is taken to have accepted
 * (snapshots written straight into the state store: delivering a million records is not what is
 * measured here), then the measured plan runs in a fresh child process so its peak RSS is its own.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { sql } from 'kysely';
import { Client as PgClient } from 'pg';
import { DestinationPool, type EngineContext } from '../activities/engine-context';
import { finishRun } from '../activities/finish-run';
import { planRun } from '../activities/plan-run';
import { loadConfigOrThrow } from '../config/load-config';
import { startSalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { openStateStore } from '../state/state-store';

const SYNC = 'accounts-to-sf';
const MB = 1024 * 1024;

interface Measured {
  variant: 'plain' | 'warehouse-diff';
  ms: number;
  rowsRead: number;
  unchanged: number;
  bytesFromWarehouse: number;
  peakRssMb: number;
}

/** A TCP proxy that counts the bytes the server sends to ebb. */
async function countingProxy(target: { host: string; port: number }) {
  let bytes = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    upstream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => bytes,
    reset: () => (bytes = 0),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function writeConfig(dir: string, url: string, warehouseDiff: boolean): string {
  const file = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(
    file,
    `state: { path: ./state.sqlite }
sources:
  warehouse: { type: postgres, url: '${url}'${warehouseDiff ? ', warehouseDiff: { schema: ebb_bench }' : ''} }
destinations:
  salesforce:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth: { clientId: "\${SF_CLIENT_ID}", clientSecret: "\${SF_CLIENT_SECRET}" }
models:
  account_health:
    source: warehouse
    primaryKey: account_id
    sql: select account_id, name, health, segment, mrr from account_health
syncs:
  ${SYNC}:
    model: account_health
    destination: salesforce
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c, segment: Segment__c, mrr: MRR__c }
`,
  );
  return file;
}

async function engineFor(configFile: string, env: Record<string, string>) {
  const config = loadConfigOrThrow(configFile, { env: { ...process.env, ...env } });
  const dir = path.dirname(configFile);
  const store = await openStateStore({ path: path.join(dir, 'state.sqlite') });
  const ctx: EngineContext = { config, baseDir: dir, store, taskQueue: 'bench', client: null };
  return { ctx, pool: new DestinationPool(ctx), store };
}

/** The first run, as if Salesforce had accepted every record: staged records become snapshots. */
async function firstRun(configFile: string, env: Record<string, string>): Promise<void> {
  const { ctx, pool, store } = await engineFor(configFile, env);
  try {
    const runNumber = await store.allocateRun({ syncId: SYNC, kind: 'full', requestId: randomUUID() });
    await planRun(ctx, pool, { syncId: SYNC, runNumber, kind: 'full', replayOfRun: null });
    const at = new Date().toISOString();
    await sql`insert into snapshots (sync_id, key, hash, destination_id, updated_at)
      select sync_id, key, hash, 'bench-' || key, ${at} from staged_records where sync_id = ${SYNC} and run_number = ${runNumber}`.execute(
      store.db,
    );
    await sql`insert into record_results (sync_id, run_number, key, operation, status, destination_id, error_code, error_message, attempt, at)
      select sync_id, run_number, key, operation, 'succeeded', 'bench-' || key, null, null, 1, ${at}
      from staged_records where sync_id = ${SYNC} and run_number = ${runNumber}`.execute(store.db);
    await finishRun(ctx, { syncId: SYNC, runNumber, status: 'succeeded', error: null });
  } finally {
    await pool.closeAll();
    await store.close();
  }
}

/** Child process: one incremental plan (a no-op run's whole work), timed. */
async function measuredPlan(configFile: string, env: Record<string, string>): Promise<void> {
  const { ctx, pool, store } = await engineFor(configFile, env);
  try {
    const runNumber = await store.allocateRun({ syncId: SYNC, kind: 'incremental', requestId: randomUUID() });
    const started = performance.now();
    const plan = await planRun(ctx, pool, { syncId: SYNC, runNumber, kind: 'incremental', replayOfRun: null });
    const ms = performance.now() - started;
    await finishRun(ctx, { syncId: SYNC, runNumber, status: 'succeeded', error: null });
    process.stdout.write(
      JSON.stringify({
        ms,
        rowsRead: plan.rowsRead ?? 0,
        unchanged: plan.unchanged,
        changed: plan.changed + plan.added,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  } finally {
    await pool.closeAll();
    await store.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rows: { type: 'string', default: process.env.EBB_BENCH_ROWS ?? '1000000' },
      'measure-config': { type: 'string' },
    },
  });
  if (values['measure-config']) {
    return measuredPlan(
      values['measure-config'],
      JSON.parse(process.env.EBB_BENCH_ENV ?? '{}') as Record<string, string>,
    );
  }

  const rows = Number(values.rows);
  if (!Number.isInteger(rows) || rows < 1)
    throw new Error(`--rows must be a positive whole number, got ${values.rows}`);
  const adminUrl = process.env.EBB_BENCH_POSTGRES_URL ?? process.env.EBB_TEST_POSTGRES_URL;
  if (!adminUrl)
    throw new Error(
      'set EBB_BENCH_POSTGRES_URL (or EBB_TEST_POSTGRES_URL) to a PostgreSQL role that may create databases',
    );
  const say = (text: string) => process.stderr.write(`${text}\n`);

  const database = `ebb_bench_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const direct = new URL(adminUrl);
  direct.pathname = `/${database}`;
  const proxy = await countingProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(direct.toString());
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const sf = await startSalesforceSandbox();
  const env = { SF_LOGIN_URL: sf.url, SF_CLIENT_ID: sf.clientId, SF_CLIENT_SECRET: sf.clientSecret };
  const results: Measured[] = [];
  const dirs: string[] = [];
  try {
    say(`building a ${rows.toLocaleString('en-US')}-row model in PostgreSQL ...`);
    const client = new PgClient({ connectionString: direct.toString() });
    await client.connect();
    await client.query(`create table account_health as
      select 'acct-' || lpad(i::text, 7, '0') as account_id, 'Account ' || i as name, (i % 100)::int as health,
             (array['at-risk', 'neutral', 'healthy'])[1 + i % 3] as segment, (100 + i % 9000)::numeric(12, 2) as mrr
      from generate_series(1, ${rows}) as i`);
    await client.query('analyze account_health');
    await client.end();

    for (const variant of ['plain', 'warehouse-diff'] as const) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ebb-bench-${variant}-`));
      dirs.push(dir);
      const configFile = writeConfig(dir, viaProxy.toString(), variant === 'warehouse-diff');
      say(`${variant}: first run (every row, taken as accepted) ...`);
      const setupStarted = performance.now();
      await firstRun(configFile, env);
      say(
        `${variant}: first run took ${((performance.now() - setupStarted) / 1000).toFixed(1)} s; measuring a no-op re-run ...`,
      );
      proxy.reset();
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [...process.execArgv, __filename, '--measure-config', configFile],
        { env: { ...process.env, EBB_BENCH_ENV: JSON.stringify(env) }, maxBuffer: 16 * MB },
      );
      const child = JSON.parse(stdout) as {
        ms: number;
        rowsRead: number;
        unchanged: number;
        changed: number;
        peakRssMb: number;
      };
      if (child.changed !== 0 || child.unchanged !== rows) {
        throw new Error(
          `${variant}: a no-op re-run found ${child.changed} changes and ${child.unchanged} unchanged rows`,
        );
      }
      results.push({
        variant,
        ms: child.ms,
        rowsRead: child.rowsRead,
        unchanged: child.unchanged,
        bytesFromWarehouse: proxy.bytes(),
        peakRssMb: child.peakRssMb,
      });
    }
  } finally {
    await sf.close();
    await proxy.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    const dropper = new PgClient({ connectionString: adminUrl });
    await dropper.connect();
    await dropper.query(`drop database if exists ${database} with (force)`);
    await dropper.end();
  }

  const [plain, diff] = results as [Measured, Measured];
  const row = (m: Measured) =>
    `${m.variant.padEnd(16)} ${(m.ms / 1000).toFixed(1).padStart(8)} s ${m.rowsRead.toLocaleString('en-US').padStart(10)} ` +
    `${(m.bytesFromWarehouse / 1024).toFixed(1).padStart(12)} KB ${m.peakRssMb.toFixed(0).padStart(8)} MB`;
  process.stdout.write(
    `\nno-op re-run of a ${rows.toLocaleString('en-US')}-row PostgreSQL model (plan only: nothing is sent)\n` +
      `${'variant'.padEnd(16)} ${'wall'.padStart(10)} ${'rows read'.padStart(10)} ${'from warehouse'.padStart(15)} ${'peak RSS'.padStart(11)}\n` +
      `${row(plain)}\n${row(diff)}\n` +
      `warehouse-diff / plain: ${(diff.ms / plain.ms).toFixed(2)}x the time, ` +
      `${(diff.bytesFromWarehouse / plain.bytesFromWarehouse).toFixed(4)}x the bytes, ` +
      `${(diff.peakRssMb / plain.peakRssMb).toFixed(2)}x the peak RSS\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
