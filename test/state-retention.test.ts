/**
 * A bounded state store: per-record results follow `state.retention` after every run and with
 * `ebb prune`, and (SQLite) the space of staged rows and pruned results goes back to the disk.
 * Runs go through the state store's own API and the finish activity, with no Temporal server:
 * what is tested is what the store keeps, not how a run is orchestrated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { finishRun } from '../activities/finish-run';
import type { EngineContext } from '../activities/engine-context';
import { main } from '../cli/main';
import { loadConfigOrThrow } from '../config/load-config';
import { reclaimSpace, storeSize } from '../state/retention';
import { openStateStore, type StagedRecord, type StateStore } from '../state/state-store';
import type { RunKind } from '../state/tables';
import { STATE_BACKENDS, type OpenedStateBackend } from './harness/state-backends';

const SYNC = 'accounts-to-slack';

function writeConfig(dir: string, stateYaml: string, retention = ''): string {
  const file = path.join(dir, 'ebb.yaml');
  fs.writeFileSync(
    file,
    `${stateYaml.replace(/ }$/, retention ? `, retention: ${retention} }` : ' }')}
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  slack: { type: slack, token: xoxb-not-used }
models:
  accounts: { source: warehouse, primaryKey: account_id, sql: 'select account_id, name from accounts' }
syncs:
  ${SYNC}: { model: accounts, destination: slack, channel: '#accounts', template: '{{ name }}' }
`,
  );
  return file;
}

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `acct-${String(i).padStart(6, '0')}`);

/**
 * One run of the sync, start to finish: staged in batches, every record delivered (those in
 * `failed` refused), then the finish activity, which applies the retention.
 */
async function run(
  ctx: EngineContext,
  options: {
    keys: string[];
    failed?: string[];
    kind?: RunKind;
    payloadBytes?: number;
    /** 'store' closes the run as a version of ebb without retention did: nothing is pruned. */
    finish?: 'activity' | 'store';
    beforeFinish?: () => Promise<void>;
  },
): Promise<number> {
  const { store } = ctx;
  const runNumber = await store.allocateRun({ syncId: SYNC, kind: options.kind ?? 'full', requestId: randomUUID() });
  const filler = 'x'.repeat(options.payloadBytes ?? 20);
  const batches: StagedRecord[][] = [];
  for (let i = 0; i < options.keys.length; i += 500)
    batches.push(
      options.keys.slice(i, i + 500).map((key) => ({
        key,
        operation: 'upsert',
        hash: `hash-${key}`,
        payload: { name: key, filler },
        destinationId: null,
        cursorValue: null,
      })),
    );
  for (const [b, records] of batches.entries()) await store.stageBatch(SYNC, runNumber, b + 1, records);
  const n = options.keys.length;
  await store.setRunPlanned(SYNC, runNumber, {
    ...{ added: n, changed: 0, removed: 0, unchanged: 0, invalid: 0 },
    ...{ batches: batches.length, cursorFrom: null, cursorTo: null },
  });
  const failed = new Set(options.failed ?? []);
  for (const [b, records] of batches.entries()) {
    await store.recordBatchOutcomes({
      syncId: SYNC,
      runNumber,
      batchNumber: b + 1,
      attempt: 1,
      results: records.map((r) => ({
        key: r.key,
        operation: 'upsert',
        status: failed.has(r.key) ? 'failed' : 'succeeded',
        destinationId: failed.has(r.key) ? null : `ts-${r.key}`,
        errorCode: failed.has(r.key) ? 'channel_not_found' : null,
        errorMessage: failed.has(r.key) ? 'channel_not_found' : null,
        hash: r.hash,
      })),
    });
  }
  await options.beforeFinish?.();
  if (options.finish === 'store') await store.finishRun(SYNC, runNumber, 'succeeded', null);
  else {
    await finishRun(ctx, { syncId: SYNC, runNumber, status: 'succeeded', error: null });
    await ctx.store.upkeepSettled();
  }
  return runNumber;
}

async function storedResults(store: StateStore): Promise<Record<number, { succeeded: number; failed: number }>> {
  const rows = await store.db
    .selectFrom('record_results')
    .select(['run_number', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('sync_id', '=', SYNC)
    .groupBy(['run_number', 'status'])
    .execute();
  const out: Record<number, { succeeded: number; failed: number }> = {};
  for (const r of rows) {
    out[r.run_number] ??= { succeeded: 0, failed: 0 };
    out[r.run_number]![r.status] = Number(r.n);
  }
  return out;
}

/** Runs the `ebb` CLI in this process, as a user would type it; returns its exit code and output. */
async function ebb(configFile: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  try {
    const code = await main(['node', 'ebb', '--config', configFile, ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe.each(STATE_BACKENDS)('retention on the $name state store', (backend) => {
  let opened: OpenedStateBackend;
  let ctx: EngineContext;
  let configFile: string;

  async function useConfig(retention = ''): Promise<void> {
    configFile = writeConfig(opened.dir, opened.stateYaml, retention);
    ctx = {
      config: loadConfigOrThrow(configFile),
      baseDir: opened.dir,
      store: opened.store,
      taskQueue: 't',
      client: null,
    };
  }

  beforeEach(async () => {
    opened = await backend.open();
    await useConfig();
  });
  afterEach(async () => {
    await opened.store.close();
    await opened.drop();
  });

  test('with the default retention, a full resync prunes the accepted results of the runs before it but keeps the latest run and the latest run with failures', async () => {
    const all = keys(1200);
    await run(ctx, { keys: all });
    await run(ctx, { keys: all, failed: all.slice(0, 7) });
    await run(ctx, { keys: all });
    await run(ctx, { keys: all });

    expect(await storedResults(opened.store)).toEqual({
      2: { succeeded: 1193, failed: 7 },
      4: { succeeded: 1200, failed: 0 },
    });
    // Replay of the latest run with failures still finds what to send.
    expect((await opened.store.latestRun(SYNC, { withFailures: true }))?.run_number).toBe(2);
    expect(await opened.store.failedKeysAmong(SYNC, 2, all.slice(0, 10))).toEqual(new Set(all.slice(0, 7)));
    // Run summaries stay.
    expect((await opened.store.listRuns(SYNC)).map((r) => [r.run_number, r.succeeded])).toEqual([
      [4, 1200],
      [3, 1200],
      [2, 1193],
      [1, 1200],
    ]);
  });

  test('small incremental runs keep all their results up to state.retention.runs', async () => {
    await useConfig('{ runs: 4 }');
    const all = keys(100);
    await run(ctx, { keys: all, failed: all.slice(0, 3) });
    await run(ctx, { keys: all.slice(0, 3), kind: 'incremental', failed: all.slice(0, 1) });
    for (let i = 0; i < 4; i++) await run(ctx, { keys: all.slice(10 + i, 11 + i), kind: 'incremental' });

    expect(await storedResults(opened.store)).toEqual({
      2: { succeeded: 2, failed: 1 },
      3: { succeeded: 1, failed: 0 },
      4: { succeeded: 1, failed: 0 },
      5: { succeeded: 1, failed: 0 },
      6: { succeeded: 1, failed: 0 },
    });
  });

  test('a run pushed out by a later full run keeps its failed records while it is within state.retention.runs', async () => {
    await useConfig('{ runs: 4 }');
    const all = keys(100);
    await run(ctx, { keys: all, failed: all.slice(0, 3) });
    await run(ctx, { keys: all, failed: all.slice(0, 2) });
    await run(ctx, { keys: all });
    expect(await storedResults(opened.store)).toEqual({
      1: { succeeded: 0, failed: 3 },
      2: { succeeded: 98, failed: 2 },
      3: { succeeded: 100, failed: 0 },
    });

    await run(ctx, { keys: all.slice(50, 51), kind: 'incremental' });
    await run(ctx, { keys: all.slice(51, 52), kind: 'incremental' });
    expect(await storedResults(opened.store)).toEqual({
      2: { succeeded: 98, failed: 2 },
      4: { succeeded: 1, failed: 0 },
      5: { succeeded: 1, failed: 0 },
    });
  });

  test('runs started longer ago than state.retention.days lose their results at the next prune', async () => {
    await useConfig('{ days: 7 }');
    const all = keys(50);
    await run(ctx, { keys: all.slice(0, 5), kind: 'incremental' });
    await run(ctx, { keys: all.slice(5, 10), kind: 'incremental' });
    await run(ctx, { keys: all.slice(10, 15), kind: 'incremental' });
    const tenDaysAgo = new Date(Date.now() - 10 * 24 * 3600 * 1000).toISOString();
    await opened.store.db.updateTable('runs').set({ started_at: tenDaysAgo }).where('run_number', '<', 3).execute();

    const pruned = await ebb(configFile, 'prune', SYNC, '--json');
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ syncs: [{ syncId: SYNC, runsPruned: 2, resultsDeleted: 10 }] });
    expect(Object.keys(await storedResults(opened.store))).toEqual(['3']);
  });

  test('ebb prune --dry-run reports what it would delete and deletes nothing; ebb prune then deletes exactly that', async () => {
    // Results written by a version of ebb without retention: every run still has its results.
    const all = keys(300);
    for (let i = 0; i < 3; i++) await run(ctx, { keys: all, finish: 'store' });
    const before = await storedResults(opened.store);

    const dry = await ebb(configFile, 'prune', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      retention: { runs: 100, days: 30, resultsPerRecord: 1 },
      syncs: [{ syncId: SYNC, runsPruned: 2, resultsDeleted: 600, dryRun: true }],
    });
    expect(await storedResults(opened.store)).toEqual(before);
    const human = await ebb(configFile, 'prune', '--dry-run');
    expect(human.stdout).toMatch(/accounts-to-slack\s+2\s+600/);
    expect(human.stdout).toContain('dry run: nothing was deleted');

    const real = await ebb(configFile, 'prune', '--json');
    expect(JSON.parse(real.stdout)).toMatchObject({ syncs: [{ runsPruned: 2, resultsDeleted: 600, dryRun: false }] });
    expect(await storedResults(opened.store)).toEqual({ 3: { succeeded: 300, failed: 0 } });
    const again = await ebb(configFile, 'prune', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ syncs: [{ runsPruned: 0, resultsDeleted: 0 }] });
  });

  test('ebb records of a pruned run says its results were pruned by retention and by which setting', async () => {
    await useConfig('{ runs: 2 }');
    const all = keys(40);
    await run(ctx, { keys: all.slice(0, 5), kind: 'incremental' });
    await run(ctx, { keys: all.slice(5, 10), kind: 'incremental' });
    await run(ctx, { keys: all.slice(10, 15), kind: 'incremental' });

    const pruned = await ebb(configFile, 'records', SYNC, '--run', '1');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain(`The per-record results of run 1 of ${SYNC} were pruned by retention`);
    expect(pruned.stdout).toContain('state.retention.runs: 2');
    expect(pruned.stdout).toContain('5 of 5 are gone');
    const json = await ebb(configFile, 'records', SYNC, '--run', '1', '--json');
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(json.stderr).toContain('pruned by retention');

    const kept = await ebb(configFile, 'records', SYNC, '--run', '3');
    expect(kept.stdout).toContain(all[10]);
    expect(kept.stdout).not.toContain('pruned');
  });
});

describe('reclaiming space in the SQLite state store', () => {
  let opened: OpenedStateBackend;
  let ctx: EngineContext;

  beforeEach(async () => {
    opened = await STATE_BACKENDS[0]!.open();
    const configFile = writeConfig(opened.dir, opened.stateYaml);
    ctx = {
      config: loadConfigOrThrow(configFile),
      baseDir: opened.dir,
      store: opened.store,
      taskQueue: 't',
      client: null,
    };
  });
  afterEach(async () => {
    await opened.store.close();
    await opened.drop();
  });

  test('after a big staged run finishes, the WAL is truncated and the free pages go back: the file shrinks', async () => {
    const all = keys(20_000);
    // What the run leaves (results and snapshots) without the space its 40 MB of staged payloads took.
    let staged = 0;
    await run(ctx, {
      keys: all,
      payloadBytes: 2000,
      beforeFinish: async () => {
        const size = await storeSize(opened.store);
        staged = size.bytes + size.walBytes;
      },
    });
    expect(staged).toBeGreaterThan(40 * 1024 * 1024);
    const after = await storeSize(opened.store);
    expect(after).toMatchObject({ walBytes: 0, freeBytes: 0, incrementalVacuum: true });
    expect(after.bytes).toBeLessThan(10 * 1024 * 1024);
  });

  test('free pages go back 1,000 at a time: about ten steps for 40 MB, not one step per page', async () => {
    const { store } = opened;
    await sql`create table filler (x text)`.execute(store.db);
    const rows = Array.from({ length: 200 }, () => ({ x: 'x'.repeat(2000) }));
    const filler = store.db as unknown as Kysely<{ filler: { x: string } }>;
    for (let i = 0; i < 100; i++) await filler.insertInto('filler').values(rows).execute();
    await sql`delete from filler`.execute(store.db);
    const free = (await storeSize(store)).freeBytes / 4096;
    expect(free).toBeGreaterThan(9000);

    let steps = 0;
    await reclaimSpace(store, { onProgress: () => steps++ });

    expect((await storeSize(store)).freeBytes).toBe(0);
    expect(steps).toBe(Math.ceil(free / 1000));
  });

  test('a store made without auto_vacuum keeps its free pages until ebb prune --vacuum, which says how long it may take', async () => {
    const file = path.join(opened.dir, 'old.sqlite');
    // What an older ebb made: tables created before anyone asked for auto_vacuum.
    const old = new Database(file);
    old.exec('create table made_before_auto_vacuum (x integer)');
    old.close();
    const store = await openStateStore({ path: file });
    const configFile = writeConfig(opened.dir, 'state: { path: ./old.sqlite }');
    try {
      await run({ ...ctx, store }, { keys: keys(5000), payloadBytes: 2000 });
      const before = await storeSize(store);
      expect(before.incrementalVacuum).toBe(false);
      expect(before.freeBytes).toBeGreaterThan(5 * 1024 * 1024);

      const hinted = await ebb(configFile, 'prune');
      expect(hinted.stdout).toContain('`ebb prune --vacuum` rewrites it once');
      const vacuumed = await ebb(configFile, 'prune', '--vacuum');
      expect(vacuumed.code).toBe(0);
      expect(vacuumed.stdout).toContain('about as long as copying the file');
      const after = await storeSize(store);
      expect(after).toMatchObject({ incrementalVacuum: true, freeBytes: 0, walBytes: 0 });
      expect(after.bytes).toBeLessThan(before.bytes / 3);
    } finally {
      await store.close();
    }
  });
});
